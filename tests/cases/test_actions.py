"""The rules of each action beyond the workflow table, and one event per action.

Every refused action is checked against the committed database through a new session:
the case, its version and its events must be exactly as before (nothing half-written).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from duban.cases.actions import get_case
from duban.cases.models import Case, CaseHelper, CasePhoto
from duban.cases.workflow import Action, CaseStatus, Source
from duban.kernel.errors import (
    Conflict,
    DubanError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from tests.factories.cases import event_total, events, fresh
from tests.factories.world import World
from tests.fakes import FixedClock, local

#: Fields a refused action must leave exactly as they were.
STATE = (
    "status",
    "version",
    "event_count",
    "last_event_hash",
    "unit_id",
    "assignee_id",
    "task",
    "rework_count",
    "due_at",
    "pending_extension_until",
    "pending_park_reason",
    "is_supervised",
    "duplicate_of_id",
    "condition_code",
    "category_code",
)


def _state(world: World, case_id: int) -> dict[str, Any]:
    case = fresh(world.session_factory, case_id)
    return {name: getattr(case, name) for name in STATE}


@contextmanager
def refused(
    world: World, case: Case | int, error: type[DubanError]
) -> Iterator[pytest.ExceptionInfo[DubanError]]:
    """Expect ``error`` and no trace of the attempt in the database."""
    case_id = case if isinstance(case, int) else case.id
    before = _state(world, case_id)
    total = event_total(world.session_factory)
    with pytest.raises(error) as caught:
        yield caught
    assert _state(world, case_id) == before
    assert event_total(world.session_factory) == total


def _payload(world: World, case: Case, seq: int = -1) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(events(world.session_factory, case.id)[seq].payload)
    return data


# --------------------------------------------------------------------------- one event each


def test_each_successful_action_adds_exactly_one_event_and_each_refused_one_none(
    world: World, clock: FixedClock
) -> None:
    factory = world.session_factory
    case = world.report()
    assert (case.event_count, event_total(factory)) == (1, 1)
    steps: list[tuple[Action, str, dict[str, Any]]] = [
        (Action.ASSIGN, "operator", {}),
        (Action.VERIFY, "collector", {"note": "现场属实"}),
        (Action.FILE, "shift_lead", {}),
        (Action.SUPERVISE, "supervisor", {"note": "尽快派遣"}),
        (Action.DISPATCH, "dispatcher", {"unit": "HWC"}),
        (Action.RETURN, "handler2", {"reason": "不属于本单位"}),
        (Action.DISPATCH, "dispatcher", {"unit": "SZGC", "helper_units": ["HWC"]}),
        (Action.ACCEPT, "handler", {}),
        (Action.REQUEST_EXTENSION, "handler", {"reason": "材料未到", "amount": 1}),
        (Action.DENY_EXTENSION, "dispatcher", {"reason": "不予延期"}),
        (Action.REQUEST_EXTENSION, "handler", {"reason": "材料未到", "amount": 1}),
        (Action.APPROVE_EXTENSION, "dispatcher", {}),
        (Action.REQUEST_PARK, "handler", {"reason": "需协调"}),
        (Action.DENY_PARK, "dispatcher", {"reason": "先处置"}),
        (Action.REQUEST_PARK, "handler", {"reason": "需协调"}),
        (Action.APPROVE_PARK, "dispatcher", {}),
        (Action.RESUME, "dispatcher", {}),
        (Action.FEEDBACK, "handler", {"photo_ids": "PHOTO"}),
        (Action.ASSIGN, "operator", {}),
        (Action.CHECK, "collector", {"passed": False, "reason": "未清理干净"}),
        (Action.FEEDBACK, "handler", {"photo_ids": "PHOTO"}),
        (Action.ASSIGN, "operator", {"collector": "collector2"}),
        (Action.CHECK, "collector2", {"passed": True}),
        (Action.CLOSE, "shift_lead", {}),
        (Action.REOPEN, "supervisor", {"reason": "群众再次反映"}),
    ]
    wrong: list[tuple[Action, str, dict[str, Any]]] = [
        (Action.CLOSE, "shift_lead", {}),  # wrong status nearly everywhere
        (Action.DISPATCH, "citizen", {"unit": "SZGC"}),  # citizens see nothing
    ]
    for n, (action, by, params) in enumerate(steps, start=2):
        for bad_action, bad_by, bad_params in wrong:
            if (bad_action, bad_by) == (action, by):
                continue
            with refused(world, case, DubanError):
                world.act(case, bad_action, bad_by, **bad_params)
        clock.advance(minutes=10)
        if params.get("photo_ids") == "PHOTO":
            params = {"photo_ids": [world.photo((n, n, n))]}
        before = fresh(factory, case.id)
        world.act(case, action, by, **params)
        after = fresh(factory, case.id)
        rows = events(factory, case.id)
        assert after.event_count == before.event_count + 1 == n == len(rows), action
        assert after.version > before.version, action
        assert event_total(factory) == n
        last = rows[-1]
        assert (last.seq, last.action, last.from_status, last.to_status) == (
            n,
            action.value,
            before.status.value,
            after.status.value,
        )
        assert last.actor_id == world.users[by].id
        assert last.actor_role == world.users[by].role.value
        assert last.occurred_at == clock.now()
        assert after.last_event_hash == last.hash
    assert case.status == CaseStatus.DISPATCHED
    assert case.rework_count == 1


def test_a_refused_action_leaves_nothing_for_the_next_action_to_commit(world: World) -> None:
    case = world.case_in(CaseStatus.AWAITING_CHECK)
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    with refused(world, case, InvalidInput):
        world.act(case, Action.CHECK, "collector", passed=False)  # a failed check needs a reason
    world.act(case, Action.SUPERVISE, "supervisor", note="加快核查")
    case = fresh(world.session_factory, case.id)
    assert case.task == "check"
    assert case.assignee_id == world.users["collector"].id
    world.act(case.id, Action.CHECK, "collector", passed=False, reason="未修复")
    assert fresh(world.session_factory, case.id).rework_count == 1


def test_report_refusals_write_nothing(world: World) -> None:
    total = event_total(world.session_factory)
    with pytest.raises(InvalidInput, match="unknown category"):
        world.report(category="E9999")
    with pytest.raises(InvalidInput, match="major class"):
        world.report(category="E01")
    with pytest.raises(InvalidInput, match="lat"):
        world.report(lat=91.0)
    with pytest.raises(InvalidInput, match="description"):
        world.report(description="   ")
    with pytest.raises(PermissionDenied, match="source 'patrol'"):
        world.report(by="operator", source=Source.PATROL)
    with pytest.raises(PermissionDenied):
        world.report(by="handler")
    with pytest.raises(InvalidInput, match="belongs to category"):
        world.report(condition_code="C010101")
    assert event_total(world.session_factory) == total
    assert world.report().code.endswith("00001")  # no case number was used up


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("status", "action", "by", "params"),
    [
        (CaseStatus.REPORTED, Action.REJECT, "operator", {}),
        (CaseStatus.REPORTED, Action.VOID, "shift_lead", {}),
        (CaseStatus.FILED, Action.VOID, "shift_lead", {"note": "   "}),
        (CaseStatus.DISPATCHED, Action.RETURN, "handler", {}),
        (CaseStatus.HANDLING, Action.REQUEST_EXTENSION, "handler", {"amount": 1}),
        (CaseStatus.HANDLING, Action.REQUEST_PARK, "handler", {}),
        (CaseStatus.CLOSED, Action.REOPEN, "shift_lead", {}),
        (CaseStatus.HANDLING, Action.SUPERVISE, "supervisor", {}),
    ],
)
def test_a_reason_is_required(
    world: World, status: CaseStatus, action: Action, by: str, params: dict[str, Any]
) -> None:
    case = world.case_in(status)
    with refused(world, case, InvalidInput) as caught:
        world.act(case, action, by, **params)
    assert caught.value.detail["field"] in ("reason", "note")


def test_deny_needs_a_reason_too(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    world.act(case, Action.REQUEST_EXTENSION, "handler", reason="雨天", amount=1)
    world.act(case, Action.REQUEST_PARK, "handler", reason="需协调")
    with refused(world, case, InvalidInput):
        world.act(case, Action.DENY_EXTENSION, "dispatcher")
    with refused(world, case, InvalidInput):
        world.act(case, Action.DENY_PARK, "dispatcher")


def test_the_reason_is_the_events_note(world: World) -> None:
    case = world.report()
    world.act(case, Action.REJECT, "operator", reason="非城管职责")
    last = events(world.session_factory, case.id)[-1]
    assert (last.action, last.note) == ("reject", "非城管职责")
    assert _payload(world, case) == {"reason": "非城管职责"}


def test_overlong_text_is_refused(world: World) -> None:
    case = world.report()
    with refused(world, case, InvalidInput):
        world.act(case, Action.REJECT, "operator", reason="很" * 2001)


# --------------------------------------------------------------------------- pending requests


def test_extension_requests_are_guarded(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    assert case.due_at is not None
    with refused(world, case, IllegalTransition):
        world.act(case, Action.APPROVE_EXTENSION, "dispatcher")
    with refused(world, case, IllegalTransition):
        world.act(case, Action.DENY_EXTENSION, "dispatcher", reason="x")
    with refused(world, case, InvalidInput):
        world.act(case, Action.REQUEST_EXTENSION, "handler", reason="雨天")  # no until/amount
    with refused(world, case, InvalidInput):
        world.act(case, Action.REQUEST_EXTENSION, "handler", reason="雨天", until=case.due_at)
    world.act(case, Action.REQUEST_EXTENSION, "handler", reason="雨天", amount=1)
    with refused(world, case, Conflict):
        world.act(case, Action.REQUEST_EXTENSION, "handler", reason="再延", amount=2)
    with refused(world, case, IllegalTransition):
        world.act(case, Action.APPROVE_EXTENSION, "handler")  # not the handler's call


def test_park_requests_are_guarded(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    with refused(world, case, IllegalTransition):
        world.act(case, Action.APPROVE_PARK, "dispatcher")
    with refused(world, case, IllegalTransition):
        world.act(case, Action.DENY_PARK, "dispatcher", reason="x")
    world.act(case, Action.REQUEST_PARK, "handler", reason="需协调")
    with refused(world, case, Conflict):
        world.act(case, Action.REQUEST_PARK, "handler", reason="再次申请")
    world.act(case, Action.APPROVE_PARK, "dispatcher")
    assert (case.status, case.pending_park_reason) == (CaseStatus.PARKED, None)
    for action in (Action.FEEDBACK, Action.RETURN, Action.REQUEST_PARK):
        with refused(world, case, IllegalTransition):
            world.act(case, action, "handler", reason="x", photo_ids=[])
    world.act(case, Action.RESUME, "dispatcher")
    assert case.status == CaseStatus.HANDLING


def test_a_return_drops_pending_requests(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    world.act(case, Action.REQUEST_EXTENSION, "handler", reason="雨天", amount=1)
    world.act(case, Action.REQUEST_PARK, "handler", reason="需协调")
    world.act(case, Action.RETURN, "handler", reason="不属于本单位")
    case = fresh(world.session_factory, case.id)
    assert case.pending_extension_until is None
    assert case.pending_extension_reason is None
    assert case.pending_park_reason is None


# --------------------------------------------------------------------------- units


def test_only_the_lead_unit_acts_and_helper_units_only_see(world: World) -> None:
    case = world.case_in(CaseStatus.FILED)
    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC", helper_units=["HWC"])
    assert _payload(world, case)["helper_units"] == ["HWC"]
    helper = world.actor("handler2")
    assert get_case(world.session, actor=helper, case_id=case.id).id == case.id
    for action in (Action.ACCEPT, Action.RETURN, Action.REQUEST_PARK):
        with refused(world, case, PermissionDenied):
            world.act(case, action, "handler2", reason="协办单位")
    world.act(case, Action.ACCEPT, "handler")
    with refused(world, case, PermissionDenied):
        world.act(case, Action.FEEDBACK, "handler2", photo_ids=[world.photo()])


def test_a_handler_of_an_uninvolved_unit_cannot_even_see_the_case(world: World) -> None:
    case = world.case_in(CaseStatus.DISPATCHED)
    with pytest.raises(NotFound):
        get_case(world.session, actor=world.actor("handler2"), case_id=case.id)
    with refused(world, case, NotFound):
        world.act(case, Action.ACCEPT, "handler2")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "unit"),
        ({"unit": "NOPE"}, "unit"),
        ({"unit": "SZGC", "helper_units": ["NOPE"]}, "helper_units"),
        ({"unit": "SZGC", "helper_units": ["SZGC"]}, "helper_units"),
    ],
)
def test_dispatch_needs_a_known_lead_unit_that_is_not_also_a_helper(
    world: World, params: dict[str, Any], field: str
) -> None:
    case = world.case_in(CaseStatus.FILED)
    with refused(world, case, InvalidInput) as caught:
        world.act(case, Action.DISPATCH, "dispatcher", **params)
    assert caught.value.detail["field"] == field


def test_a_return_clears_the_unit_and_the_case_can_go_to_another_unit(world: World) -> None:
    case = world.case_in(CaseStatus.FILED)
    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC", helper_units=["HWC"])
    world.act(case, Action.RETURN, "handler", reason="属环卫职责")
    returned = fresh(world.session_factory, case.id)
    assert returned.status == CaseStatus.RETURNED
    assert (returned.unit_id, returned.due_at, returned.clock_started_at) == (None, None, None)
    with world.session_factory() as other:
        assert other.scalars(select(CaseHelper).where(CaseHelper.case_id == case.id)).all() == []
    assert _payload(world, case) == {"reason": "属环卫职责", "unit": "SZGC"}
    with pytest.raises(NotFound):
        get_case(world.session, actor=world.actor("handler"), case_id=case.id)

    world.act(case, Action.DISPATCH, "dispatcher", unit="HWC")
    assert case.unit_id == world.unit2.id
    assert case.due_at is not None
    world.act(case, Action.ACCEPT, "handler2")
    assert case.status == CaseStatus.HANDLING
    with refused(world, case, NotFound):
        world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])


def test_a_reopened_case_can_be_returned_and_sent_elsewhere(world: World) -> None:
    case = world.case_in(CaseStatus.CLOSED)
    world.act(case, Action.REOPEN, "shift_lead", reason="问题复发")
    assert case.status == CaseStatus.DISPATCHED
    world.act(case, Action.RETURN, "handler", reason="转环卫")
    world.act(case, Action.DISPATCH, "dispatcher", unit="HWC")
    assert _payload(world, case)["unit"] == "HWC"
    assert case.unit_id == world.unit2.id


# --------------------------------------------------------------------------- assign, verify


def test_assign_by_beat_by_name_or_not_at_all(world: World) -> None:
    in_beat = world.report()
    world.act(in_beat, Action.ASSIGN, "operator")
    assert _payload(world, in_beat) == {
        "collector": "collector",
        "task": "verify",
        "chosen_by": "beat",
    }
    assert (in_beat.assignee_id, in_beat.task) == (world.users["collector"].id, "verify")

    named = world.report()
    world.act(named, Action.ASSIGN, "operator", collector="collector2")
    assert _payload(world, named)["chosen_by"] == "named"
    assert named.assignee_id == world.users["collector2"].id

    far = world.report(lat=35.5, lon=115.0)
    with refused(world, far, InvalidInput):
        world.act(far, Action.ASSIGN, "operator")
    for name in ("operator", "nobody"):
        with refused(world, far, InvalidInput):
            world.act(far, Action.ASSIGN, "operator", collector=name)


def test_only_the_assigned_collector_verifies(world: World) -> None:
    case = world.report()
    with refused(world, case, NotFound):  # not assigned yet: not the collector's case
        world.act(case, Action.VERIFY, "collector")
    world.act(case, Action.ASSIGN, "operator", collector="collector2")
    with refused(world, case, NotFound):
        world.act(case, Action.VERIFY, "collector")
    world.act(case, Action.VERIFY, "collector2")
    assert (case.status, case.assignee_id, case.task) == (CaseStatus.VERIFIED, None, None)


def test_a_collector_checks_only_its_own_check_task(world: World) -> None:
    case = world.case_in(CaseStatus.AWAITING_CHECK)  # the collector verified it earlier
    with refused(world, case, NotFound):  # ... but holds no task on it now
        world.act(case, Action.CHECK, "collector", passed=True)
    with refused(world, case, InvalidInput):
        world.act(case, Action.ASSIGN, "operator", collector="citizen")
    world.act(case, Action.ASSIGN, "operator")
    assert (case.task, case.assignee_id) == ("check", world.users["collector"].id)
    with refused(world, case, InvalidInput):
        world.act(case, Action.CHECK, "collector")  # passed is required
    world.act(case, Action.CHECK, "collector", passed=True)
    assert (case.status, case.task, case.assignee_id) == (CaseStatus.CHECKED, None, None)


def test_the_reporting_collector_cannot_check_a_task_given_to_another(world: World) -> None:
    case = world.report(by="collector", source=Source.PATROL)
    world.act(case, Action.FILE, "shift_lead")
    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    world.act(case, Action.ACCEPT, "handler")
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    world.act(case, Action.ASSIGN, "operator", collector="collector2")
    with refused(world, case, PermissionDenied):  # sees its own report, holds no task
        world.act(case, Action.CHECK, "collector", passed=True)
    world.act(case, Action.CHECK, "collector2", passed=True)
    assert case.status == CaseStatus.CHECKED


def test_a_collectors_patrol_report_is_verified_and_its_own(world: World) -> None:
    case = world.report(by="collector", source=Source.PATROL)
    assert case.status == CaseStatus.VERIFIED
    assert get_case(world.session, actor=world.actor("collector"), case_id=case.id)
    with pytest.raises(NotFound):
        get_case(world.session, actor=world.actor("collector2"), case_id=case.id)


def test_file_may_correct_the_category_and_its_condition(world: World) -> None:
    case = world.case_in(CaseStatus.VERIFIED)
    with refused(world, case, InvalidInput):
        world.act(case, Action.FILE, "shift_lead", category_code="C0101", condition_code="E010201")
    with refused(world, case, InvalidInput):
        world.act(case, Action.FILE, "shift_lead", category_code="C01")
    world.act(case, Action.FILE, "shift_lead", category_code="C0101", condition_code="C010102")
    assert (case.category_code, case.kind, case.condition_code) == (
        "C0101",
        "component",
        "C010102",
    )
    payload = _payload(world, case)
    assert payload["category"] == {"from": "E0102", "to": "C0101"}
    assert payload["condition"] == "C010102"
    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    assert case.limit_unit == "hours"


# --------------------------------------------------------------------------- check, rework


def test_a_failed_check_sends_the_case_back_to_the_same_unit_and_counts_rework(
    world: World,
) -> None:
    case = world.case_in(CaseStatus.AWAITING_CHECK)
    unit = case.unit_id
    for n in (1, 2):
        world.act(case, Action.ASSIGN, "operator", collector="collector")
        world.act(case, Action.CHECK, "collector", passed=False, reason=f"第{n}次未修复")
        assert (case.status, case.unit_id, case.rework_count) == (CaseStatus.HANDLING, unit, n)
        assert _payload(world, case)["rework_count"] == n
        world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo((n, 9, 9))])
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=True)
    world.act(case, Action.CLOSE, "shift_lead")
    assert (case.status, case.rework_count) == (CaseStatus.CLOSED, 2)
    fails = [e for e in events(world.session_factory, case.id) if e.to_status == "handling"]
    assert [e.action for e in fails] == ["accept", "check", "check"]


def test_the_same_after_photo_sent_again_after_rework_is_accepted(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    photo = world.photo((7, 7, 7))
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[photo])
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=False, reason="角度不同")
    extra = world.photo((8, 8, 8))
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[photo, extra])
    assert case.status == CaseStatus.AWAITING_CHECK
    with world.session_factory() as other:
        after = other.scalars(
            select(CasePhoto.photo_id).where(
                CasePhoto.case_id == case.id, CasePhoto.stage == "after"
            )
        ).all()
    assert sorted(after) == sorted([photo, extra])


# --------------------------------------------------------------------------- reopen, merge


def test_reopen_of_closed_voided_and_rejected_cases(world: World, clock: FixedClock) -> None:
    closed = world.case_in(CaseStatus.CLOSED)
    clock.advance(days=2)
    world.act(closed, Action.REOPEN, "supervisor", reason="回头看发现复发")
    assert closed.status == CaseStatus.DISPATCHED
    assert closed.unit_id == world.unit.id
    assert closed.closed_at is None
    assert closed.clock_started_at == clock.now()
    assert closed.due_at is not None
    assert closed.due_at > clock.now()

    voided = world.case_in(CaseStatus.FILED)
    world.act(voided, Action.VOID, "shift_lead", reason="重复上报")
    world.act(voided, Action.REOPEN, "shift_lead", reason="误作废")
    assert voided.status == CaseStatus.VERIFIED

    rejected = world.report()
    world.act(rejected, Action.REJECT, "operator", reason="非城管职责")
    world.act(rejected, Action.REOPEN, "shift_lead", reason="属城管职责")
    assert rejected.status == CaseStatus.REPORTED

    with refused(world, rejected, IllegalTransition):
        world.act(rejected, Action.REOPEN, "shift_lead", reason="open cases cannot be reopened")
    with refused(world, closed, IllegalTransition):
        world.act(closed, Action.REOPEN, "operator", reason="x")


def test_merge_as_duplicate(world: World) -> None:
    original = world.report()
    duplicate = world.report()
    with refused(world, duplicate, InvalidInput):
        world.act(duplicate, Action.MERGE, "operator")
    with refused(world, duplicate, InvalidInput):
        world.act(duplicate, Action.MERGE, "operator", duplicate_of=duplicate.code)
    with refused(world, duplicate, InvalidInput):
        world.act(duplicate, Action.MERGE, "operator", duplicate_of=str(duplicate.id))
    with refused(world, duplicate, InvalidInput):
        world.act(duplicate, Action.MERGE, "operator", duplicate_of="209901010000")
    world.act(duplicate, Action.MERGE, "operator", duplicate_of=original.code)
    assert (duplicate.status, duplicate.duplicate_of_id) == (CaseStatus.MERGED, original.id)
    assert _payload(world, duplicate) == {"duplicate_of": original.code}

    third = world.report()
    with refused(world, third, InvalidInput):  # merge into the case it points to instead
        world.act(third, Action.MERGE, "operator", duplicate_of=duplicate.code)
    world.act(third, Action.MERGE, "operator", duplicate_of=str(original.id))
    assert third.duplicate_of_id == original.id

    rejected = world.report()
    world.act(rejected, Action.REJECT, "operator", reason="x")
    fourth = world.report()
    with refused(world, fourth, InvalidInput):
        world.act(fourth, Action.MERGE, "operator", duplicate_of=rejected.code)
    with refused(world, duplicate, IllegalTransition):
        world.act(duplicate, Action.REOPEN, "shift_lead", reason="merged cases stay merged")


# --------------------------------------------------------------------------- supervise


def test_supervise_is_a_flag_with_a_note(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    world.act(case, Action.SUPERVISE, "leader", note="请于今日处置完毕")
    assert case.status == CaseStatus.HANDLING
    assert (case.is_supervised, case.supervise_note) == (True, "请于今日处置完毕")
    assert case.overdue_marked_at is None  # a person's 督办 is not the sweep's overdue mark
    last = events(world.session_factory, case.id)[-1]
    assert (last.action, last.from_status, last.to_status) == ("supervise", "handling", "handling")
    assert _payload(world, case) == {"note": "请于今日处置完毕"}
    for who in ("citizen", "operator", "handler", "collector"):
        with refused(world, case, DubanError):
            world.act(case, Action.SUPERVISE, who, note="x")
    closed = world.case_in(CaseStatus.CLOSED)
    with refused(world, closed, IllegalTransition):
        world.act(closed, Action.SUPERVISE, "supervisor", note="x")


def test_a_person_cannot_fake_the_sweeps_overdue_mark_early(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    with refused(world, case, Conflict):
        world.act(case, Action.SUPERVISE, "supervisor", note="x", extra={"overdue": True})


# --------------------------------------------------------------------------- evidence


def test_feedback_needs_after_photos(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    with refused(world, case, InvalidInput):
        world.act(case, Action.FEEDBACK, "handler")
    with refused(world, case, InvalidInput):
        world.act(case, Action.FEEDBACK, "handler", photo_ids=["no-such-photo"])


def test_a_fresh_after_photo_raises_no_flag(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING, photo_ids=[world.photo((200, 0, 0), by="operator")])
    photo = world.photo((0, 200, 0))
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[photo])
    # No camera data in a generated JPEG: the photo checks ask for a look (tests/photochecks).
    assert _payload(world, case) == {"photos": [photo], "verdict": "needs_look"}
    assert case.handled_at is not None


def _reuse_findings(world: World, case: Case) -> dict[str, tuple[str, str]]:
    from duban.photochecks.models import PhotoFinding

    rows = world.session.scalars(
        select(PhotoFinding).where(PhotoFinding.case_id == case.id, PhotoFinding.check == "reused")
    )
    return {r.photo_id: (r.result, r.reason) for r in rows}


def test_an_after_photo_identical_to_the_problem_photo_is_flagged(world: World) -> None:
    before = world.photo((200, 0, 0), by="operator")
    case = world.case_in(CaseStatus.HANDLING, photo_ids=[before])
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[before])
    # One path: the photo checks' *reused* finding, also for a picture of one colour.
    assert _reuse_findings(world, case) == {before: ("fail", "same_as_before")}
    assert _payload(world, case)["verdict"] == "fail"
    assert "evidence_flags" not in _payload(world, case)
    assert case.status == CaseStatus.AWAITING_CHECK  # it finds; people decide


def test_an_after_photo_used_on_another_case_is_flagged(world: World) -> None:
    other = world.case_in(CaseStatus.HANDLING)
    used = world.photo((0, 0, 200))
    world.act(other, Action.FEEDBACK, "handler", photo_ids=[used])
    case = world.case_in(CaseStatus.HANDLING)
    fresh_photo = world.photo((50, 50, 50))
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[used, fresh_photo])
    found = _reuse_findings(world, case)
    assert found[used] == ("fail", "reused")
    assert found[fresh_photo] == ("skipped", "flat")


def test_the_same_picture_uploaded_twice_is_still_recognised(world: World) -> None:
    before = world.photo((10, 20, 30), by="operator")
    case = world.case_in(CaseStatus.HANDLING, photo_ids=[before])
    again = world.photo((10, 20, 30))  # the same bytes under a new upload id
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[again])
    assert _reuse_findings(world, case) == {again: ("fail", "same_as_before")}


# --------------------------------------------------------------------------- errors


def test_illegal_actions_name_status_action_and_role(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    with refused(world, case, IllegalTransition) as caught:
        world.act(case, Action.CLOSE, "shift_lead")
    assert caught.value.detail == {"status": "handling", "action": "close", "role": "shift_lead"}
    for word in ("'handling'", "'close'", "'shift_lead'"):
        assert word in str(caught.value)
    with refused(world, case, IllegalTransition) as caught:
        world.act(case, Action.FEEDBACK, "dispatcher", photo_ids=[world.photo()])
    assert "only handler may do this" in str(caught.value)


def test_report_is_not_an_action(world: World) -> None:
    case = world.report()
    with refused(world, case, InvalidInput):
        world.act(case, Action.REPORT, "operator")


def test_an_unknown_case_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.act(424242, Action.SUPERVISE, "supervisor", note="x")


def test_the_clock_moves_only_forward_in_events(world: World, clock: FixedClock) -> None:
    case = world.report()
    clock.advance(hours=1)
    world.act(case, Action.REJECT, "operator", reason="x")
    rows = events(world.session_factory, case.id)
    assert rows[1].occurred_at - rows[0].occurred_at == timedelta(hours=1)
    assert rows[0].occurred_at == local(2026, 11, 23, 9, 0)
