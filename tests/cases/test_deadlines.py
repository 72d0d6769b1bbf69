"""Deadlines through the use cases: the clock starts at dispatch, counts as cities count,
stops while parked, moves with an approved extension, and every step has its own light.

Filing conditions are picked from the shipped taxonomy in the database by their limit, so
the tests follow the data rather than hard-coded codes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban import notify
from duban.cases.models import Case
from duban.cases.presenters import DeadlineView, deadline_view
from duban.cases.workflow import Action, CaseStatus, Source
from duban.jobs.sweep import sweep_overdue
from duban.reference.policy import load_policy, save_policy, shipped_policy_data
from tests.factories.cases import dispatched_case, events, fresh
from tests.factories.reference import condition
from tests.factories.world import World
from tests.fakes import FixedClock, local


def _view(session: Session, case: Case, now: datetime) -> DeadlineView:
    return deadline_view(case, load_policy(session), now)


# --------------------------------------------------------------------------- holidays


@pytest.mark.parametrize(
    ("days", "due"),
    [
        # 2025-09-30 16:00 leaves 2 h that day; Oct 1–8 are National Day holidays.
        (1, local(2025, 10, 9, 16, 0)),
        (2, local(2025, 10, 10, 16, 0)),
        # Saturday Oct 11 is a make-up workday (调休), so the third day lands on it.
        (3, local(2025, 10, 11, 16, 0)),
    ],
)
def test_a_case_dispatched_on_the_eve_of_national_day_waits_out_the_holiday(
    session: Session, world: World, days: int, due: datetime
) -> None:
    cond = condition(session, days, "work_days")
    case = dispatched_case(world, cond, at=local(2025, 9, 30, 16, 0))
    assert case.status == CaseStatus.DISPATCHED
    assert case.condition_code == cond.code
    assert case.due_at == due


def test_the_dispatch_event_records_the_due_time(session: Session, world: World) -> None:
    cond = condition(session, 2, "work_days")
    case = dispatched_case(world, cond, at=local(2025, 9, 30, 16, 0))
    assert case.due_at == local(2025, 10, 10, 16, 0)
    assert case.limit_amount == 2
    assert case.limit_unit == "work_days"
    assert case.clock_started_at == local(2025, 9, 30, 16, 0)
    assert case.dispatched_at == local(2025, 9, 30, 16, 0)
    dispatch = events(world.session_factory, case.id)[-1]
    assert dispatch.action == "dispatch"
    assert '"due_at":"2025-10-10T08:00:00+00:00"' in dispatch.payload  # stored in UTC


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Saturday 2025-09-27 is off, Sunday 2025-09-28 is a make-up workday (调休).
        (local(2025, 9, 26, 16, 0), 1, local(2025, 9, 28, 16, 0)),
        (local(2025, 9, 26, 16, 0), 2, local(2025, 9, 29, 16, 0)),
        # Dispatched on the Saturday off: the clock starts Sunday 08:30, a whole day.
        (local(2025, 9, 27, 10, 0), 1, local(2025, 9, 28, 18, 0)),
    ],
)
def test_a_make_up_sunday_counts_as_a_working_day(
    session: Session, world: World, start: datetime, days: int, due: datetime
) -> None:
    case = dispatched_case(world, condition(session, days, "work_days"), at=start)
    assert case.due_at == due


@pytest.mark.parametrize(
    ("hours", "due"),
    [(2, local(2026, 11, 23, 16, 0)), (4, local(2026, 11, 23, 18, 0))],
)
def test_work_hours_started_in_the_lunch_break_count_from_the_afternoon(
    session: Session, world: World, hours: int, due: datetime
) -> None:
    case = dispatched_case(
        world, condition(session, hours, "work_hours"), at=local(2026, 11, 23, 12, 30)
    )
    assert case.due_at == due


@pytest.mark.parametrize(
    ("amount", "unit", "start", "due"),
    [
        (2, "hours", local(2026, 11, 27, 17, 30), local(2026, 11, 27, 19, 30)),
        (24, "hours", local(2026, 11, 27, 17, 30), local(2026, 11, 28, 17, 30)),
        (3, "days", local(2026, 11, 27, 17, 30), local(2026, 11, 30, 17, 30)),
        (30, "minutes", local(2026, 11, 27, 17, 45), local(2026, 11, 27, 18, 15)),
        # Calendar time does not stop for National Day either.
        (24, "hours", local(2025, 9, 30, 16, 0), local(2025, 10, 1, 16, 0)),
    ],
)
def test_calendar_limits_run_through_nights_weekends_and_holidays(
    session: Session,
    world: World,
    amount: int,
    unit: str,
    start: datetime,
    due: datetime,
) -> None:
    case = dispatched_case(world, condition(session, amount, unit), at=start)
    assert case.due_at == due


# --------------------------------------------------------------------------- source rules


def test_third_party_inspection_cases_are_capped_at_three_work_days(
    session: Session, world: World
) -> None:
    five = condition(session, 5, "work_days")
    two = condition(session, 2, "work_days")
    monday = local(2026, 11, 23, 9, 0)
    capped = dispatched_case(world, five, at=monday, source=Source.INSPECTION)
    hotline = dispatched_case(world, five, at=monday, source=Source.HOTLINE)
    short = dispatched_case(world, two, at=monday, source=Source.INSPECTION)
    assert capped.due_at == local(2026, 11, 26, 9, 0)
    assert hotline.due_at == local(2026, 11, 30, 9, 0)
    assert short.due_at == local(2026, 11, 25, 9, 0)  # under the cap: its own limit


@pytest.mark.parametrize("source", [Source.PATROL, Source.CITIZEN])
def test_patrol_and_citizen_cases_must_close_by_month_end(
    session: Session, world: World, source: Source
) -> None:
    friday = local(2025, 11, 28, 10, 0)
    case = dispatched_case(world, condition(session, 5, "work_days"), at=friday, source=source)
    assert case.due_at == local(2025, 11, 30, 23, 59, 59)
    # A limit that ends before the month does keeps its own deadline (the earlier wins).
    quick = dispatched_case(world, condition(session, 2, "hours"), at=friday, source=source)
    assert quick.due_at == local(2025, 11, 28, 12, 0)


def test_hotline_cases_have_no_month_end_rule(session: Session, world: World) -> None:
    case = dispatched_case(world, condition(session, 5, "work_days"), at=local(2025, 11, 28, 10, 0))
    assert case.due_at == local(2025, 12, 5, 10, 0)


# --------------------------------------------------------------------------- local overrides


def _override(session: Session, clock: FixedClock, **calendar: list[str]) -> None:
    data = shipped_policy_data()
    data["calendar"] = {**data["calendar"], **calendar}
    save_policy(session, data, now=clock.now())
    session.commit()


def test_a_local_extra_holiday_moves_the_due_date(
    session: Session, world: World, clock: FixedClock
) -> None:
    cond = condition(session, 2, "work_days")
    before = dispatched_case(world, cond, at=local(2026, 11, 23, 9, 0))
    assert before.due_at == local(2026, 11, 25, 9, 0)
    _override(session, clock, holidays=["2026-11-24"])
    after = dispatched_case(world, cond, at=local(2026, 11, 23, 9, 0))
    assert after.due_at == local(2026, 11, 26, 9, 0)
    assert fresh(world.session_factory, before.id).due_at == before.due_at  # stored, not recomputed


def test_a_local_extra_workday_moves_the_due_date(
    session: Session, world: World, clock: FixedClock
) -> None:
    cond = condition(session, 1, "work_days")
    friday = local(2026, 11, 27, 9, 0)
    assert dispatched_case(world, cond, at=friday).due_at == local(2026, 11, 30, 9, 0)
    _override(session, clock, workdays=["2026-11-28"])
    assert dispatched_case(world, cond, at=friday).due_at == local(2026, 11, 28, 9, 0)


def test_a_local_override_beats_the_national_calendar(
    session: Session, world: World, clock: FixedClock
) -> None:
    # The city works on National Day itself (an extra workday) and takes the 调休 Saturday off.
    _override(session, clock, workdays=["2025-10-01"], holidays=["2025-10-11"])
    cond = condition(session, 3, "work_days")
    case = dispatched_case(world, cond, at=local(2025, 9, 30, 16, 0))
    # 2 h on Sep 30, 7.5 h on Oct 1, 7.5 h on Oct 9, 5.5 h on Oct 10 (Oct 11 is now off).
    assert case.due_at == local(2025, 10, 10, 16, 0)


# --------------------------------------------------------------------------- park and resume


def test_parking_stops_the_clock_and_resume_shifts_the_deadline(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2026, 11, 23, 9))
    world.act(case, Action.ACCEPT, "handler")
    assert case.due_at == local(2026, 11, 25, 9, 0)
    clock.set(local(2026, 11, 23, 10, 0))
    world.act(case, Action.REQUEST_PARK, "handler", reason="需协调产权单位")
    world.act(case, Action.APPROVE_PARK, "dispatcher")
    assert case.status == CaseStatus.PARKED
    parked = _view(session, case, clock.now())
    assert parked.clock == "paused"
    assert parked.seconds_left == 14 * 3600  # Mon 10–12, 14–18, Tue all day, Wed 08:30–09:00

    clock.set(local(2026, 11, 24, 10, 0))  # one whole working day later
    still = _view(session, case, clock.now())
    assert still.seconds_left == parked.seconds_left
    assert not still.is_overdue

    world.act(case, Action.RESUME, "dispatcher", note="已协调")
    assert case.status == CaseStatus.HANDLING
    assert case.due_at == local(2026, 11, 26, 9, 0)  # moved by the 7.5 working hours parked
    assert case.parked_at is None
    resumed = _view(session, case, clock.now())
    assert resumed.clock == "running"
    assert resumed.seconds_left == parked.seconds_left
    assert resumed.light == "green"
    payload = events(world.session_factory, case.id)[-1].payload
    assert local(2026, 11, 26, 9, 0).isoformat() not in payload  # stored in UTC
    assert "2026-11-26T01:00:00+00:00" in payload
    # The light measures only the time the clock ran: by Wed 14:45 the unit has used
    # 1.5 of its 2 working days (green), though 2.5 have passed since dispatch.
    assert _view(session, case, local(2026, 11, 25, 14, 45)).light == "green"
    assert _view(session, case, local(2026, 11, 25, 15, 31)).light == "yellow"
    assert _view(session, case, local(2026, 11, 26, 9, 1)).light == "red"


def test_a_parked_calendar_hours_case_resumes_with_the_same_time_left(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 24, "hours"), at=local(2026, 11, 23, 9))
    assert case.due_at == local(2026, 11, 24, 9, 0)
    clock.set(local(2026, 11, 23, 10, 0))
    world.act(case, Action.REQUEST_PARK, "handler", reason="等待审批")
    world.act(case, Action.APPROVE_PARK, "dispatcher")
    clock.set(local(2026, 11, 23, 15, 0))
    world.act(case, Action.RESUME, "dispatcher")
    assert case.due_at == local(2026, 11, 24, 14, 0)


def test_a_denied_park_keeps_the_clock_running(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2026, 11, 23, 9))
    world.act(case, Action.REQUEST_PARK, "handler", reason="需协调")
    world.act(case, Action.DENY_PARK, "dispatcher", reason="可以先处置")
    assert case.status == CaseStatus.DISPATCHED
    assert case.pending_park_reason is None
    assert case.due_at == local(2026, 11, 25, 9, 0)
    assert _view(session, case, clock.now()).clock == "running"


# --------------------------------------------------------------------------- extensions


def test_an_approved_extension_moves_the_deadline_and_clears_the_overdue_mark(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2026, 11, 23, 9))
    clock.set(local(2026, 11, 25, 10, 0))
    assert sweep_overdue(session, clock=clock).supervised == [case.code]
    case = fresh(world.session_factory, case.id)
    assert case.overdue_marked_at is not None
    assert _view(session, case, clock.now()).is_overdue

    until = local(2026, 11, 27, 18, 0)
    world.act(case.id, Action.REQUEST_EXTENSION, "handler", reason="材料未到", until=until)
    pending = fresh(world.session_factory, case.id)
    assert pending.pending_extension_until == until
    assert pending.due_at == local(2026, 11, 25, 9, 0)  # unchanged until approved
    world.act(case.id, Action.APPROVE_EXTENSION, "dispatcher")
    case = fresh(world.session_factory, case.id)
    assert case.due_at == until
    assert case.pending_extension_until is None
    assert case.overdue_marked_at is None
    view = _view(session, case, clock.now())
    assert not view.is_overdue
    assert view.seconds_left is not None
    assert view.seconds_left > 0

    assert sweep_overdue(session, clock=clock).supervised == []
    clock.set(local(2026, 11, 27, 18, 1))
    assert sweep_overdue(session, clock=clock).supervised == [case.code]  # overdue again


def test_an_extension_by_amount_counts_in_the_cases_limit_unit(
    session: Session, world: World
) -> None:
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2026, 11, 26, 9))
    assert case.due_at == local(2026, 11, 30, 9, 0)
    world.act(case, Action.REQUEST_EXTENSION, "handler", reason="雨天", amount=1)
    assert case.pending_extension_until == local(2026, 12, 1, 9, 0)


def test_a_denied_extension_keeps_the_deadline(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2026, 11, 23, 9))
    world.act(case, Action.REQUEST_EXTENSION, "handler", reason="材料未到", amount=1)
    assert case.pending_extension_until == local(2026, 11, 26, 9, 0)
    world.act(case, Action.DENY_EXTENSION, "dispatcher", reason="理由不充分")
    case = fresh(world.session_factory, case.id)
    assert case.due_at == local(2026, 11, 25, 9, 0)
    assert case.pending_extension_until is None
    assert case.pending_extension_reason is None


def test_an_extension_that_is_already_past_keeps_the_overdue_mark(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    world.act(case, Action.REQUEST_EXTENSION, "handler", reason="x", until=local(2026, 11, 23, 12))
    clock.set(local(2026, 11, 23, 13, 0))
    assert sweep_overdue(session, clock=clock).supervised == [case.code]
    world.act(case.id, Action.APPROVE_EXTENSION, "dispatcher")
    case = fresh(world.session_factory, case.id)
    assert case.due_at == local(2026, 11, 23, 12, 0)
    assert case.overdue_marked_at is not None
    assert sweep_overdue(session, clock=clock).supervised == []


# --------------------------------------------------------------------------- steps


def _step(
    session: Session, case_id: int, factory: sessionmaker[Session], now: datetime
) -> DeadlineView:
    return _view(session, fresh(factory, case_id), now)


def test_each_step_has_its_own_limit_and_light(
    session: Session, world: World, clock: FixedClock
) -> None:
    factory = world.session_factory
    start = local(2026, 11, 23, 9, 0)
    clock.set(start)
    case = world.report()  # hotline: waits for 核实 (verify: 2 work hours)
    view = _step(session, case.id, factory, start)
    assert (view.step, view.step_due_at, view.step_light) == (
        "verify",
        local(2026, 11, 23, 11, 0),
        "green",
    )
    assert view.clock == "not_started"
    assert view.due_at is None
    assert view.light is None
    for minutes, light in [(95, "green"), (96, "yellow"), (120, "yellow"), (121, "red")]:
        assert _step(session, case.id, factory, start + timedelta(minutes=minutes)).step_light == (
            light
        ), minutes

    clock.set(local(2026, 11, 23, 10, 0))
    world.act(case, Action.ASSIGN, "operator", collector="collector")  # no new step
    assert fresh(factory, case.id).step_started_at == start

    clock.set(local(2026, 11, 23, 11, 30))
    world.act(case, Action.VERIFY, "collector")  # file: 1 work hour, across lunch
    view = _step(session, case.id, factory, clock.now())
    assert (view.step, view.step_due_at) == ("file", local(2026, 11, 23, 14, 30))
    assert _step(session, case.id, factory, local(2026, 11, 23, 14, 20)).step_light == "yellow"
    assert _step(session, case.id, factory, local(2026, 11, 23, 14, 31)).step_light == "red"

    clock.set(local(2026, 11, 23, 14, 0))
    world.act(case, Action.FILE, "shift_lead")
    view = _step(session, case.id, factory, clock.now())
    assert (view.step, view.step_due_at) == ("dispatch", local(2026, 11, 23, 15, 0))

    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    view = _step(session, case.id, factory, clock.now())
    assert (view.step, view.step_due_at, view.step_light) == (None, None, None)
    world.act(case, Action.ACCEPT, "handler")

    clock.set(local(2026, 11, 23, 16, 0))
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    view = _step(session, case.id, factory, clock.now())
    # check: 4 work hours = 16:00–18:00 and 08:30–10:30 the next day.
    assert (view.step, view.step_due_at) == ("check", local(2026, 11, 24, 10, 30))
    assert view.clock == "stopped"
    assert _step(session, case.id, factory, local(2026, 11, 24, 9, 41)).step_light == "green"
    assert _step(session, case.id, factory, local(2026, 11, 24, 9, 42)).step_light == "yellow"
    assert _step(session, case.id, factory, local(2026, 11, 24, 10, 31)).step_light == "red"

    clock.set(local(2026, 11, 24, 9, 0))
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=True)
    view = _step(session, case.id, factory, clock.now())
    assert (view.step, view.step_due_at) == ("close", local(2026, 11, 24, 10, 0))
    world.act(case, Action.CLOSE, "shift_lead")
    view = _step(session, case.id, factory, clock.now())
    assert (view.step, view.step_light) == (None, None)


def test_a_returned_case_starts_the_dispatch_step_again(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, at=local(2026, 11, 23, 9, 0))
    clock.set(local(2026, 11, 23, 15, 0))
    world.act(case, Action.RETURN, "handler", reason="不属于本单位")
    view = _view(session, case, clock.now())
    assert (view.step, view.step_due_at) == ("dispatch", local(2026, 11, 23, 16, 0))
    assert (view.due_at, view.clock) == (None, "not_started")


# --------------------------------------------------------------------------- deadline_view


def test_deadline_view_counts_down_in_working_time_and_turns_red_after_the_deadline(
    session: Session, world: World, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2026, 11, 23, 9))
    due = local(2026, 11, 25, 9, 0)

    def at(*moment: int) -> DeadlineView:
        return _view(session, case, local(*moment))

    view = at(2026, 11, 23, 9, 0)
    assert (view.due_at, view.seconds_left, view.is_overdue, view.light, view.clock) == (
        due,
        15 * 3600,
        False,
        "green",
        "running",
    )
    assert at(2026, 11, 24, 14, 0).light == "green"  # 10.5 of 15 working hours: 70 %
    view = at(2026, 11, 24, 16, 0)  # 12.5 of 15: 83 %
    assert (view.light, view.seconds_left) == ("yellow", 2.5 * 3600)
    assert at(2026, 11, 24, 20, 0).seconds_left == 0.5 * 3600  # evenings do not count
    view = at(2026, 11, 25, 9, 0)  # exactly at the deadline: still on time
    assert (view.light, view.seconds_left, view.is_overdue) == ("yellow", 0, False)
    view = at(2026, 11, 25, 9, 1)
    assert (view.light, view.seconds_left, view.is_overdue) == ("red", -60, True)


def test_deadline_view_stops_when_the_fix_is_reported(
    session: Session, world: World, clock: FixedClock
) -> None:
    on_time = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    late = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    world.act(on_time, Action.ACCEPT, "handler")
    world.act(late, Action.ACCEPT, "handler")
    clock.set(local(2026, 11, 23, 10, 0))
    world.act(on_time, Action.FEEDBACK, "handler", photo_ids=[world.photo((1, 2, 3))])
    clock.set(local(2026, 11, 23, 12, 0, 1))
    world.act(late, Action.FEEDBACK, "handler", photo_ids=[world.photo((3, 2, 1))])
    later = local(2026, 11, 30, 9, 0)
    view = _view(session, on_time, later)
    assert (view.clock, view.is_overdue, view.seconds_left, view.light) == (
        "stopped",
        False,
        None,
        None,
    )
    assert _view(session, late, later).is_overdue


# --------------------------------------------------------------------------- yellow light


@pytest.mark.parametrize(
    ("dispatched", "off_work"),
    [
        # Friday 16:00, due Tuesday 16:00: by Monday 21:00 80 % of the wall-clock span has
        # passed, but only 9.5 of the 15 working hours.
        (local(2026, 11, 27, 16, 0), local(2026, 11, 30, 21, 0)),
        # The eve of National Day 2025, due 10-10 16:00: on 10-08 (a holiday) 80 % of the
        # wall-clock span has passed, but only the 2 working hours of 09-30.
        (local(2025, 9, 30, 16, 0), local(2025, 10, 8, 17, 0)),
    ],
)
def test_the_yellow_light_and_its_warning_come_at_the_same_share_of_working_time(
    session: Session, world: World, clock: FixedClock, dispatched: datetime, off_work: datetime
) -> None:
    notify.set_preferences(
        session,
        actor=world.actor("handler"),
        channels=["email"],
        email="h@example.org",
        now=clock.now(),
    )
    case = dispatched_case(world, condition(session, 2, "work_days"), at=dispatched)
    policy = load_policy(session)
    limit_seconds = 2 * policy.calendar.working_day_seconds
    assert case.due_at == policy.calendar.add_working_seconds(dispatched, limit_seconds)
    wall_share = (off_work - dispatched) / (case.due_at - dispatched)
    assert wall_share >= policy.yellow_at  # where the wall clock would have warned

    def light_and_warning(now: datetime) -> tuple[str | None, bool]:
        clock.set(now)
        warned = sweep_overdue(session, clock=clock).warned == [case.code]
        session.expire_all()
        fresh_case = session.get(Case, case.id)
        assert fresh_case is not None
        return _view(session, fresh_case, now).light, warned

    assert light_and_warning(off_work) == ("green", False)
    yellow = policy.calendar.add_working_seconds(dispatched, policy.yellow_at * limit_seconds)
    assert light_and_warning(yellow - timedelta(minutes=1)) == ("green", False)
    assert light_and_warning(yellow + timedelta(minutes=1)) == ("yellow", True)
    assert light_and_warning(yellow + timedelta(minutes=2)) == ("yellow", False)  # once
