"""Every action of the closed loop through ``POST /api/v1/cases/{id}/actions/{action}``.

Each test checks the resulting status, the event appended to the timeline of
``GET /api/v1/cases/{id}`` (action, from/to, actor, note) and the fields the action
changes. The demo clock stands on Monday 2026-11-23 09:00 in Shanghai; E0102 (暴露垃圾)
cases default to filing condition E010201 with a limit of 4 working hours, and the
working day is 08:30-12:00 and 14:00-18:00.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from duban.cases.models import CaseEvent
from duban.cases.workflow import Action
from tests.fakes import FixedClock
from tests.http import Api, assert_error, last_event

MONDAY_15 = "2026-11-23T15:00:00+08:00"

#: The action names of issue 2, item 2 (and ``deny_park``), which other systems rely on.
ITEM_2_ACTIONS = {
    "assign", "verify", "reject", "file", "void", "dispatch", "accept", "return",
    "request_extension", "approve_extension", "deny_extension", "request_park",
    "approve_park", "deny_park", "resume", "feedback", "check", "close", "reopen", "merge",
    "supervise",
}  # fmt: skip


def test_every_documented_action_name_is_an_action() -> None:
    assert {a.value for a in Action} >= ITEM_2_ACTIONS


def assert_event(
    case: dict[str, Any],
    action: str,
    from_status: str | None,
    to_status: str,
    actor: str,
    note: str | None = None,
) -> dict[str, Any]:
    """The case's timeline ends with this event, and the case is in ``to_status``."""
    event = last_event(case)
    assert event["action"] == action
    assert event["from_status"] == from_status
    assert event["to_status"] == to_status
    assert event["actor"] == actor
    if note is not None:
        assert event["note"] == note
    assert case["status"] == to_status
    assert [e["seq"] for e in case["events"]] == list(range(1, len(case["events"]) + 1))
    return event


def test_action_response_is_the_stored_case(api: Api) -> None:
    case = api.report()
    acted = api.act(case["id"], "assign", "operator", collector="collector")
    stored = api.case(case["id"], "operator")
    assert acted == stored
    assert stored["version"] > case["version"]


# ------------------------------------------------------------------ report


def test_collector_patrol_report_starts_verified(api: Api) -> None:
    case = api.report("collector", source="patrol")
    assert case["status"] == "verified"
    assert case["source"] == "patrol"
    assert case["step"] == "file"
    assert len(case["events"]) == 1
    assert_event(case, "report", None, "verified", "collector")


@pytest.mark.parametrize(
    ("by", "source"),
    [
        ("operator", "hotline"),
        ("operator", "inspection"),
        ("operator", "sensor"),
        ("citizen", "citizen"),
        ("supervisor", "inspection"),
        ("shift_lead", "citizen"),
    ],
)
def test_other_sources_start_reported(api: Api, by: str, source: str) -> None:
    case = api.report(by, source=source)
    assert case["status"] == "reported"
    assert case["step"] == "verify"
    assert case["step_due_at"] == "2026-11-23T11:00:00+08:00"  # 2 working hours to verify
    assert case["code"].startswith("20261123")
    assert case["unit"] is None
    assert case["due_at"] is None
    assert case["overdue"] is False
    assert case["rework_count"] == 0
    assert case["is_supervised"] is False
    assert_event(case, "report", None, "reported", by)


def test_a_role_reports_only_from_its_sources(api: Api) -> None:
    error = assert_error(api.create("citizen", source="hotline"), 403, "forbidden")
    assert "citizen" in error["message"]
    assert "hotline" in error["message"]
    assert_error(api.create("handler", source="hotline"), 403, "forbidden")
    assert_error(api.create("operator", source="patrol"), 403, "forbidden")


def test_case_codes_are_a_daily_sequence(api: Api, clock: FixedClock) -> None:
    first = api.report()["code"]
    second = api.report()["code"]
    assert (first, second) == ("2026112300001", "2026112300002")
    clock.advance(days=1)
    assert api.report()["code"] == "2026112400001"


# ------------------------------------------------------------------ intake


