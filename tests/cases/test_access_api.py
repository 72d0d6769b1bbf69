"""Forbidden paths: other units' cases, other citizens' reports, other collectors' tasks.

A case the caller may not see is answered 404 with nothing of the case in the body; a
case the caller sees but may not act on is answered 403 or 409, never success.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http import Api, assert_error

PHONE = "13800138000"


def assert_leaks_nothing(response: httpx.Response, case: dict[str, Any]) -> None:
    text = response.text
    assert case["code"] not in text
    assert case["description"] not in text
    assert "lat" not in response.json()["error"]
    assert PHONE not in text


@pytest.fixture
def szgc_case(api: Api) -> dict[str, Any]:
    """A case of unit SZGC, in handling, reported with a contact phone."""
    return api.given(
        "handling",
        description="井盖缺失，路人险些跌落",
        reporter_name="张先生",
        reporter_phone=PHONE,
    )


def test_handler_of_another_unit_cannot_read_a_case_by_id(
    api: Api, szgc_case: dict[str, Any]
) -> None:
    response = api.get(f"/cases/{szgc_case['id']}", "handler2")
    error = assert_error(response, 404, "not_found")
    assert_leaks_nothing(response, szgc_case)
    # The same answer as for a case that does not exist at all.
    missing = api.get("/cases/99999", "handler2").json()["error"]
    assert error["code"] == missing["code"]
    assert error["message"].replace(str(szgc_case["id"]), "N") == missing["message"].replace(
        "99999", "N"
    )


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("feedback", {"photo_ids": []}),
        ("return", {"reason": "x"}),
        ("request_extension", {"reason": "x", "amount": 2}),
        ("request_park", {"reason": "x"}),
        ("accept", {}),
    ],
)
def test_handler_of_another_unit_cannot_act_on_a_case(
    api: Api, szgc_case: dict[str, Any], action: str, body: dict[str, Any]
) -> None:
    response = api.act_raw(szgc_case["id"], action, "handler2", **body)
    assert_error(response, 404, "not_found")
    assert_leaks_nothing(response, szgc_case)
    after = api.case(szgc_case["id"])
    assert after["status"] == "handling"
    assert after["version"] == szgc_case["version"]
    assert after["pending_park_reason"] is None
    assert after["pending_extension_until"] is None


def test_helper_unit_sees_the_case_but_only_the_lead_unit_acts(api: Api) -> None:
    case = api.filed()
    api.act(case["id"], "dispatch", "dispatcher", unit="SZGC", helper_units=["HWC"])
    seen = api.case(case["id"], "handler2")
    assert seen["unit"] == "SZGC"
    assert seen["helper_units"] == ["HWC"]
    error = assert_error(api.act_raw(case["id"], "accept", "handler2"), 403, "forbidden")
    assert "another unit" in error["message"]
    assert api.case(case["id"])["status"] == "dispatched"
    assert api.act(case["id"], "accept", "handler")["status"] == "handling"


def test_handler_lists_only_its_units_cases(api: Api) -> None:
    mine = api.dispatched(unit="SZGC")
    theirs = api.dispatched(unit="HWC")
    api.report()  # not dispatched: no unit sees it
    page = api.get("/cases", "handler").json()
    assert [c["id"] for c in page["items"]] == [mine["id"]]
    assert page["total"] == 1
    page2 = api.get("/cases", "handler2").json()
    assert [c["id"] for c in page2["items"]] == [theirs["id"]]
    # Asking for the other unit by filter does not widen the view.
    assert api.get("/cases", "handler", unit="HWC").json()["total"] == 0


def test_citizen_sees_only_own_reports(api: Api) -> None:
    own = api.report("citizen", source="citizen", description="我的随手拍")
    other = api.report("citizen2", source="citizen", description="别人的随手拍")
    api.report("operator")
    page = api.get("/cases", "citizen").json()
    assert [c["id"] for c in page["items"]] == [own["id"]]
    assert page["total"] == 1
    response = api.get(f"/cases/{other['id']}", "citizen")
    assert_error(response, 404, "not_found")
    assert "别人的随手拍" not in response.text
    assert api.case(own["id"], "citizen")["description"] == "我的随手拍"


def test_citizen_follows_own_report_to_the_end(api: Api) -> None:
    case = api.report("citizen", source="citizen")
    api.act(case["id"], "assign", "operator", collector="collector")
    api.act(case["id"], "verify", "collector")
    api.act(case["id"], "file", "shift_lead")
    api.act(case["id"], "dispatch", "dispatcher", unit="SZGC")
    seen = api.case(case["id"], "citizen")
    assert seen["status"] == "dispatched"
    assert seen["allowed_actions"] == []


def test_citizen_acting_as_dispatcher_never_succeeds(api: Api) -> None:
    own = api.report("citizen", source="citizen")
    api.act(own["id"], "assign", "operator", collector="collector")
    api.act(own["id"], "verify", "collector")
    api.act(own["id"], "file", "shift_lead")
    other = api.given("filed")
    for case_id, status in [(own["id"], 409), (other["id"], 404)]:
        for action, body in [
            ("dispatch", {"unit": "SZGC"}),
            ("void", {"reason": "x"}),
            ("supervise", {"note": "x"}),
            ("merge", {"duplicate_of": "1"}),
        ]:
            response = api.act_raw(case_id, action, "citizen", **body)
            assert response.status_code == status, (action, response.text)
            assert response.status_code in (403, 404, 409)
            assert "error" in response.json()
    error = api.act_raw(own["id"], "dispatch", "citizen", unit="SZGC").json()["error"]
    assert error["code"] == "illegal_transition"
    assert "'citizen'" in error["message"]
    assert api.case(own["id"])["status"] == "filed"
    assert api.case(own["id"])["unit"] is None
    assert api.case(other["id"])["status"] == "filed"


def test_collector_cannot_take_a_task_assigned_to_another_collector(api: Api) -> None:
    # collector2's own patrol report: collector2 may see it; the check task goes to collector.
    case = api.report("collector2", source="patrol")
    api.act(case["id"], "file", "shift_lead")
    api.act(case["id"], "dispatch", "dispatcher", unit="SZGC")
    api.act(case["id"], "accept", "handler")
    api.act(case["id"], "feedback", "handler", photo_ids=[api.photo()])
    api.act(case["id"], "assign", "operator", collector="collector")
    error = assert_error(
        api.act_raw(case["id"], "check", "collector2", passed=True), 403, "forbidden"
    )
    assert "another collector" in error["message"]
    assert api.case(case["id"])["status"] == "awaiting_check"
    assert api.act(case["id"], "check", "collector", passed=True)["status"] == "checked"


def test_collector_cannot_see_another_collectors_verify_task(api: Api) -> None:
    case = api.report()
    api.act(case["id"], "assign", "operator", collector="collector")
    assert_error(api.act_raw(case["id"], "verify", "collector2"), 404, "not_found")
    assert_error(api.get(f"/cases/{case['id']}", "collector2"), 404, "not_found")
    assert api.get("/cases", "collector2").json()["total"] == 0
    assert [c["id"] for c in api.get("/cases", "collector").json()["items"]] == [case["id"]]
    assert api.case(case["id"])["status"] == "reported"


def test_unassigned_case_cannot_be_verified_by_any_collector(api: Api) -> None:
    case = api.report()
    assert_error(api.act_raw(case["id"], "verify", "collector"), 404, "not_found")


def test_reporter_contact_is_hidden_from_units_and_collectors(
    api: Api, szgc_case: dict[str, Any]
) -> None:
    task = api.report(reporter_name="李女士", reporter_phone=PHONE)
    api.act(task["id"], "assign", "operator", collector="collector")
    for viewer, case_id in [("handler", szgc_case["id"]), ("collector", task["id"])]:
        response = api.get(f"/cases/{case_id}", viewer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["reporter_phone"] is None
        assert body["reporter_name"] is None
        assert PHONE not in response.text
        listed = api.get("/cases", viewer)
        assert listed.json()["total"] == 1
        assert PHONE not in listed.text
    staff = api.case(szgc_case["id"], "dispatcher")
    assert (staff["reporter_name"], staff["reporter_phone"]) == ("张先生", PHONE)


def test_citizen_sees_own_contact_details(api: Api) -> None:
    case = api.report("citizen", source="citizen", reporter_phone=PHONE)
    assert api.case(case["id"], "citizen")["reporter_phone"] == PHONE


def test_photos_are_visible_to_signed_in_users_only(api: Api) -> None:
    photo = api.photo("handler")
    assert_error(api.client.get(f"/api/v1/photos/{photo}"), 401, "unauthenticated")
    assert_error(api.get("/photos/no-such-photo", "handler"), 404, "not_found")


def test_a_photo_is_shown_only_to_its_uploader_and_to_who_may_see_its_case(api: Api) -> None:
    photo = api.photo("citizen")
    api.report("citizen", source="citizen", photo_ids=[photo])
    assert api.get(f"/photos/{photo}", "citizen").status_code == 200  # the uploader
    assert api.get(f"/photos/{photo}", "dispatcher").status_code == 200  # city-wide
    # A unit's handler sees a case's photos only once the case is its unit's.
    assert_error(api.get(f"/photos/{photo}", "handler"), 404, "not_found")
    loose = api.photo("operator")  # on no case: only its uploader may fetch it
    assert_error(api.get(f"/photos/{loose}", "handler"), 404, "not_found")
    assert_error(api.get(f"/photos/{loose}", "citizen"), 404, "not_found")
