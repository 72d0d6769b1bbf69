"""即查即改 (issue 15 item 4): a collector, supervisor or leader records a problem and its
fix on the spot in one request; the case is born closed (report, fix_on_site, close, in
one unit of work), counted apart and never dispatched. Refusals write nothing."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from duban.cases.audit import verify_chain
from duban.cases.dashboard import dashboard
from tests.factories.evidence import jpeg
from tests.factories.world import World
from tests.http import Api, assert_error, count_cases

#: Who fixes on the spot, and the source each reports from.
ON_SITE = [("collector", "patrol"), ("supervisor", "supervision"), ("leader", "patrol")]


def on_site(api: Api, by: str, source: str, **body: Any) -> dict[str, Any]:
    """A fix on the spot by ``by``: a before and an after photo of its own."""
    before = api.photo(by, jpeg((200, 40, 40)))
    after = api.photo(by, jpeg((40, 200, 40)))
    payload: dict[str, Any] = {
        "source": source,
        "fixed_on_site": True,
        "photo_ids": [before],
        "after_photo_ids": [after],
        "description": "路边散落垃圾，已当场清理",
        **body,
    }
    return api.report(by, **payload)


@pytest.mark.parametrize(("by", "source"), ON_SITE)
def test_a_fix_on_the_spot_is_born_closed_and_never_dispatched(
    api: Api, world: World, by: str, source: str
) -> None:
    case = on_site(api, by, source)
    assert case["status"] == "closed"
    assert case["fixed_on_site"] is True
    assert case["unit"] is None
    assert case["dispatched_at"] is None
    assert case["due_at"] is None
    assert case["closed_at"] is not None
    assert set(case["allowed_actions"]) <= {"reopen"}  # a supervisor may reopen
    events = case["events"]
    assert [e["action"] for e in events] == ["report", "fix_on_site", "close"]
    assert [e["actor"] for e in events] == [by, by, by]
    assert events[1]["to_status"] == "checked"
    assert events[2]["from_status"] == "checked"
    assert len({e["occurred_at"] for e in events}) == 1
    assert sorted(p["stage"] for p in case["photos"]) == ["after", "before"]
    # The staff view shows the same, and the audit chain (the flag sealed) holds.
    again = api.case(case["id"], "shift_lead")
    assert (again["status"], again["fixed_on_site"]) == ("closed", True)
    report = verify_chain(world.session)
    assert report.ok, report.first_break


def test_after_photos_are_checked_like_a_units_feedback(api: Api) -> None:
    same = api.photo("collector", jpeg((10, 10, 200)))
    case = api.report(
        "collector",
        source="patrol",
        fixed_on_site=True,
        photo_ids=[same],
        after_photo_ids=[same],
    )
    assert case["events"][1]["payload"]["verdict"] == "fail"
    evidence = api.get(f"/cases/{case['id']}/evidence", "collector").json()
    assert evidence["verdict"] == "fail"
    (shown,) = evidence["feedback"]
    reused = next(x for x in shown["findings"] if x["check"] == "reused")
    assert reused["result"] == "fail"  # the problem photo sent again as the fix


def test_fixes_on_the_spot_are_counted_apart(api: Api, world: World) -> None:
    on_site(api, "collector", "patrol")
    api.report()  # an ordinary hotline case
    board = dashboard(world.session, now=world.clock.now(), tz=ZoneInfo("Asia/Shanghai"))
    assert board.fixed_on_site == 1
    assert board.intake_total == 2
    assert board.open == 1  # the fixed one is closed already
    listed = api.get("/cases", "dispatcher").json()["items"]
    assert sorted(item["fixed_on_site"] for item in listed) == [False, True]


@pytest.mark.parametrize(
    ("by", "source"), [("citizen", "citizen"), ("operator", "hotline"), ("shift_lead", "hotline")]
)
def test_only_people_on_patrol_fix_on_the_spot(
    api: Api, engine: Engine, by: str, source: str
) -> None:
    before = api.photo(by)
    after = api.photo(by, jpeg((1, 2, 3)))
    response = api.create(
        by,
        source=source,
        fixed_on_site=True,
        photo_ids=[before],
        after_photo_ids=[after],
    )
    error = assert_error(response, 403, "forbidden")
    assert "may not fix a problem on the spot" in error["message"]
    assert count_cases(engine) == 0


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"after_photo_ids": []}, "after_photo_ids", "at least one after photo"),
        ({"photo_ids": []}, "photo_ids", "at least one photo of the problem"),
        ({"after_photo_ids": ["nosuchphoto"]}, "photo_ids", "unknown photo id"),
    ],
)
def test_a_fix_on_the_spot_without_its_photos_is_refused_and_writes_nothing(
    api: Api, engine: Engine, body: dict[str, Any], field: str, message: str
) -> None:
    before = api.photo("collector")
    after = api.photo("collector", jpeg((1, 2, 3)))
    payload = {
        "source": "patrol",
        "fixed_on_site": True,
        "photo_ids": [before],
        "after_photo_ids": [after],
        **body,
    }
    error = assert_error(api.create("collector", **payload), 422)
    assert message in error["message"]
    assert error.get("field") in (field, None) or field in str(error)
    assert count_cases(engine) == 0


def test_another_persons_after_photo_is_refused(api: Api, engine: Engine) -> None:
    before = api.photo("collector")
    theirs = api.photo("collector2", jpeg((9, 9, 9)))
    response = api.create(
        "collector",
        source="patrol",
        fixed_on_site=True,
        photo_ids=[before],
        after_photo_ids=[theirs],
    )
    assert "unknown photo id" in assert_error(response, 422)["message"]
    assert count_cases(engine) == 0


def test_after_photos_without_a_fix_are_refused(api: Api, engine: Engine) -> None:
    after = api.photo("collector")
    response = api.create("collector", source="patrol", after_photo_ids=[after])
    assert "fixed_on_site" in assert_error(response, 422)["message"]
    assert count_cases(engine) == 0


def test_fix_on_site_is_no_action_of_its_own(api: Api) -> None:
    case = api.patrol()
    response = api.act_raw(case["id"], "fix_on_site", "collector", photo_ids=[api.photo()])
    assert "part of a report" in assert_error(response, 422)["message"]
    assert "fix_on_site" not in api.case(case["id"], "collector")["allowed_actions"]


def test_a_retried_fix_on_the_spot_returns_the_first_case(api: Api, engine: Engine) -> None:
    before = api.photo("collector")
    after = api.photo("collector", jpeg((1, 2, 3)))
    body = {
        "source": "patrol",
        "fixed_on_site": True,
        "photo_ids": [before],
        "after_photo_ids": [after],
    }
    headers = {"Idempotency-Key": "fix-1"}
    first = api.create("collector", headers=headers, **body)
    second = api.create("collector", headers=headers, **body)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["status"] == "closed"
    assert count_cases(engine) == 1
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM case_events")).scalar_one()
    assert n == 3


def test_a_fix_on_the_spot_that_did_not_hold_is_reopened_for_dispatch(api: Api) -> None:
    case = on_site(api, "collector", "patrol")
    reopened = api.act(case["id"], "reopen", "supervisor", reason="问题复现")
    assert reopened["status"] == "filed"  # it never had a unit: the dispatcher sends it
    assert reopened["closed_at"] is None
    assert "dispatch" in api.case(case["id"], "dispatcher")["allowed_actions"]
    sent = api.act(case["id"], "dispatch", "dispatcher", unit="SZGC")
    assert (sent["status"], sent["unit"]) == ("dispatched", "SZGC")
    assert sent["due_at"] is not None


def test_a_fix_on_the_spot_whose_photos_fail_a_blocking_policy_is_refused(
    api: Api, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The after-photos of a fix on the spot go through the same photo checks and policy
    as a unit's feedback: a blocking fail refuses the whole report (422, nothing written);
    where the policy only warns, the verdict is recorded."""
    from duban.photochecks import checks

    data = checks._policy_data()
    blocking = {**data, "categories": {"E": {"fail_blocks": True}}}
    monkeypatch.setattr(checks, "_policy_data", lambda: blocking)
    same = api.photo("collector", jpeg((10, 10, 200)))
    response = api.create(
        "collector",
        source="patrol",
        fixed_on_site=True,
        category_code="E0102",
        photo_ids=[same],
        after_photo_ids=[same],
    )
    error = assert_error(response, 422)
    assert "fails the photo checks" in error["message"]
    assert "reused" in error["message"]
    assert error["detail"]["field"] == "after_photo_ids"
    assert error["detail"]["check"] == "reused"
    assert count_cases(engine) == 0
    with engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM photo_findings")).scalar() == 0
    monkeypatch.setattr(checks, "_policy_data", lambda: data)  # warns only: recorded
    case = on_site(api, "collector", "patrol")
    assert case["events"][1]["payload"]["verdict"] in ("needs_look", "pass")