def test_assign_to_a_named_collector(api: Api) -> None:
    case = api.report()
    done = api.act(case["id"], "assign", "operator", collector="collector2", note="请核实")
    assert done["assignee"] == "collector2"
    assert done["task"] == "verify"
    event = assert_event(done, "assign", "reported", "reported", "operator", note="请核实")
    assert event["payload"] == {"collector": "collector2", "task": "verify", "chosen_by": "named"}


def test_assign_by_default_goes_to_the_collector_whose_beat_covers_the_place(api: Api) -> None:
    case = api.report()
    done = api.act(case["id"], "assign", "operator")
    assert done["assignee"] == "collector"
    event = assert_event(done, "assign", "reported", "reported", "operator")
    assert event["payload"]["chosen_by"] == "beat"


def test_assign_outside_every_beat_needs_a_named_collector(api: Api) -> None:
    case = api.report(lat=35.5, lon=115.5)
    error = assert_error(api.act_raw(case["id"], "assign", "operator"), 422, "invalid_input")
    assert error["detail"]["field"] == "collector"
    assert api.case(case["id"])["assignee"] is None
    error = assert_error(
        api.act_raw(case["id"], "assign", "operator", collector="handler"), 422, "invalid_input"
    )
    assert "handler" in error["message"]


def test_verify_by_the_assigned_collector(api: Api) -> None:
    case = api.report()
    api.act(case["id"], "assign", "operator", collector="collector")
    photo = api.photo("collector")
    done = api.act(case["id"], "verify", "collector", note="属实", photo_ids=[photo])
    assert_event(done, "verify", "reported", "verified", "collector", note="属实")
    assert done["assignee"] is None
    assert done["task"] is None
    assert done["step"] == "file"
    assert [(p["id"], p["stage"]) for p in done["photos"]] == [(photo, "verify")]


def test_a_collector_finds_a_report_not_true_and_it_is_turned_down(api: Api) -> None:
    case = api.report()
    api.act(case["id"], "assign", "operator", collector="collector")
    no_reason = api.act_raw(case["id"], "verify", "collector", passed=False)
    assert assert_error(no_reason, 422, "invalid_input")["detail"]["field"] == "reason"
    assert api.case(case["id"])["status"] == "reported"  # nothing written
    done = api.act(case["id"], "verify", "collector", passed=False, reason="现场无此问题")
    event = assert_event(done, "verify", "reported", "rejected", "collector", note="现场无此问题")
    assert event["payload"] == {"passed": False, "reason": "现场无此问题", "photos": []}
    assert (done["assignee"], done["task"]) == (None, None)
    assert api.case(done["id"], "shift_lead")["allowed_actions"] == ["reopen"]


def test_reject_needs_a_reason(api: Api) -> None:
    case = api.report()
    error = assert_error(api.act_raw(case["id"], "reject", "operator"), 422, "invalid_input")
    assert error["detail"]["field"] == "reason"
    done = api.act(case["id"], "reject", "operator", reason="不属于城管范围")
    assert_event(done, "reject", "reported", "rejected", "operator", note="不属于城管范围")
    assert done["allowed_actions"] == []  # operators cannot reopen
    assert api.case(done["id"], "shift_lead")["allowed_actions"] == ["reopen"]


def test_file_sets_the_default_filing_condition(api: Api) -> None:
    case = api.verified()
    done = api.act(case["id"], "file", "shift_lead", note="立案")
    event = assert_event(done, "file", "verified", "filed", "shift_lead", note="立案")
    assert done["condition_code"] == "E010201"
    assert event["payload"]["limit"] == "4 work_hours"
    assert done["step"] == "dispatch"


def test_file_may_correct_category_and_condition(api: Api) -> None:
    case = api.verified()
    done = api.act(
        case["id"], "file", "shift_lead", category_code="E0101", condition_code="E010102"
    )
    assert (done["category_code"], done["condition_code"]) == ("E0101", "E010102")
    assert last_event(done)["payload"]["category"] == {"from": "E0102", "to": "E0101"}


