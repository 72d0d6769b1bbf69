"""The deadline sweep: marks each overdue running case once, with one 督办 event."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus
from duban.cli import app
from duban.jobs.sweep import SweepReport, sweep_overdue
from duban.reference.policy import save_policy, shipped_policy_data
from tests.factories.cases import dispatched_case, events, fresh
from tests.factories.reference import condition
from tests.factories.world import World
from tests.fakes import FixedClock, local


def _supervise_events(factory: sessionmaker[Session], case_id: int) -> list[CaseEvent]:
    return [e for e in events(factory, case_id) if e.action == "supervise"]


def _overdue_world(world: World, session: Session) -> dict[str, Case]:
    """Cases dispatched Monday 09:00 with 2 hours each, in every state the sweep meets."""
    two_hours = condition(session, 2, "hours")
    monday = local(2026, 11, 23, 9, 0)
    cases = {
        "dispatched": dispatched_case(world, two_hours, at=monday),
        "handling": dispatched_case(world, two_hours, at=monday),
        "parked": dispatched_case(world, two_hours, at=monday),
        "fixed": dispatched_case(world, two_hours, at=monday),
        "closed": dispatched_case(world, two_hours, at=monday),
        "not_due": dispatched_case(world, condition(session, 5, "work_days"), at=monday),
    }
    world.act(cases["handling"], Action.ACCEPT, "handler")
    world.act(cases["parked"], Action.REQUEST_PARK, "handler", reason="需协调")
    world.act(cases["parked"], Action.APPROVE_PARK, "dispatcher")
    for name in ("fixed", "closed"):
        world.act(cases[name], Action.ACCEPT, "handler")
        world.act(cases[name], Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    world.act(cases["closed"], Action.ASSIGN, "operator", collector="collector")
    world.act(cases["closed"], Action.CHECK, "collector", passed=True)
    world.act(cases["closed"], Action.CLOSE, "shift_lead")
    world.clock.set(local(2026, 11, 23, 11, 30))  # every 2-hour deadline has passed
    return cases


def test_the_sweep_marks_overdue_running_cases_once(
    world: World, session: Session, clock: FixedClock
) -> None:
    cases = _overdue_world(world, session)
    counts = {name: c.event_count for name, c in cases.items()}
    report = sweep_overdue(session, clock=clock)
    assert sorted(report.supervised) == sorted([cases["dispatched"].code, cases["handling"].code])
    assert (report.examined, report.skipped) == (2, 0)
    assert "2 newly marked overdue" in str(report)
    for name in ("dispatched", "handling"):
        case = fresh(world.session_factory, cases[name].id)
        assert case.event_count == counts[name] + 1
        assert case.status == cases[name].status  # 督办 is a flag, not a status
        assert case.is_supervised
        assert case.supervise_note == "超期未处置，系统自动督办"
        assert case.overdue_marked_at == clock.now()
        (event,) = _supervise_events(world.session_factory, case.id)
        assert (event.actor_id, event.actor_role) == (None, "system")
        payload = json.loads(event.payload)
        assert payload["overdue"] is True
        assert payload["due_at"] == "2026-11-23T03:00:00+00:00"
    for name in ("parked", "fixed", "closed", "not_due"):
        case = fresh(world.session_factory, cases[name].id)
        assert case.event_count == counts[name], name
        assert case.overdue_marked_at is None
        assert not case.is_supervised

    again = sweep_overdue(session, clock=clock)
    assert (again.examined, again.supervised, again.skipped) == (0, [], 0)
    clock.advance(days=3)
    later = sweep_overdue(session, clock=clock)
    assert later.supervised == []  # the marked cases are not marked twice ...
    resumed = world.act(cases["parked"].id, Action.RESUME, "dispatcher")
    assert resumed.due_at == clock.now() + timedelta(hours=2)  # the 2 hours it had left
    assert sweep_overdue(session, clock=clock).supervised == []
    clock.advance(hours=2, seconds=1)
    assert sweep_overdue(session, clock=clock).supervised == [resumed.code]


def test_a_supervised_case_is_still_marked_overdue_by_the_sweep(
    world: World, session: Session, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    world.act(case, Action.SUPERVISE, "leader", note="抓紧")
    clock.set(local(2026, 11, 23, 12, 0))
    assert sweep_overdue(session, clock=clock).supervised == [case.code]
    assert len(_supervise_events(world.session_factory, case.id)) == 2


def test_nothing_overdue_nothing_marked(world: World, session: Session, clock: FixedClock) -> None:
    dispatched_case(world, condition(session, 5, "work_days"))
    assert sweep_overdue(session, clock=clock) == SweepReport()


def test_the_sweep_leaves_the_session_usable(
    world: World, session: Session, clock: FixedClock
) -> None:
    cases = _overdue_world(world, session)
    sweep_overdue(session, clock=clock)
    world.act(cases["handling"], Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    assert fresh(world.session_factory, cases["handling"].id).status == (CaseStatus.AWAITING_CHECK)


def _sweep_in_threads(
    factory: sessionmaker[Session], clock: FixedClock, threads: int
) -> list[SweepReport]:
    barrier = threading.Barrier(threads)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with factory() as own:
                barrier.wait(timeout=30)
                reports.append(sweep_overdue(own, clock=clock))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    return reports


def _many_overdue(world: World, session: Session, n: int) -> list[Case]:
    two_hours = condition(session, 2, "hours")
    cases = [dispatched_case(world, two_hours, at=local(2026, 11, 23, 9, 0)) for _ in range(n)]
    world.clock.set(local(2026, 11, 23, 12, 0))
    return cases


@pytest.mark.postgres
def test_concurrent_sweeps_never_mark_a_case_twice(
    world: World, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cases = _many_overdue(world, session, 12)
    for _round in range(3):
        reports = _sweep_in_threads(session_factory, clock, threads=3)
        clock.advance(minutes=1)
    marked = [code for report in reports for code in report.supervised]
    assert len(marked) == len(set(marked))
    with session_factory() as other:
        per_case = dict(
            other.execute(
                select(CaseEvent.case_id, func.count())
                .where(CaseEvent.action == "supervise")
                .group_by(CaseEvent.case_id)
            ).all()
        )
    assert per_case == {case.id: 1 for case in cases}


def test_sweeps_one_after_another_mark_each_case_once(
    world: World, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    cases = _many_overdue(world, session, 4)
    with session_factory() as one, session_factory() as two:
        first = sweep_overdue(one, clock=clock)
        second = sweep_overdue(two, clock=clock)
    assert sorted(first.supervised) == sorted(c.code for c in cases)
    assert second.supervised == []
    for case in cases:
        assert len(_supervise_events(session_factory, case.id)) == 1


def test_sweeps_in_threads_mark_each_case_once_on_any_backend(
    world: World, session: Session, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    """On SQLite the writers queue on the database lock; still nothing is marked twice."""
    cases = _many_overdue(world, session, 4)
    reports = _sweep_in_threads(session_factory, clock, threads=2)
    marked = sorted(code for report in reports for code in report.supervised)
    assert marked == sorted(c.code for c in cases)
    for case in cases:
        assert len(_supervise_events(session_factory, case.id)) == 1


# --------------------------------------------------------------------------- the command


def test_duban_jobs_run_sweep(world: World, session: Session, engine: Engine, db_url: str) -> None:
    # The command runs on the real clock, so this deadline lies safely in the past.
    case = dispatched_case(world, condition(session, 2, "hours"), at=local(2021, 3, 1, 9, 0))
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url, "LC_ALL": "C.UTF-8"}
    result = runner.invoke(app, ["jobs", "run", "sweep"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 newly marked overdue and supervised" in result.output
    assert f"督办 {case.code}" in result.output
    again = runner.invoke(app, ["jobs", "run", "sweep"], env=env)
    assert again.exit_code == 0, again.output
    assert "0 newly marked" in again.output
    assert len(_supervise_events(world.session_factory, case.id)) == 1
    unknown = runner.invoke(app, ["jobs", "run", "nightly"], env=env)
    assert unknown.exit_code == 2
    assert "unknown job 'nightly'" in unknown.output


def test_the_sweep_warns_of_years_whose_holidays_nobody_entered(
    world: World, session: Session, db_url: str
) -> None:
    """The sweep runs from cron, so its log says when deadlines would ignore holidays."""
    this_year = datetime.now(UTC).year
    data = copy.deepcopy(shipped_policy_data())
    data.setdefault("calendar", {})["national_calendar"] = False  # as if it knew no year
    save_policy(session, data, now=world.clock.now())
    session.commit()
    env = {"DUBAN_DATABASE_URL": db_url, "LC_ALL": "C.UTF-8"}
    result = CliRunner().invoke(app, ["jobs", "run", "sweep"], env=env)
    assert result.exit_code == 0, result.output
    for year in (this_year, this_year + 1):
        assert f"warning: the holidays of {year} are not entered" in result.output
    chinese = CliRunner().invoke(app, ["jobs", "run", "sweep"], env={**env, "LC_ALL": "zh_CN"})
    assert f"警告：{this_year} 年节假日未录入" in chinese.output  # the operator's language
    # Entering one day off of each year is taken as entering its schedule.
    data["calendar"]["holidays"] = [f"{this_year}-10-01", f"{this_year + 1}-10-01"]
    save_policy(session, data, now=world.clock.now())
    session.commit()
    quiet = CliRunner().invoke(app, ["jobs", "run", "sweep"], env=env)
    assert quiet.exit_code == 0, quiet.output
    assert "warning" not in quiet.output
