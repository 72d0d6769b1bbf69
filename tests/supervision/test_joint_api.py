"""Joint sessions and revisits over HTTP: the documented shapes, a unit's own view, the
minutes as DOCX, and the error shape for bad input and for roles that may not."""

from __future__ import annotations

import io

from docx import Document

from duban.cases.workflow import CaseStatus
from duban.supervision.revisits import create_due_revisits
from tests.fakes import local
from tests.http import API, Api, assert_error


def _session(api: Api) -> dict[str, object]:
    case = api.given("dispatched", address="人民路88号门前")
    body = {
        "title": "关于人民路占道经营问题的联席会议",
        "held_at": "2026-11-23T10:00:00",
        "place": "三楼会议室",
        "units": ["SZGC", "HWC"],
        "case_ids": [case["id"]],
        "minutes": "会议听取了情况汇报。\n会议议定如下。",
        "decisions": [
            {"text": "市政工程处牵头清理", "unit": "SZGC", "due_work_days": 3},
            {"text": "环卫处清运", "unit": "HWC", "due_on": "2026-11-30"},
        ],
    }
    response = api.client.post(
        f"{API}/joint-sessions", json=body, headers=api.headers("supervisor")
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_a_session_is_recorded_answered_and_reviewed_over_http(api: Api) -> None:
    made = _session(api)
    assert made["held_at"] == "2026-11-23T10:00:00+08:00"
    decisions = made["decisions"]
    assert [d["unit"]["code"] for d in decisions] == ["SZGC", "HWC"]  # type: ignore[attr-defined]
    assert decisions[0]["due_at"].startswith("2026-11-26T09:00:00+08:00")  # type: ignore[index]
    assert [e["action"] for e in made["events"]] == ["convene", "decide", "decide"]  # type: ignore[attr-defined]
    sid = made["id"]
    mine = api.get(f"/joint-sessions/{sid}", "handler").json()
    assert [d["unit"]["code"] for d in mine["decisions"]] == ["SZGC"]
    did = mine["decisions"][0]["id"]
    other = decisions[1]["id"]  # type: ignore[index]
    base = f"{API}/joint-sessions/{sid}/decisions"
    answer = {"measures": "已清理", "done": True}
    refused = api.client.post(f"{base}/{other}/reply", json=answer, headers=api.headers("handler"))
    assert_error(refused, 404)
    replied = api.client.post(f"{base}/{did}/reply", json=answer, headers=api.headers("handler"))
    assert replied.status_code == 200, replied.text
    assert replied.json()["status"] == "answered"
    back = api.client.post(
        f"{base}/{did}/send-back", json={"reason": "未见照片"}, headers=api.headers("supervisor")
    )
    assert back.json()["status"] == "sent_back"
    api.client.post(f"{base}/{did}/reply", json=answer, headers=api.headers("handler"))
    done = api.client.post(f"{base}/{did}/accept", headers=api.headers("supervisor"))
    assert done.json()["status"] == "accepted"
    assert api.get("/joint-sessions", "handler").json()[0]["accepted"] == 1
    added = api.client.post(
        base,
        json={"text": "补充事项", "unit": "HWC", "due_work_days": 2},
        headers=api.headers("supervisor"),
    )
    assert added.status_code == 201, added.text
    docx = api.get(f"/joint-sessions/{sid}/minutes.docx", "leader")
    assert docx.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "会议纪要" in text
    assert "关于人民路占道经营问题的联席会议" in text
    assert "参会单位" in text
    table = Document(io.BytesIO(docx.content)).tables[0]
    assert [c.text for c in table.rows[0].cells][:3] == ["序号", "议定事项", "责任单位"]
    assert len(table.rows) == 4


def test_bad_sessions_are_refused_with_the_error_shape(api: Api) -> None:
    url = f"{API}/joint-sessions"
    body = {"title": "会商", "held_at": "2026-11-23T10:00:00", "units": ["SZGC"]}
    assert_error(api.client.post(url, json=body, headers=api.headers("handler")), 403)
    bad = {**body, "decisions": [{"text": "x", "unit": "HWC", "due_work_days": 2}]}
    assert_error(api.client.post(url, json=bad, headers=api.headers("supervisor")), 422)
    assert_error(
        api.client.post(url, json={**body, "units": []}, headers=api.headers("supervisor")), 422
    )
    assert api.get("/joint-sessions", "leader").json() == []
    assert_error(api.get("/joint-sessions", "collector"), 403)


def test_a_revisit_is_listed_and_recorded_over_http(api: Api) -> None:
    case = api.world.case_in(CaseStatus.CLOSED)
    api.clock.set(local(2026, 12, 1, 9, 0))
    with api.world.session_factory() as own:
        assert create_due_revisits(own, clock=api.clock) == [f"case:{case.code}"]
    listed = api.get("/revisits", "collector").json()
    assert [r["case_id"] for r in listed] == [case.id]
    rid = listed[0]["id"]
    assert listed[0]["due_on"] == "2026-11-30"
    assert listed[0]["assignee"] == "collector"
    assert api.get("/revisits", "collector2").json() == []
    url = f"{API}/revisits/{rid}/result"
    assert_error(
        api.client.post(url, json={"passed": False}, headers=api.headers("collector")), 422
    )
    failed = api.client.post(
        url,
        json={"passed": False, "reason_code": "recurred", "reason": "再次堆放"},
        headers=api.headers("collector"),
    )
    assert failed.status_code == 200, failed.text
    assert failed.json()["state"] == "failed"
    assert [e["action"] for e in failed.json()["events"]] == ["create", "recurrence"]
    assert api.case(case.id)["status"] == "dispatched"
    assert_error(
        api.client.post(url, json={"passed": True}, headers=api.headers("supervisor")), 409
    )