def test_void_needs_a_reason(api: Api) -> None:
    case = api.filed()
    assert_error(api.act_raw(case["id"], "void", "shift_lead"), 422, "invalid_input")
    done = api.act(case["id"], "void", "shift_lead", reason="重复上报")
    assert_event(done, "void", "filed", "voided", "shift_lead", note="重复上报")


# ------------------------------------------------------------------ dispatch and the unit


def test_dispatch_to_a_lead_unit_with_helpers_starts_the_clock(api: Api) -> None:
    case = api.filed()
    done = api.act(case["id"], "dispatch", "dispatcher", unit="SZGC", helper_units=["HWC"])
    event = assert_event(done, "dispatch", "filed", "dispatched", "dispatcher")
    assert done["unit"] == "SZGC"
    assert done["unit_name"] == "市政工程管理处"
    assert done["helper_units"] == ["HWC"]
    assert done["due_at"] == MONDAY_15  # 09:00 + 4 working hours across the lunch break
    assert done["dispatched_at"] == "2026-11-23T09:00:00+08:00"
    assert done["overdue"] is False
    assert done["clock"] == "running"
    assert done["light"] == "green"
    assert done["seconds_left"] == pytest.approx(4 * 3600)
    assert event["payload"]["unit"] == "SZGC"
    assert event["payload"]["helper_units"] == ["HWC"]


def test_dispatch_validates_units(api: Api) -> None:
    case = api.filed()
    error = assert_error(api.act_raw(case["id"], "dispatch", "dispatcher"), 422, "invalid_input")
    assert error["detail"]["field"] == "unit"
    error = assert_error(
        api.act_raw(case["id"], "dispatch", "dispatcher", unit="NOPE"), 422, "invalid_input"
    )
    assert "NOPE" in error["message"]
    assert_error(
        api.act_raw(case["id"], "dispatch", "dispatcher", unit="SZGC", helper_units=["SZGC"]),
        422,
        "invalid_input",
    )
    assert api.case(case["id"])["status"] == "filed"


def test_accept_by_the_lead_unit(api: Api) -> None:
    case = api.dispatched()
    done = api.act(case["id"], "accept", "handler", note="已签收")
    assert_event(done, "accept", "dispatched", "handling", "handler", note="已签收")
    assert done["due_at"] == MONDAY_15


def test_return_then_re_dispatch_to_another_unit(api: Api, clock: FixedClock) -> None:
    case = api.handling()
    assert_error(api.act_raw(case["id"], "return", "handler"), 422, "invalid_input")
    done = api.act(case["id"], "return", "handler", reason="不属于本单位职责")
    event = assert_event(done, "return", "handling", "returned", "handler", "不属于本单位职责")
    assert event["payload"]["unit"] == "SZGC"
    assert done["unit"] is None
    assert done["due_at"] is None
    assert done["step"] == "dispatch"
    clock.advance(hours=1)
    again = api.act(case["id"], "dispatch", "dispatcher", unit="HWC")
    assert_event(again, "dispatch", "returned", "dispatched", "dispatcher")
    assert again["unit"] == "HWC"
    assert again["due_at"] == "2026-11-23T16:00:00+08:00"  # the clock starts afresh
    assert api.act(case["id"], "accept", "handler2")["status"] == "handling"


def test_extension_request_and_approval_move_the_deadline(api: Api) -> None:
    case = api.handling()
    until = "2026-11-25T18:00:00+08:00"
    assert_error(
        api.act_raw(case["id"], "request_extension", "handler", until=until), 422, "invalid_input"
    )
    asked = api.act(case["id"], "request_extension", "handler", reason="需采购配件", until=until)
    assert_event(asked, "request_extension", "handling", "handling", "handler", "需采购配件")
    assert asked["pending_extension_until"] == until
    assert asked["due_at"] == MONDAY_15
    error = assert_error(
        api.act_raw(case["id"], "request_extension", "handler", reason="再延", until=until),
        409,
    )
    assert "already" in error["message"]
    done = api.act(case["id"], "approve_extension", "dispatcher", note="同意")
    assert_event(done, "approve_extension", "handling", "handling", "dispatcher", "同意")
    assert done["due_at"] == until
    assert done["pending_extension_until"] is None


