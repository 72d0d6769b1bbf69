"""The ledgers' API contracts (README "Ledgers"): template, import (201 / 422 with every bad
cell, nothing written), list, tree, progress, export, and the rectification endpoints."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from duban.ledgers.models import Ledger, LedgerNode
from duban.ledgers.sheet import HEADER
from tests.factories.evidence import jpeg
from tests.factories.ledgers import COUNTS, seed003_rows, seed003_xlsx, write_xlsx
from tests.http import API, Api, assert_error

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _post(
    api: Api, data: bytes, by: str = "supervisor", title: str = "巡察整改台账", **headers: str
) -> Any:
    return api.client.post(
        f"{API}/ledgers",
        files={"file": ("台账.xlsx", data, XLSX)},
        data={"title": title},
        headers={**api.headers(by), **headers},
    )


def _count(engine: Engine, model: type[Any]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def _created(api: Api) -> int:
    response = _post(api, seed003_xlsx())
    assert response.status_code == 201, response.text
    ledger_id: int = response.json()["id"]
    return ledger_id


def test_template_download(api: Api) -> None:
    response = api.get("/ledgers/template.xlsx", "handler")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    rows = list(
        load_workbook(io.BytesIO(response.content), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 2


def test_import_answers_201_with_the_counts(api: Api) -> None:
    response = _post(api, seed003_xlsx())
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "counts"}
    assert body["counts"] == COUNTS


def test_a_bad_file_is_422_with_every_bad_cell_and_nothing_written(
    api: Api, engine: Engine
) -> None:
    rows = [list(r) for r in seed003_rows()[:3]]
    rows[0][8] = "明年底"
    rows[2][9] = "快好了"
    response = _post(api, write_xlsx(rows, merge_parents=False))
    error = assert_error(response, 422, "invalid_ledger_file")
    assert error["detail"] == {
        "rows": [
            {
                "row": 2,
                "column": "完成时限",
                "message": "not a date: write 2026-12-31, 2026/12/31 or 2026年12月31日",
            },
            {
                "row": 4,
                "column": "整改状态",
                "message": "not a status: one of 未开始、推进中、已整改、已整改需长期坚持、逾期",
            },
        ]
    }
    assert _count(engine, Ledger) == 0
    assert _count(engine, LedgerNode) == 0
    chinese = _post(api, b"hello", **{"Accept-Language": "zh-CN"})
    error = assert_error(chinese, 422, "invalid_ledger_file")
    assert error["message"] == "台账文件被拒收，未导入任何内容：文件不是 .xlsx 工作簿"
    assert error["detail"]["rows"] == [{"row": 0, "column": "", "message": "文件不是 .xlsx 工作簿"}]


def test_import_needs_a_title_and_a_file_and_a_manager(api: Api) -> None:
    assert_error(_post(api, seed003_xlsx(), title=""), 422)
    response = api.client.post(
        f"{API}/ledgers", data={"title": "x"}, headers=api.headers("supervisor")
    )
    assert_error(response, 422)
    assert_error(_post(api, seed003_xlsx(), by="handler"), 403)
    assert_error(
        api.client.post(
            f"{API}/ledgers", files={"file": ("a.xlsx", b"x", XLSX)}, data={"title": "x"}
        ),
        401,
    )


def test_list_tree_progress_and_export(api: Api) -> None:
    ledger_id = _created(api)
    listing = api.get("/ledgers", "leader").json()
    assert [(x["id"], x["measures"], x["done"]) for x in listing] == [(ledger_id, 242, 0)]
    # a unit sees only its own part (issue 13 item 8)
    [own] = api.get("/ledgers", "handler").json()
    assert 0 < own["measures"] < 242
    tree = api.get(f"/ledgers/{ledger_id}", "leader").json()
    assert tree["title"] == "巡察整改台账"
    assert [a["kind"] for a in tree["aspects"]] == ["aspect"] * 3
    measure = tree["aspects"][0]["children"][0]["children"][0]["children"][0]["children"][0]
    assert measure["kind"] == "measure"
    assert measure["status"] == "未开始"
    progress = api.get(f"/ledgers/{ledger_id}/progress", "leader").json()
    assert {"items", "by_status", "overdue", "done_percent", "by_unit", "by_leader"} <= set(
        progress
    )
    assert (progress["items"], progress["measures"]) == (79, 242)
    assert progress["by_unit"][0].keys() >= {"unit", "items", "done", "overdue", "done_percent"}
    sheet = api.get(f"/ledgers/{ledger_id}/progress.xlsx", "leader")
    assert sheet.headers["content-type"] == XLSX
    exported = api.get(f"/ledgers/{ledger_id}/export.xlsx", "leader")
    assert exported.status_code == 200
    again = _post(api, exported.content, title="再导入")
    assert again.status_code == 201
    assert again.json()["counts"] == COUNTS
    assert_error(api.get("/ledgers/999", "leader"), 404)
    assert_error(api.get(f"/ledgers/{ledger_id}", "citizen"), 403)


def test_rectification_through_the_api(api: Api, app: FastAPI) -> None:
    ledger_id = _created(api)
    tree = api.get(f"/ledgers/{ledger_id}", "leader").json()
    measures = [
        m
        for a in tree["aspects"]
        for c in a["children"]
        for p in c["children"]
        for i in p["children"]
        for m in i["children"]
    ]
    mine = next(
        m for m in measures if m["lead_unit"] == "市政工程管理处" and m["status"] == "未开始"
    )
    node = mine["id"]
    post = api.client.post
    h = api.headers
    r = post(
        f"{API}/ledgers/measures/{node}/status", json={"status": "推进中"}, headers=h("handler")
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "推进中"
    assert_error(
        post(
            f"{API}/ledgers/measures/{node}/status", json={"status": "已整改"}, headers=h("handler")
        ),
        422,
    )
    assert_error(
        post(
            f"{API}/ledgers/measures/{node}/status",
            json={"status": "推进中"},
            headers=h("handler2"),
        ),
        403,
    )
    r = post(
        f"{API}/ledgers/measures/{node}/notes",
        json={"text": "已完成第一阶段"},
        headers=h("handler"),
    )
    assert r.status_code == 201, r.text
    no_files = post(
        f"{API}/ledgers/measures/{node}/signoffs", data={"note": "x"}, headers=h("handler")
    )
    assert_error(no_files, 422)
    r = post(
        f"{API}/ledgers/measures/{node}/signoffs",
        files=[("files", ("现场.jpg", jpeg(), "image/jpeg"))],
        data={"note": "整改到位"},
        headers=h("handler"),
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["state"] == "pending"
    assert first["evidence"][0]["content_type"] == "image/jpeg"
    got = api.get(first["evidence"][0]["url"].removeprefix(API), "supervisor")
    assert got.content == jpeg()
    assert_error(
        post(
            f"{API}/ledgers/signoffs/{first['id']}/refuse",
            json={"reason": "x"},
            headers=h("handler"),
        ),
        403,
    )
    r = post(
        f"{API}/ledgers/signoffs/{first['id']}/refuse",
        json={"reason": "证据不足"},
        headers=h("supervisor"),
    )
    assert r.json()["state"] == "refused"
    r = post(
        f"{API}/ledgers/measures/{node}/signoffs",
        files=[
            ("files", ("a.pdf", b"%PDF-1.4\n%%EOF", "application/pdf")),
            ("files", ("b.jpg", jpeg(), "image/jpeg")),
        ],
        headers=h("handler"),
    )
    second = r.json()
    r = post(f"{API}/ledgers/signoffs/{second['id']}/approve", headers=h("supervisor"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    queue = api.get(f"/ledgers/{ledger_id}/signoffs", "supervisor", state="pending").json()
    assert queue == []
    every = api.get(f"/ledgers/{ledger_id}/signoffs", "supervisor").json()
    assert [(s["state"], s["reason"]) for s in every] == [("refused", "证据不足"), ("approved", "")]
    progress = api.get(f"/ledgers/{ledger_id}/progress", "leader").json()
    assert progress["by_status"]["已整改"] == 1
    events = api.get(f"/ledgers/{ledger_id}/events", "leader", node_id=node).json()
    assert [e["kind"] for e in events] == [
        "status",
        "note",
        "signoff_requested",
        "signoff_refused",
        "signoff_requested",
        "signoff_approved",
        "status",
    ]
    snap = post(f"{API}/ledgers/{ledger_id}/snapshots", headers=h("supervisor"))
    assert snap.status_code == 201, snap.text
    assert snap.json()["figures"]["by_status"]["已整改"] == 1
    assert_error(post(f"{API}/ledgers/{ledger_id}/snapshots", headers=h("supervisor")), 409)
    assert [s["week"] for s in api.get(f"/ledgers/{ledger_id}/snapshots", "leader").json()] == [
        "2026-W48"
    ]


def test_items_link_to_cases_both_ways(api: Api) -> None:
    ledger_id = _created(api)
    case = api.report()
    tree = api.get(f"/ledgers/{ledger_id}", "leader").json()
    item = tree["aspects"][0]["children"][0]["children"][0]["children"][0]
    r = api.client.put(
        f"{API}/ledgers/items/{item['id']}/case",
        json={"case_id": case["id"]},
        headers=api.headers("supervisor"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["case_id"] == case["id"]
    found = api.get(f"/cases/{case['id']}/ledger-items", "dispatcher").json()
    assert found == [
        {
            "id": item["id"],
            "ledger_id": ledger_id,
            "kind": "item",
            "text": item["text"],
            "status": item["status"],
        }
    ]
    tree = api.get(f"/ledgers/{ledger_id}", "leader").json()
    assert tree["aspects"][0]["children"][0]["children"][0]["children"][0]["case_id"] == case["id"]


def test_the_openapi_document_has_the_contracts(app: FastAPI) -> None:
    document = app.openapi()
    create = document["paths"]["/api/v1/ledgers"]["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert "201" in create["responses"]
    error = document["components"]["schemas"]["ErrorResponse"]["properties"]["error"]
    assert error["properties"]["detail"]["properties"]["rows"]["items"]["required"] == [
        "row",
        "column",
        "message",
    ]
    progress = document["components"]["schemas"]["LedgerProgress"]["properties"]
    assert {"items", "by_status", "overdue", "done_percent", "by_unit", "by_leader"} <= set(
        progress
    )
    template = document["paths"]["/api/v1/ledgers/template.xlsx"]["get"]["responses"]["200"][
        "content"
    ]
    assert XLSX in template


@pytest.mark.parametrize("path", ["/ledgers/1/progress", "/ledgers/1/export.xlsx", "/ledgers"])
def test_citizens_see_no_ledger(api: Api, path: str) -> None:
    _created(api)
    assert_error(api.get(path, "citizen"), 403)
