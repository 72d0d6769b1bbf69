"""Hand-overs through the API: the dispatcher's transfer, the body's signed link (no
account) — accept, done with a photo, refuse — and links that are forged, expired or used."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from duban.handover.policy import shipped_data
from duban.handover.service import load_list
from tests.factories.evidence import jpeg
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import API, Api, assert_error


@pytest.fixture
def handed(api: Api, world: World, session: Session, clock: FixedClock) -> dict[str, Any]:
    """A pavement-parking case handed over to 交警 by the dispatcher; its answer link."""
    load_list(session, shipped_data(), now=clock.now())
    case = api.filed(category_code="E0505", condition_code="E050502", description="人行道停车")
    moved = api.act(case["id"], "transfer", "dispatcher", note="请交警处理", amount=2)
    assert moved["status"] == "transferred"
    response = api.get(f"/cases/{case['id']}/transfers", "dispatcher")
    assert response.status_code == 200, response.text
    (transfer,) = response.json()
    assert transfer["body"]["code"] == "JJDD"
    assert transfer["body"]["phone"]
    assert transfer["state"] == "open"
    assert transfer["link"].startswith("/handover/")
    return {"case": case, "token": transfer["link"].removeprefix("/handover/")}


def _answer(client: TestClient, token: str, **body: Any) -> Any:
    return client.post(f"{API}/handover/link/{token}/answer", json=body)


def test_the_body_accepts_then_reports_done_with_a_photo(
    api: Api, client: TestClient, handed: dict[str, Any]
) -> None:
    token, case_id = handed["token"], handed["case"]["id"]
    seen = client.get(f"{API}/handover/link/{token}")
    assert seen.status_code == 200, seen.text
    assert seen.json()["description"] == "人行道停车"
    accepted = _answer(client, token, answer="accept", note="已安排警力")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"
    assert accepted.json()["link"] is None
    upload = client.post(
        f"{API}/handover/link/{token}/photos", files={"file": ("x.jpg", jpeg(), "image/jpeg")}
    )
    assert upload.status_code == 201, upload.text
    assert_error(_answer(client, token, answer="done"), 422)  # a photo is required
    done = _answer(client, token, answer="done", note="已拖移", photo_ids=[upload.json()["id"]])
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["answered_via"]) == ("done", "link")
    case = api.case(case_id)
    assert case["status"] == "awaiting_check"
    assert [e["action"] for e in case["events"]][-3:] == [
        "transfer",
        "transfer_accept",
        "transfer_done",
    ]
    # Used: the link now opens a clear refusal, never an error trace.
    assert_error(client.get(f"{API}/handover/link/{token}"), 409, "link_used")
    page = client.get(f"/handover/{token}")
    assert page.status_code == 409
    assert "already answered" in page.text or "已答复" in page.text


def test_the_body_refuses_with_a_reason_and_the_dispatcher_gets_it_back(
    api: Api, client: TestClient, handed: dict[str, Any]
) -> None:
    token, case_id = handed["token"], handed["case"]["id"]
    assert_error(_answer(client, token, answer="refuse"), 422)
    refused = _answer(client, token, answer="refuse", reason="小区内部道路，不属交警")
    assert refused.status_code == 200, refused.text
    case = api.case(case_id)
    assert case["status"] == "returned"
    assert case["events"][-1]["action"] == "transfer_refuse"
    transfers = api.get(f"/cases/{case_id}/transfers", "dispatcher").json()
    assert transfers[0]["answer_note"] == "小区内部道路，不属交警"


def test_the_dispatcher_records_the_answer_on_the_bodys_behalf(
    api: Api, handed: dict[str, Any]
) -> None:
    case_id = handed["case"]["id"]
    api.act(case_id, "transfer_accept", "dispatcher", note="电话确认已受理")
    (transfer,) = api.get(f"/cases/{case_id}/transfers", "dispatcher").json()
    assert (transfer["state"], transfer["answered_via"]) == ("accepted", "dispatcher")
    assert_error(api.act_raw(case_id, "transfer_accept", "handler"), 404)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the MAC
        lambda t: str(int(t.split(".")[0]) + 1) + t[t.index(".") :],  # another hand-over
        lambda t: t.split(".")[0] + ".99999999999." + t.split(".")[2],  # a later expiry
        lambda t: "not-a-link",
    ],
)
def test_a_forged_link_is_refused(client: TestClient, handed: dict[str, Any], mangle: Any) -> None:
    forged = mangle(handed["token"])
    assert_error(client.get(f"{API}/handover/link/{forged}"), 403, "link_forged")
    assert_error(_answer(client, forged, answer="accept"), 403, "link_forged")
    page = client.get(f"/handover/{forged}")
    assert page.status_code == 403
    assert "not valid" in page.text or "链接无效" in page.text


def test_an_expired_link_is_refused(
    client: TestClient, clock: FixedClock, handed: dict[str, Any]
) -> None:
    clock.advance(days=31)
    assert_error(client.get(f"{API}/handover/link/{handed['token']}"), 403, "link_expired")
    assert_error(_answer(client, handed["token"], answer="accept"), 403, "link_expired")
    page = client.get(f"/handover/{handed['token']}")
    assert page.status_code == 403
    assert "expired" in page.text or "已过期" in page.text


def test_only_an_admin_changes_the_responsibility_list(api: Api, client: TestClient) -> None:
    body = {"code": "ZZJ", "name": "质监站", "phone": "0374-1234567"}
    assert_error(
        client.post(f"{API}/handover/bodies", json=body, headers=api.headers("dispatcher")), 403
    )
    made = client.post(f"{API}/handover/bodies", json=body, headers=api.headers("admin"))
    assert made.status_code == 201, made.text
    entry = {"body": "ZZJ", "category_code": "E0505", "legal_basis": "某条例第一条"}
    added = client.post(
        f"{API}/handover/responsibilities", json=entry, headers=api.headers("admin")
    )
    assert added.status_code == 201, added.text
    listed = api.get("/handover/responsibilities", "dispatcher").json()
    assert [e["body"]["code"] for e in listed] == ["ZZJ"]
    assert_error(api.get("/handover/responsibilities", "citizen"), 403)
    bad = {"body": "SZGC", "category_code": "E0505"}
    assert_error(
        client.post(f"{API}/handover/responsibilities", json=bad, headers=api.headers("admin")),
        422,
    )