def test_extension_by_amount_in_the_limits_unit(api: Api) -> None:
    case = api.dispatched()
    asked = api.act(case["id"], "request_extension", "handler", reason="雨天", amount=2)
    assert asked["pending_extension_until"] == "2026-11-23T17:00:00+08:00"
    assert asked["status"] == "dispatched"


def test_extension_must_be_later_than_the_deadline(api: Api) -> None:
    case = api.handling()
    error = assert_error(
        api.act_raw(
            case["id"],
            "request_extension",
            "handler",
            reason="x",
            until="2026-11-23T10:00:00+08:00",
        ),
        422,
        "invalid_input",
    )
    assert error["detail"]["field"] == "until"
    error = assert_error(
        api.act_raw(
            case["id"], "request_extension", "handler", reason="x", until="2026-11-25T18:00:00"
        ),
        422,
        "invalid_input",
    )
    assert "until" in error["message"]  # a naive datetime is refused


def test_deny_extension_keeps_the_deadline(api: Api) -> None:
    case = api.handling()
    api.act(
        case["id"], "request_extension", "handler", reason="x", until="2026-11-30T18:00:00+08:00"
    )
    assert_error(api.act_raw(case["id"], "deny_extension", "dispatcher"), 422, "invalid_input")
    done = api.act(case["id"], "deny_extension", "dispatcher", reason="时限内可完成")
    assert_event(done, "deny_extension", "handling", "handling", "dispatcher", "时限内可完成")
    assert done["due_at"] == MONDAY_15
    assert done["pending_extension_until"] is None
    error = assert_error(api.act_raw(case["id"], "approve_extension", "dispatcher"), 409)
    assert error["code"] == "illegal_transition"
    assert "no extension request" in error["message"]


def test_park_approve_and_resume_stop_the_clock(api: Api, clock: FixedClock) -> None:
    case = api.handling()
    asked = api.act(case["id"], "request_park", "handler", reason="需协调产权单位")
    assert_event(asked, "request_park", "handling", "handling", "handler", "需协调产权单位")
    assert asked["pending_park_reason"] == "需协调产权单位"
    parked = api.act(case["id"], "approve_park", "dispatcher")
    assert_event(parked, "approve_park", "handling", "parked", "dispatcher")
    assert parked["pending_park_reason"] is None
    assert parked["clock"] == "paused"
    assert parked["seconds_left"] == pytest.approx(4 * 3600)

    clock.advance(days=1)  # Tuesday 09:00: the clock stood still for 7.5 working hours
    paused = api.case(case["id"])
    assert paused["seconds_left"] == pytest.approx(4 * 3600)
    assert paused["overdue"] is False
    resumed = api.act(case["id"], "resume", "dispatcher", note="条件具备")
    event = assert_event(resumed, "resume", "parked", "handling", "dispatcher", "条件具备")
    assert resumed["due_at"] == "2026-11-24T15:00:00+08:00"
    assert resumed["clock"] == "running"
    assert resumed["overdue"] is False
    assert event["payload"]["due_from"] == "2026-11-23T07:00:00+00:00"


def test_deny_park_keeps_handling(api: Api) -> None:
    case = api.dispatched()
    api.act(case["id"], "request_park", "handler", reason="x")
    done = api.act(case["id"], "deny_park", "dispatcher", reason="应即办")
    assert_event(done, "deny_park", "dispatched", "dispatched", "dispatcher", "应即办")
    assert done["pending_park_reason"] is None
    error = assert_error(api.act_raw(case["id"], "approve_park", "dispatcher"), 409)
    assert "no parking request" in error["message"]


