"""Concurrency without lost updates: two people act on one case at once, one wins.

The PostgreSQL tests use real concurrent connections: each thread has its own session,
loads the case, waits at a barrier and then acts, and the race is repeated to make it
real. The SQLite tests check the same guarantees where SQLite can show them (writers
queue on the database lock, and a stale read is still refused).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.actions import ActionInput, NewCase, get_case, perform_action, report_case
from duban.cases.audit import verify_chain
from duban.cases.models import Case, IdempotencyKey
from duban.cases.workflow import Action, CaseStatus, Source
from duban.jobs.sweep import sweep_overdue
from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, IllegalTransition, StaleCase
from tests.factories.cases import dispatched_case, event_total, events, fresh
from tests.factories.places import LAT, LON
from tests.factories.reference import CATEGORY, condition
from tests.factories.world import World
from tests.fakes import FixedClock, local

ROUNDS = 20

Outcome = Case | BaseException


def _race(
    factory: sessionmaker[Session],
    case_id: int,
    moves: list[tuple[Actor, Action, ActionInput]],
    clock: FixedClock,
) -> list[Outcome]:
    """Each move in its own thread and session: load the case, meet, then act."""
    barrier = threading.Barrier(len(moves))
    outcomes: list[Outcome | None] = [None] * len(moves)

    def run(i: int) -> None:
        actor, action, params = moves[i]
        with factory() as own:
            try:
                loaded = get_case(own, actor=actor, case_id=case_id)  # the read ...
                barrier.wait(timeout=30)
                outcomes[i] = perform_action(  # ... then the write, at the same time
                    own, case_id=case_id, action=action, actor=actor, clock=clock, params=params
                )
                del loaded
            except BaseException as err:
                outcomes[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(moves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(o is not None for o in outcomes), "a thread hung"
    return [o for o in outcomes if o is not None]


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads that start at the same moment; results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except BaseException as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def _one_wins(outcomes: list[Outcome]) -> int:
    winners = [i for i, o in enumerate(outcomes) if isinstance(o, Case)]
    losers = [o for o in outcomes if not isinstance(o, Case)]
    assert len(winners) == 1, outcomes
    for loser in losers:
        # A lost race is a 409: stale (the version moved) or illegal (status moved on).
        assert isinstance(loser, StaleCase | IllegalTransition), repr(loser)
    return winners[0]


def _check_round(world: World, case_id: int, before: int, total_before: int) -> Case:
    case = fresh(world.session_factory, case_id)
    rows = events(world.session_factory, case_id)
    assert case.event_count == before + 1 == len(rows)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1].to_status == case.status.value
    assert event_total(world.session_factory) == total_before + 1
    return case


@pytest.mark.postgres
def test_two_dispatchers_sending_one_case_to_different_units(
    world: World, clock: FixedClock
) -> None:
    dispatcher = world.actor("dispatcher")
    units = ["SZGC", "HWC"]
    kinds: set[str] = set()
    for _ in range(ROUNDS):
        case = world.case_in(CaseStatus.FILED)
        total = event_total(world.session_factory)
        outcomes = _race(
            world.session_factory,
            case.id,
            [(dispatcher, Action.DISPATCH, ActionInput(unit=u)) for u in units],
            clock,
        )
        winner = _one_wins(outcomes)
        kinds |= {type(o).__name__ for o in outcomes}
        after = _check_round(world, case.id, case.event_count, total)
        assert after.status == CaseStatus.DISPATCHED
        assert after.unit_id == (world.unit if winner == 0 else world.unit2).id
    assert verify_chain(world.session).ok
    assert "StaleCase" in kinds  # the race was real at least once


@pytest.mark.postgres
def test_accept_against_return(world: World, clock: FixedClock) -> None:
    handler = world.actor("handler")
    for _ in range(ROUNDS):
        case = world.case_in(CaseStatus.DISPATCHED)
        total = event_total(world.session_factory)
        outcomes = _race(
            world.session_factory,
            case.id,
            [
                (handler, Action.ACCEPT, ActionInput()),
                (handler, Action.RETURN, ActionInput(reason="不属于本单位")),
            ],
            clock,
        )
        winner = _one_wins(outcomes)
        after = _check_round(world, case.id, case.event_count, total)
        assert after.status == [CaseStatus.HANDLING, CaseStatus.RETURNED][winner]
    assert verify_chain(world.session).ok


@pytest.mark.postgres
def test_the_sweep_against_an_extension_approval(
    world: World, session: Session, clock: FixedClock
) -> None:
    """Both touch the overdue mark; whoever loses must not leave the case half-marked."""
    two_hours = condition(session, 2, "hours")
    for _ in range(5):
        case = dispatched_case(world, two_hours, at=local(2026, 11, 23, 9, 0))
        world.act(
            case, Action.REQUEST_EXTENSION, "handler", reason="x", until=local(2026, 11, 24, 9)
        )
        clock.set(local(2026, 11, 23, 12, 0))

        def sweep() -> object:
            with world.session_factory() as own:
                return sweep_overdue(own, clock=clock)

        def approve(case_id: int = case.id) -> object:
            with world.session_factory() as own:
                return perform_action(
                    own,
                    case_id=case_id,
                    action=Action.APPROVE_EXTENSION,
                    actor=world.actor("dispatcher"),
                    clock=clock,
                )

        swept, approved = _together(sweep, approve)
        assert not isinstance(swept, BaseException), swept
        assert isinstance(approved, Case | StaleCase), approved
        final = fresh(world.session_factory, case.id)
        supervised = [e for e in events(world.session_factory, case.id) if e.action == "supervise"]
        if isinstance(
            approved, StaleCase
        ):  # the approval lost: the case is marked and the request still waits
            assert final.pending_extension_until is not None
            assert final.overdue_marked_at is not None
        else:
            assert final.due_at == local(2026, 11, 24, 9)
            assert final.overdue_marked_at is None  # the approval cleared any mark
        assert len(supervised) <= 1
    assert verify_chain(world.session).ok


@pytest.mark.postgres
def test_concurrent_reports_with_one_idempotency_key_make_one_case(
    world: World, clock: FixedClock
) -> None:
    operator = world.actor("operator")
    data = NewCase(
        source=Source.HOTLINE, category_code=CATEGORY, lat=LAT, lon=LON, description="井盖缺失"
    )
    for n in range(ROUNDS):
        key = f"retry-{n}"

        def run(key: str = key) -> tuple[int, bool]:
            with world.session_factory() as own:
                case, created = report_case(
                    own, actor=operator, clock=clock, data=data, idempotency_key=key
                )
                return case.id, created

        results = _together(run, run, run)
        assert all(isinstance(r, tuple) for r in results), results
        ids = {r[0] for r in results if isinstance(r, tuple)}
        created = [r for r in results if isinstance(r, tuple) and r[1]]
        assert len(ids) == 1
        assert len(created) == 1
    with world.session_factory() as other:
        assert other.scalar(select(func.count()).select_from(Case)) == ROUNDS
        assert other.scalar(select(func.count()).select_from(IdempotencyKey)) == ROUNDS
        codes = list(other.scalars(select(Case.code).order_by(Case.code)))
    assert codes == [f"20261123{n:05d}" for n in range(1, ROUNDS + 1)]  # no number lost
    assert verify_chain(world.session).ok


@pytest.mark.postgres
def test_concurrent_reports_get_distinct_consecutive_case_numbers(
    world: World, clock: FixedClock
) -> None:
    threads_n = 8

    def run(i: int) -> str:
        with world.session_factory() as own:
            case, _ = report_case(
                own,
                actor=world.actor("operator"),
                clock=clock,
                data=NewCase(
                    source=Source.HOTLINE,
                    category_code=CATEGORY,
                    lat=LAT,
                    lon=LON,
                    description=f"第{i}件",
                ),
            )
            return case.code

    codes = _together(*(functools.partial(run, i) for i in range(threads_n)))
    assert sorted(codes) == [f"20261123{n:05d}" for n in range(1, threads_n + 1)]


# --------------------------------------------------------------------------- any backend


def test_a_stale_expected_version_is_refused(world: World, clock: FixedClock) -> None:
    case = world.case_in(CaseStatus.FILED)
    seen = case.version
    world.act(case, Action.SUPERVISE, "supervisor", note="尽快派遣")
    total = event_total(world.session_factory)

    def dispatch(version: int) -> Case:
        return perform_action(
            world.session,
            case_id=case.id,
            action=Action.DISPATCH,
            actor=world.actor("dispatcher"),
            clock=clock,
            params=ActionInput(unit="SZGC"),
            expected_version=version,
        )

    with pytest.raises(StaleCase) as caught:
        dispatch(seen)
    assert caught.value.code == "stale_case"
    assert caught.value.detail == {"case_id": case.id}
    assert event_total(world.session_factory) == total
    assert fresh(world.session_factory, case.id).status == CaseStatus.FILED
    current = fresh(world.session_factory, case.id).version
    assert dispatch(current).status == CaseStatus.DISPATCHED


def test_a_stale_read_in_another_session_cannot_overwrite(world: World, clock: FixedClock) -> None:
    """Two sessions hold the same version; the second writer gets StaleCase, not a lost update."""
    case = world.case_in(CaseStatus.FILED)
    dispatcher = world.actor("dispatcher")
    with world.session_factory() as one, world.session_factory() as two:
        held = [get_case(one, actor=dispatcher, case_id=case.id)]
        held.append(get_case(two, actor=dispatcher, case_id=case.id))
        perform_action(
            one,
            case_id=case.id,
            action=Action.DISPATCH,
            actor=dispatcher,
            clock=clock,
            params=ActionInput(unit="SZGC"),
        )
        total = event_total(world.session_factory)
        with pytest.raises(StaleCase):
            perform_action(
                two,
                case_id=case.id,
                action=Action.DISPATCH,
                actor=dispatcher,
                clock=clock,
                params=ActionInput(unit="HWC"),
            )
        assert event_total(world.session_factory) == total
        # The loser's session was rolled back and can simply try again with fresh data.
        with pytest.raises(IllegalTransition):
            perform_action(
                two,
                case_id=case.id,
                action=Action.DISPATCH,
                actor=dispatcher,
                clock=clock,
                params=ActionInput(unit="HWC"),
            )
    final = fresh(world.session_factory, case.id)
    assert final.unit_id == world.unit.id
    assert verify_chain(world.session).ok


def test_a_race_in_threads_has_one_winner_on_any_backend(world: World, clock: FixedClock) -> None:
    handler = world.actor("handler")
    for _ in range(3):
        case = world.case_in(CaseStatus.DISPATCHED)
        total = event_total(world.session_factory)
        moves: list[tuple[Actor, Action, ActionInput]] = [
            (handler, Action.ACCEPT, ActionInput()),
            (handler, Action.RETURN, ActionInput(reason="不属于本单位")),
        ]
        _one_wins(_race(world.session_factory, case.id, moves, clock))
        _check_round(world, case.id, case.event_count, total)
    assert verify_chain(world.session).ok


def test_a_retried_report_returns_the_first_case(world: World, clock: FixedClock) -> None:
    operator = world.actor("operator")
    data = NewCase(
        source=Source.HOTLINE, category_code=CATEGORY, lat=LAT, lon=LON, description="井盖缺失"
    )
    first, created = report_case(
        world.session, actor=operator, clock=clock, data=data, idempotency_key="k-1"
    )
    assert created
    total = event_total(world.session_factory)
    again, created_again = report_case(
        world.session, actor=operator, clock=clock, data=data, idempotency_key="k-1"
    )
    assert (again.id, created_again) == (first.id, False)
    assert event_total(world.session_factory) == total
    changed = dataclasses.replace(data, description="另一件事")
    with pytest.raises(Conflict, match="already used for a different request"):
        report_case(world.session, actor=operator, clock=clock, data=changed, idempotency_key="k-1")
    # The key is the caller's own: another user's identical key is a new report.
    other, other_created = report_case(
        world.session,
        actor=world.actor("shift_lead"),
        clock=clock,
        data=data,
        idempotency_key="k-1",
    )
    assert other_created
    assert other.id != first.id
