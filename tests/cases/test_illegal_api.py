"""Actions the workflow table does not allow are refused with errors that explain why."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from duban.cases.models import CaseEvent
from tests.http import Api, assert_error


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CaseEvent)).scalar_one())


@pytest.mark.parametrize(
    ("start", "action", "by", "body"),
    [
        ("reported", "close", "shift_lead", {}),
        ("reported", "dispatch", "dispatcher", {"unit": "SZGC"}),
        ("reported", "file", "shift_lead", {}),
        ("patrol", "verify", "collector", {}),
        ("dispatched", "resume", "dispatcher", {}),
        ("dispatched", "feedback", "handler", {"photo_ids": []}),
        ("handling", "accept", "handler", {}),
        ("handling", "resume", "dispatcher", {}),
        ("awaiting_check", "close", "shift_lead", {}),
        ("checked", "assign", "operator", {"collector": "collector"}),
        ("closed", "supervise", "supervisor", {"note": "x"}),
        ("closed", "merge", "operator", {"duplicate_of": "1"}),
    ],
)
def test_wrong_status_is_409_naming_status_action_and_role(
    api: Api, engine: Engine, start: str, action: str, by: str, body: dict[str, object]
) -> None:
    case = api.given(start)
    before = _events(engine)
    response = api.act_raw(case["id"], action, by, **body)
    error = assert_error(response, 409, "illegal_transition")
    status = case["status"]
    assert f"'{status}'" in error["message"]
    assert f"'{action}'" in error["message"]
    assert f"'{by}'" in error["message"]
    assert error["detail"] == {"status": status, "action": action, "role": by}
    after = api.case(case["id"])
    assert after["status"] == status
    assert after["version"] == case["version"]
    assert _events(engine) == before


@pytest.mark.parametrize(
    ("start", "action", "by", "allowed"),
    [
        ("reported", "verify", "operator", "collector"),
        ("patrol", "file", "collector", "shift_lead"),
        ("verified", "file", "operator", "shift_lead"),
        ("verified", "file", "dispatcher", "shift_lead"),
        ("filed", "dispatch", "shift_lead", "dispatcher"),
        ("filed", "dispatch", "admin", "dispatcher"),
        ("dispatched", "accept", "dispatcher", "handler"),
        ("handling", "approve_extension", "handler", "dispatcher"),
        ("checked", "close", "dispatcher", "shift_lead"),
        ("handling", "feedback", "dispatcher", "handler"),
        ("closed", "reopen", "operator", "shift_lead, supervisor, system"),
    ],
)
def test_wrong_role_is_409_naming_the_role(
    api: Api, engine: Engine, start: str, action: str, by: str, allowed: str
) -> None:
    case = api.given(start)
    before = _events(engine)
    error = assert_error(api.act_raw(case["id"], action, by), 409, "illegal_transition")
    assert f"role '{by}'" in error["message"]
    assert f"only {allowed} may do this" in error["message"]
    assert error["detail"]["role"] == by
    assert error["detail"]["status"] == case["status"]
    assert api.case(case["id"])["status"] == case["status"]
    assert _events(engine) == before


def test_unknown_action_is_404(api: Api) -> None:
    case = api.report()
    response = api.act_raw(case["id"], "explode", "operator")
    error = assert_error(response, 404, "not_found")
    assert "explode" in error["message"]
    assert "verify" in error["message"]  # lists the real ones
    assert api.case(case["id"])["status"] == "reported"


def test_report_is_not_an_action_on_a_case(api: Api) -> None:
    case = api.report()
    error = assert_error(api.act_raw(case["id"], "report", "operator"), 422, "invalid_input")
    assert "POST /api/v1/cases" in error["message"]


def test_action_on_a_missing_case_is_404(api: Api) -> None:
    assert_error(api.act_raw(99999, "verify", "collector"), 404, "not_found")
    assert_error(api.get("/cases/99999", "admin"), 404, "not_found")


def test_unknown_fields_in_an_action_body_are_422(api: Api) -> None:
    case = api.report()
    error = assert_error(
        api.act_raw(case["id"], "assign", "operator", colector="collector"), 422, "invalid_input"
    )
    assert "colector" in error["message"]
    assert api.case(case["id"])["assignee"] is None


def test_action_body_may_be_omitted(api: Api) -> None:
    case = api.given("filed")
    response = api.client.post(
        f"/api/v1/cases/{case['id']}/actions/void", headers=api.headers("shift_lead")
    )
    error = assert_error(response, 422, "invalid_input")
    assert error["detail"]["field"] == "reason"
    case = api.given("dispatched")
    response = api.client.post(
        f"/api/v1/cases/{case['id']}/actions/accept", headers=api.headers("handler")
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "handling"


def test_stale_expected_version_is_409(api: Api) -> None:
    case = api.report()
    api.act(case["id"], "assign", "operator", collector="collector")
    response = api.act_raw(
        case["id"], "reject", "operator", reason="x", expected_version=case["version"]
    )
    assert_error(response, 409, "stale_case")
    assert api.case(case["id"])["status"] == "reported"
    current = api.case(case["id"])["version"]
    done = api.act(case["id"], "reject", "operator", reason="x", expected_version=current)
    assert done["status"] == "rejected"