def test_feedback_needs_after_photos(api: Api, engine: Engine) -> None:
    case = api.handling()
    error = assert_error(api.act_raw(case["id"], "feedback", "handler"), 422, "invalid_input")
    assert error["detail"]["field"] == "photo_ids"
    assert "photo" in error["message"]
    error = assert_error(
        api.act_raw(case["id"], "feedback", "handler", photo_ids=["no-such-photo"]), 422
    )
    assert "no-such-photo" in error["message"]
    assert api.case(case["id"])["status"] == "handling"
    assert len(api.case(case["id"])["events"]) == len(case["events"])

    photo = api.photo()
    done = api.act(case["id"], "feedback", "handler", note="已清理", photo_ids=[photo])
    event = assert_event(done, "feedback", "handling", "awaiting_check", "handler", "已清理")
    assert event["payload"]["photos"] == [photo]
    assert [(p["id"], p["stage"]) for p in done["photos"]] == [(photo, "after")]
    assert done["handled_at"] == "2026-11-23T09:00:00+08:00"
    assert done["clock"] == "stopped"
    assert done["step"] == "check"


def test_check_pass_then_close(api: Api) -> None:
    case = api.awaiting_check()
    task = api.act(case["id"], "assign", "operator", collector="collector")
    assert (task["assignee"], task["task"]) == ("collector", "check")
    assert_error(api.act_raw(case["id"], "check", "collector"), 422, "invalid_input")
    checked = api.act(case["id"], "check", "collector", passed=True, note="已清理干净")
    event = assert_event(
        checked, "check", "awaiting_check", "checked", "collector", note="已清理干净"
    )
    assert event["payload"]["passed"] is True
    assert checked["rework_count"] == 0
    closed = api.act(case["id"], "close", "shift_lead", note="结案")
    event = assert_event(closed, "close", "checked", "closed", "shift_lead", note="结案")
    assert event["payload"] == {"on_time": True}
    assert closed["closed_at"] == "2026-11-23T09:00:00+08:00"
    assert closed["step"] is None
    assert closed["overdue"] is False


def test_check_fail_sends_the_case_back_to_the_same_unit(api: Api) -> None:
    case = api.awaiting_check()
    api.act(case["id"], "assign", "operator", collector="collector")
    error = assert_error(
        api.act_raw(case["id"], "check", "collector", passed=False), 422, "invalid_input"
    )
    assert error["detail"]["field"] == "reason"
    failed = api.act(case["id"], "check", "collector", passed=False, reason="仍有残留")
    event = assert_event(failed, "check", "awaiting_check", "handling", "collector", "仍有残留")
    assert event["payload"]["rework_count"] == 1
    assert failed["rework_count"] == 1
    assert failed["unit"] == "SZGC"
    assert failed["assignee"] is None
    # The unit fixes it again; a second failure counts again.
    api.act(case["id"], "feedback", "handler", photo_ids=[api.photo()])
    api.act(case["id"], "assign", "operator", collector="collector")
    again = api.act(case["id"], "check", "collector", passed=False, reason="仍未清理")
    assert again["rework_count"] == 2
    assert again["status"] == "handling"


def test_reopen_a_closed_case_restarts_the_unit_clock(api: Api, clock: FixedClock) -> None:
    case = api.closed()
    clock.advance(days=1)
    assert_error(api.act_raw(case["id"], "reopen", "shift_lead"), 422, "invalid_input")
    done = api.act(case["id"], "reopen", "shift_lead", reason="群众反映问题复发")
    assert_event(done, "reopen", "closed", "dispatched", "shift_lead", "群众反映问题复发")
    assert done["unit"] == "SZGC"
    assert done["due_at"] == "2026-11-24T15:00:00+08:00"
    assert done["closed_at"] is None
    assert api.act(case["id"], "accept", "handler")["status"] == "handling"


@pytest.mark.parametrize(
    ("start", "action", "by", "ended", "expected"),
    [
        ("reported", "reject", "operator", "rejected", "reported"),
        ("filed", "void", "shift_lead", "voided", "verified"),
    ],
)
def test_reopen_a_rejected_or_voided_case(
    api: Api, start: str, action: str, by: str, ended: str, expected: str
) -> None:
    case = getattr(api, start)()
    api.act(case["id"], action, by, reason="x")
    done = api.act(case["id"], "reopen", "supervisor", reason="复查")
    assert_event(done, "reopen", ended, expected, "supervisor", "复查")


