"""The escalation ladder (催办 → 通报 → 提请领导督办), run by the deadline sweep.

Each step fires at most once per order: its row in ``supervision_escalations`` is the
key, written in the same transaction as the step's event, so a second run — even one
at the same time — adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.kernel.context import SYSTEM_ACTOR, Clock
from duban.kernel.unitofwork import writing
from duban.reference import LimitUnit, load_policy
from duban.supervision.events import append_order_event
from duban.supervision.models import OrderEscalation, SupervisionOrder
from duban.supervision.policy import supervision_policy
from duban.supervision.rules import STEP_LABELS, LadderStep, OrderStatus, due_steps


@dataclass
class EscalationReport:
    """What one run of the ladder did: ``(order number, step)`` pairs."""

    fired: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"supervision: {len(self.fired)} escalation step(s) taken"


def escalate_orders(session: Session, *, clock: Clock) -> EscalationReport:
    """Take every ladder step that has come due on an open order, once each."""
    report = EscalationReport()
    ladder = supervision_policy().ladder
    if not ladder:
        return report
    now = clock.now()
    calendar = load_policy(session).calendar
    session.rollback()
    rows = session.execute(
        select(SupervisionOrder.id, SupervisionOrder.due_at).where(
            SupervisionOrder.status != OrderStatus.CLOSED, SupervisionOrder.due_at <= now
        )
    ).all()
    taken: dict[int, set[str]] = {}
    for order_id, step in session.execute(select(OrderEscalation.order_id, OrderEscalation.step)):
        taken.setdefault(order_id, set()).add(step)
    session.rollback()
    for order_id, due_at in rows:
        past = calendar.elapsed_in_limit_units(due_at, now, LimitUnit.WORK_DAYS)
        for step in due_steps(ladder, past, taken.get(order_id, set())):
            try:
                number = _take(session, order_id, step, clock=clock)
            except IntegrityError:  # another sweep took it first
                continue
            if number is not None:
                report.fired.append((number, step.value))
    return report


def _take(session: Session, order_id: int, step: LadderStep, *, clock: Clock) -> str | None:
    with writing(session):
        order = session.scalars(
            select(SupervisionOrder).where(SupervisionOrder.id == order_id).with_for_update()
        ).first()
        if order is None or order.status is OrderStatus.CLOSED:
            return None
        if session.get(OrderEscalation, (order_id, step.value)) is not None:
            return None
        now = clock.now()
        session.add(OrderEscalation(order_id=order_id, step=step.value, taken_at=now))
        if step is LadderStep.ESCALATE:
            order.escalated = True
        order.updated_at = now
        append_order_event(
            session,
            order,
            action=step.value,
            actor=SYSTEM_ACTOR,
            at=now,
            note=STEP_LABELS[step][0],
        )
        return order.number
