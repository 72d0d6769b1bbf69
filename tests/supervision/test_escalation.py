"""The escalation ladder runs in the deadline sweep: each step once per open order."""

from __future__ import annotations

import threading

from sqlalchemy import select

from duban.jobs.sweep import sweep_overdue
from duban.supervision.escalation import escalate_orders
from duban.supervision.events import verify_order_chain
from duban.supervision.models import OrderEscalation, SupervisionEvent, SupervisionOrder
from tests.factories.cases import dispatched_case
from tests.factories.supervision import answer, order, review
from tests.factories.world import World
from tests.fakes import local


def _steps(world: World, order_id: int) -> list[str]:
    with world.session_factory() as other:
        return [
            e.action
            for e in other.scalars(
                select(SupervisionEvent)
                .where(
                    SupervisionEvent.order_id == order_id, SupervisionEvent.actor_role == "system"
                )
                .order_by(SupervisionEvent.seq)
            )
        ]


def test_each_step_fires_once_when_its_day_comes(world: World) -> None:
    made = order(world, [dispatched_case(world)], reply_work_days=1)  # due Tue 24 09:00
    closed = order(world, [dispatched_case(world)], reply_work_days=1)
    answer(world, closed.id, closed.problems[0].id)
    review(world, closed.id, closed.problems[0].id, accept=True)
    world.clock.set(local(2026, 11, 24, 8, 59))
    assert sweep_overdue(world.session, clock=world.clock).escalations == []
    world.clock.set(local(2026, 11, 24, 9, 0))
    report = sweep_overdue(world.session, clock=world.clock)
    assert report.escalations == [(made.number, "remind")]
    assert "1 supervision escalation step(s)" in str(report)
    assert sweep_overdue(world.session, clock=world.clock).escalations == []
    world.clock.set(local(2026, 11, 26, 9, 0))  # 2 working days past: 通报
    assert escalate_orders(world.session, clock=world.clock).fired == [(made.number, "notify")]
    world.clock.set(local(2026, 11, 28, 12, 0))  # Saturday: still 3.x working days
    assert escalate_orders(world.session, clock=world.clock).fired == []
    world.clock.set(local(2026, 12, 1, 9, 0))  # Tuesday: 5 working days past
    assert escalate_orders(world.session, clock=world.clock).fired == [(made.number, "escalate")]
    assert escalate_orders(world.session, clock=world.clock).fired == []
    assert _steps(world, made.id) == ["remind", "notify", "escalate"]
    assert _steps(world, closed.id) == []
    with world.session_factory() as other:
        fresh = other.get(SupervisionOrder, made.id)
        assert fresh is not None
        assert fresh.escalated
        assert verify_order_chain(other, made.id) == []


def test_a_late_sweep_takes_every_due_step_once(world: World) -> None:
    made = order(world, [dispatched_case(world)], reply_work_days=1)
    world.clock.set(local(2026, 12, 10, 9, 0))
    fired = escalate_orders(world.session, clock=world.clock).fired
    assert fired == [(made.number, s) for s in ("remind", "notify", "escalate")]


def test_two_sweeps_at_once_take_each_step_once(world: World) -> None:
    made = order(world, [dispatched_case(world)], reply_work_days=1)
    world.clock.set(local(2026, 12, 10, 9, 0))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        with world.session_factory() as own:
            try:
                barrier.wait(timeout=30)
                escalate_orders(own, clock=world.clock)
            except BaseException as err:
                errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(_steps(world, made.id)) == ["escalate", "notify", "remind"]
    with world.session_factory() as other:
        assert len(other.scalars(select(OrderEscalation)).all()) == 3