def test_merge_as_duplicate(api: Api) -> None:
    original = api.report()
    duplicate = api.report(description="同一处暴露垃圾")
    error = assert_error(api.act_raw(duplicate["id"], "merge", "operator"), 422)
    assert error["detail"]["field"] == "duplicate_of"
    assert_error(
        api.act_raw(duplicate["id"], "merge", "operator", duplicate_of=duplicate["code"]), 422
    )
    assert_error(api.act_raw(duplicate["id"], "merge", "operator", duplicate_of="000"), 422)
    done = api.act(duplicate["id"], "merge", "operator", duplicate_of=original["code"])
    event = assert_event(done, "merge", "reported", "merged", "operator")
    assert done["duplicate_of"] == original["id"]
    assert event["payload"] == {"duplicate_of": original["code"]}
    # By id too; but not into a case that is itself merged away.
    third = api.report()
    error = assert_error(
        api.act_raw(third["id"], "merge", "operator", duplicate_of=str(duplicate["id"])), 422
    )
    assert "merged" in error["message"]
    merged = api.act(third["id"], "merge", "operator", duplicate_of=str(original["id"]))
    assert merged["duplicate_of"] == original["id"]


def test_supervise_raises_the_flag_with_a_note(api: Api) -> None:
    case = api.handling()
    assert_error(api.act_raw(case["id"], "supervise", "supervisor"), 422, "invalid_input")
    done = api.act(case["id"], "supervise", "supervisor", note="请加快处置")
    assert_event(done, "supervise", "handling", "handling", "supervisor", "请加快处置")
    assert done["is_supervised"] is True
    assert done["supervise_note"] == "请加快处置"
    assert done["unit"] == "SZGC"


def test_the_whole_loop_takes_every_action(api: Api, clock: FixedClock, engine: Engine) -> None:
    """One tour over a few cases that takes every action at least once."""
    a = api.report()
    api.act(a["id"], "supervise", "leader", note="关注")
    api.act(a["id"], "assign", "operator")
    api.act(a["id"], "verify", "collector")
    api.act(a["id"], "file", "shift_lead")
    api.act(a["id"], "dispatch", "dispatcher", unit="HWC")
    api.act(a["id"], "return", "handler2", reason="非本单位")
    api.act(a["id"], "dispatch", "dispatcher", unit="SZGC", helper_units=["HWC"])
    api.act(a["id"], "accept", "handler")
    api.act(a["id"], "request_extension", "handler", reason="x", amount=1)
    api.act(a["id"], "deny_extension", "dispatcher", reason="x")
    api.act(a["id"], "request_extension", "handler", reason="y", amount=2)
    api.act(a["id"], "approve_extension", "dispatcher")
    api.act(a["id"], "request_park", "handler", reason="x")
    api.act(a["id"], "deny_park", "dispatcher", reason="x")
    api.act(a["id"], "request_park", "handler", reason="y")
    api.act(a["id"], "approve_park", "dispatcher")
    clock.advance(hours=2)
    api.act(a["id"], "resume", "dispatcher")
    api.act(a["id"], "feedback", "handler", photo_ids=[api.photo()])
    api.act(a["id"], "assign", "operator", collector="collector")
    api.act(a["id"], "check", "collector", passed=False, reason="返工")
    api.act(a["id"], "feedback", "handler", photo_ids=[api.photo(data=None)])
    api.act(a["id"], "assign", "operator", collector="collector")
    api.act(a["id"], "check", "collector", passed=True)
    api.act(a["id"], "close", "shift_lead")
    api.act(a["id"], "reopen", "shift_lead", reason="复发")
    b = api.report()
    api.act(b["id"], "reject", "operator", reason="x")
    c = api.report()
    api.act(c["id"], "merge", "operator", duplicate_of=a["code"])
    d = api.filed()
    api.act(d["id"], "void", "shift_lead", reason="x")

    with engine.connect() as conn:
        taken = set(conn.execute(select(CaseEvent.action)).scalars())
    assert taken == {"report", *ITEM_2_ACTIONS}
    timeline = api.case(a["id"])["events"]
    assert len(timeline) == 26
    assert all(e["occurred_at"].endswith("+08:00") for e in timeline)
    assert len({e["hash"] for e in timeline}) == 26
