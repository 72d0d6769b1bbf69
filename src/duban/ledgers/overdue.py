"""The sweep's part in ledgers: measures past their deadline become 逾期, once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.kernel.context import SYSTEM_ACTOR, Clock
from duban.kernel.unitofwork import writing
from duban.ledgers.events import record
from duban.ledgers.models import LedgerNode
from duban.ledgers.policy import ledger_policy
from duban.ledgers.rectify import refresh_item
from duban.ledgers.rules import LedgerStatus, NodeKind
from duban.reference import load_policy


def mark_overdue_measures(session: Session, *, clock: Clock) -> int:
    """Set 逾期 on every measure whose deadline (a day in the city's time) has passed
    while it was 未开始 or 推进中 (``ledgers.yaml``); one event each. Idempotent: a
    second run finds nothing. Returns how many were marked."""
    today = clock.now().astimezone(load_policy(session).tz).date()
    late_from = [s.value for s in ledger_policy().overdue_from]
    with writing(session):
        late = list(
            session.scalars(
                select(LedgerNode)
                .where(
                    LedgerNode.kind == NodeKind.MEASURE.value,
                    LedgerNode.status.in_(late_from),
                    LedgerNode.deadline < today,
                )
                .order_by(LedgerNode.id)
                .with_for_update(skip_locked=True)
            )
        )
        for node in late:
            record(
                session,
                ledger_id=node.ledger_id,
                node_id=node.id,
                kind="status",
                actor=SYSTEM_ACTOR,
                clock=clock,
                old=node.status,
                new=LedgerStatus.OVERDUE.value,
                deadline=node.deadline.isoformat() if node.deadline else None,
            )
            node.status = LedgerStatus.OVERDUE.value
            node.updated_at = clock.now()
        session.flush()
        for node in late:
            refresh_item(session, node, actor=SYSTEM_ACTOR, clock=clock)
    return len(late)
