"""The services behind the pages, without HTTP: citizens' tracking codes, the queues, the
map's data, the dashboard's figures and the admin's directory."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from duban.accounts.directory import update_user
from duban.cases import mapdata
from duban.cases.access import visible_cases
from duban.cases.actions import ActionInput, NewCase
from duban.cases.casefile import case_file, viewer_actions
from duban.cases.dashboard import dashboard
from duban.cases.mapdata import BBox, cell_degrees, map_data
from duban.cases.models import Case, CaseEvent
from duban.cases.public import (
    Receipt,
    anonymous_citizen,
    normalize_code,
    public_view,
    rate_case,
    report_as_citizen,
    say_not_fixed,
    tracked_case,
)
from duban.cases.queries import CaseFilter
from duban.cases.workbench import Queue, batch_act, collector_tasks, work_list
from duban.cases.workflow import Action, CaseStatus, Rating, Source
from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.reference.holidays import calendar_gaps, calendar_overrides, set_calendar_day
from duban.reference.search import search_categories
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import SHANGHAI, FixedClock


def citizen_report(world: World, **kw: object) -> tuple[Case, str]:
    data = {
        "source": Source.CITIZEN,
        "category_code": "E0102",
        "lat": LAT,
        "lon": LON,
        "description": "垃圾",
        **kw,
    }
    receipt = report_as_citizen(world.session, clock=world.clock, data=NewCase(**data))  # type: ignore[arg-type]
    assert receipt.tracking_code is not None
    return receipt.case, receipt.tracking_code


def test_one_report_form_makes_one_case_with_or_without_an_account(world: World) -> None:
    token = "k" * 24

    def send(category: str, actor: Actor | None = None, key: str = token) -> Receipt:
        data = NewCase(
            source=Source.CITIZEN, category_code=category, lat=LAT, lon=LON, description="垃圾"
        )
        return report_as_citizen(
            world.session, clock=world.clock, data=data, actor=actor, form_token=key
        )

    first = send("E0102")
    assert first.created
    again = send("E0103")  # Back, another category, submit: still the first case
    assert not again.created
    assert again.tracking_code is None
    assert again.case.id == first.case.id
    # A signed-in citizen's own key space: the same token is another form of theirs.
    mine = send("E0102", actor=world.actor("citizen"))
    assert mine.created
    assert send("E0102", actor=world.actor("citizen")).case.id == mine.case.id
    assert world.session.scalar(select(func.count()).select_from(Case)) == 2
    with pytest.raises(InvalidInput, match="form token"):
        send("E0102", key="short")


def close(world: World, case: Case) -> None:
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.VERIFY, "collector")
    world.act(case, Action.FILE, "shift_lead")
    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    world.act(case, Action.ACCEPT, "handler")
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=True)
    world.act(case, Action.CLOSE, "shift_lead")


def test_a_tracking_code_is_forgiving_to_type_and_kept_only_hashed(world: World) -> None:
    case, code = citizen_report(world, reporter_phone="13800000000")
    assert normalize_code(code.lower().replace("-", " ")) == code
    assert normalize_code("not a code") == ""
    assert tracked_case(world.session, code.lower()).id == case.id
    stored = world.session.execute(select(CaseEvent.payload)).scalars().all()
    assert all(code not in p for p in stored)
    with pytest.raises(NotFound):
        tracked_case(world.session, "00000-00000")
    # Reported without an account: no reporter, no creator, a citizen's event.
    assert case.reporter_id is None
    assert case.status == CaseStatus.REPORTED


def test_an_anonymous_citizen_sees_only_the_case_of_its_code(world: World) -> None:
    mine, _ = citizen_report(world)
    other, _ = citizen_report(world)
    visible = world.session.scalars(select(Case.id).where(visible_cases(anonymous_citizen())))
    assert list(visible) == []  # not every case without a reporter
    granted = world.session.scalars(
        select(Case.id).where(visible_cases(anonymous_citizen(mine.id)))
    )
    assert list(granted) == [mine.id]
    assert other.id != mine.id


def test_rating_and_not_fixed_are_events_on_a_closed_case_only(world: World) -> None:
    case, code = citizen_report(world)
    with pytest.raises(Conflict):  # not closed yet: the workflow table refuses
        rate_case(world.session, clock=world.clock, code=code, rating="satisfied")
    close(world, case)
    with pytest.raises(InvalidInput):
        rate_case(world.session, clock=world.clock, code=code, rating="so-so")
    rated = rate_case(world.session, clock=world.clock, code=code, rating="basically_satisfied")
    assert rated.status == CaseStatus.CLOSED
    with pytest.raises(Conflict):
        rate_case(world.session, clock=world.clock, code=code, rating="satisfied")
    with pytest.raises(InvalidInput):
        say_not_fixed(world.session, clock=world.clock, code=code, reason=" ")
    flagged = say_not_fixed(world.session, clock=world.clock, code=code, reason="又脏了")
    assert flagged.is_supervised
    assert flagged.status == CaseStatus.CLOSED
    view = public_view(world.session, flagged)
    assert view.rating == Rating.BASICALLY_SATISFIED
    assert view.said_not_fixed
    assert [e.action for e in view.events][-2:] == [Action.RATE, Action.NOT_FIXED]
    assert Action.ASSIGN not in {e.action for e in view.events}  # internal work stays inside
    queue = work_list(
        world.session, actor=world.actor("supervisor"), queue=Queue.NOT_FIXED, now=world.clock.now()
    )
    assert [r.case.id for r in queue.rows] == [case.id]


def test_queues_come_in_timer_order_and_batches_report_each_case(
    world: World, clock: FixedClock
) -> None:
    first = world.case_in(CaseStatus.FILED)
    clock.advance(minutes=30)
    second = world.case_in(CaseStatus.FILED)
    queue = work_list(
        world.session, actor=world.actor("dispatcher"), queue=Queue.TO_DISPATCH, now=clock.now()
    )
    assert [r.case.id for r in queue.rows] == [first.id, second.id]
    assert queue.total == 2
    assert queue.rows[0].deadline.step_light in ("green", "yellow", "red")
    voided = world.case_in(CaseStatus.FILED)
    world.act(voided, Action.VOID, "shift_lead", reason="重复")
    results = batch_act(
        world.session,
        actor=world.actor("dispatcher"),
        clock=clock,
        case_ids=[first.id, voided.id, second.id],
        action=Action.DISPATCH,
        params=ActionInput(unit="SZGC"),
    )
    assert [r.ok for r in results] == [True, False, True]
    assert "voided" in str(results[1].message)


def test_the_unit_inbox_holds_lead_and_helper_cases_and_only_those(world: World) -> None:
    lead = world.case_in(CaseStatus.DISPATCHED)
    helped = world.case_in(CaseStatus.FILED)
    world.act(helped, Action.DISPATCH, "dispatcher", unit="HWC", helper_units=["SZGC"])
    world.case_in(CaseStatus.FILED)
    inbox = work_list(
        world.session, actor=world.actor("handler"), queue=Queue.INBOX, now=world.clock.now()
    )
    assert {r.case.id for r in inbox.rows} == {lead.id, helped.id}
    # A helper may look but not act for the lead unit.
    assert viewer_actions(world.session, helped, world.actor("handler")) == []
    assert Action.ACCEPT in viewer_actions(world.session, lead, world.actor("handler"))


def test_collector_tasks_are_nearest_first(world: World) -> None:
    far = world.report(lat=LAT + 0.01, lon=LON)
    near = world.report(lat=LAT + 0.001, lon=LON)
    for case in (far, near):
        world.act(case, Action.ASSIGN, "operator", collector="collector")
    rows = collector_tasks(
        world.session, actor=world.actor("collector"), now=world.clock.now(), lat=LAT, lon=LON
    )
    assert [r.case.id for r in rows] == [near.id, far.id]
    assert rows[0].distance_m is not None
    assert rows[0].distance_m < 200
    beat = collector_tasks(world.session, actor=world.actor("collector"), now=world.clock.now())
    assert len(beat) == 2


def test_the_case_file_offers_only_what_the_viewer_can_do_now(world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    now = world.clock.now()
    assert case_file(world.session, actor=world.actor("dispatcher"), case_id=case.id, now=now)
    handler = case_file(world.session, actor=world.actor("handler"), case_id=case.id, now=now)
    assert Action.FEEDBACK in handler.actions
    world.act(case, Action.REQUEST_PARK, "handler", reason="等待产权单位")
    again = case_file(world.session, actor=world.actor("handler"), case_id=case.id, now=now)
    assert Action.REQUEST_PARK not in again.actions
    dispatcher = case_file(world.session, actor=world.actor("dispatcher"), case_id=case.id, now=now)
    assert Action.APPROVE_PARK in dispatcher.actions
    assert Action.APPROVE_EXTENSION not in dispatcher.actions
    with pytest.raises(NotFound):
        case_file(world.session, actor=world.actor("handler2"), case_id=case.id, now=now)


def test_map_data_counts_cells_far_away_and_points_close_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        world.case_in(CaseStatus.DISPATCHED, lat=LAT + i * 0.05, lon=LON)
    now = world.clock.now()
    actor = world.actor("leader")
    points = map_data(world.session, actor=actor, filters=CaseFilter(), now=now, zoom=16)
    assert points["mode"] == "points"
    assert len(points["points"]) == 4
    few = map_data(world.session, actor=actor, filters=CaseFilter(), now=now, zoom=9)
    assert few["mode"] == "points"  # a handful of cases: markers at any zoom
    monkeypatch.setattr(mapdata, "POINTS_ALWAYS", 3)
    cells = map_data(world.session, actor=actor, filters=CaseFilter(), now=now, zoom=9)
    assert cells["mode"] == "cells"
    assert sum(c[2] for c in cells["cells"]) == 4
    assert all(c[3] == c[2] for c in cells["cells"])  # all open
    box = BBox(south=LAT - 0.01, west=LON - 0.01, north=LAT + 0.01, east=LON + 0.01)
    near = map_data(world.session, actor=actor, filters=CaseFilter(), now=now, bbox=box, zoom=16)
    assert near["total"] == 1
    assert cell_degrees(10) > cell_degrees(12)
    with pytest.raises(ValueError, match="four numbers"):
        BBox.parse("1,2,3")


def test_dashboard_counts_todays_intake_overdue_and_unit_rates(
    world: World, clock: FixedClock
) -> None:
    world.case_in(CaseStatus.CLOSED)
    late = world.case_in(CaseStatus.HANDLING)
    world.report(source=Source.HOTLINE)
    clock.advance(days=3)
    board = dashboard(world.session, now=clock.now(), tz=SHANGHAI)
    assert board.intake_total == 0  # three days later: nothing reported today
    assert board.open == 2
    assert board.overdue == 1
    szgc = next(u for u in board.units if u.code == "SZGC")
    assert szgc.open == 1
    assert szgc.overdue == 1
    assert sum(d.reported for d in board.trend) == 3
    assert sum(d.closed for d in board.trend) == 1
    assert late.status == CaseStatus.HANDLING


def test_admin_calendar_overrides_and_user_changes(world: World, clock: FixedClock) -> None:
    admin = world.actor("admin")
    holidays, _workdays = set_calendar_day(
        world.session, actor=admin, clock=clock, day=date(2026, 12, 31), kind="holiday"
    )
    assert holidays == ["2026-12-31"]
    set_calendar_day(
        world.session, actor=admin, clock=clock, day=date(2026, 12, 31), kind="workday"
    )
    assert calendar_overrides(world.session) == ([], ["2026-12-31"])
    with pytest.raises(InvalidInput):
        update_user(world.session, actor=admin, username="admin", role="leader")
    with pytest.raises(InvalidInput):
        update_user(world.session, actor=admin, username="dispatcher", role="handler")
    user = update_user(
        world.session, actor=admin, username="dispatcher", role="handler", unit_code="HWC"
    )
    assert user.unit_id == world.unit2.id
    with pytest.raises(PermissionDenied):
        update_user(world.session, actor=world.actor("leader"), username="citizen", active=False)


def test_years_without_a_holiday_schedule_are_found(world: World, clock: FixedClock) -> None:
    """chinesecalendar knows 2004 up to its release's last year, the holidays package the
    statutory days up to 2100; beyond, an admin enters the schedule. Far-future years
    stand in for "nobody knows" here (tests/reference/test_holidays.py has 2027)."""
    session, admin = world.session, world.actor("admin")

    def gaps(now: datetime) -> list[int]:
        return [gap.year for gap in calendar_gaps(session, now)]

    assert gaps(datetime(2198, 6, 1, 4, tzinfo=UTC)) == [2198, 2199]
    set_calendar_day(session, actor=admin, clock=clock, day=date(2198, 10, 1), kind="holiday")
    assert gaps(datetime(2198, 6, 1, 4, tzinfo=UTC)) == [2199]
    # A make-up workday alone says nothing about the year's days off.
    set_calendar_day(session, actor=admin, clock=clock, day=date(2199, 9, 28), kind="workday")
    assert gaps(datetime(2198, 6, 1, 4, tzinfo=UTC)) == [2199]
    # Both in the national calendar:
    assert gaps(datetime(2025, 6, 1, 4, tzinfo=UTC)) == []
    # The year is the city's: 20:00 UTC on 31 December is already 1 January in Shanghai.
    assert gaps(datetime(2198, 12, 31, 20, tzinfo=UTC)) == [2199, 2200]


def test_category_search_finds_names_before_keywords(world: World) -> None:
    hits = search_categories(world.session, "井盖")
    assert hits
    assert all("井盖" in h.name or "井盖" in " ".join(h.keywords) for h in hits)
    assert search_categories(world.session, "") == []
    by_code = search_categories(world.session, "e0102")
    assert by_code[0].code == "E0102"
    assert world.session.scalar(select(func.count()).select_from(Case)) == 0
