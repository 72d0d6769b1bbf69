"""The ledgers' part in revisits (回头看): which items were signed off (销号) and when,
and setting an item whose revisit failed back to 推进中, with the reason kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.kernel.context import Actor, Clock
from duban.kernel.errors import Msg, NotFound
from duban.ledgers.events import record
from duban.ledgers.models import LedgerEvent, LedgerNode
from duban.ledgers.rules import DONE, LedgerStatus, NodeKind

_DONE_VALUES = frozenset(s.value for s in DONE)


def signed_off_items(session: Session, *, since: datetime) -> list[tuple[LedgerNode, datetime]]:
    """The items (具体表现) signed off now, each with when it became done — if that was
    on or after ``since``."""
    items = {
        n.id: n
        for n in session.scalars(
            select(LedgerNode).where(
                LedgerNode.kind == NodeKind.ITEM.value, LedgerNode.status.in_(_DONE_VALUES)
            )
        )
    }
    if not items:
        return []
    became: dict[int, datetime] = {}
    for node_id, at, payload in session.execute(
        select(LedgerEvent.node_id, LedgerEvent.at, LedgerEvent.payload)
        .where(LedgerEvent.node_id.in_(list(items)), LedgerEvent.kind == "status")
        .order_by(LedgerEvent.id)
    ):
        if node_id is not None and (payload or {}).get("new") in _DONE_VALUES:
            became[node_id] = at
    return [(items[i], at) for i, at in became.items() if at >= since]


def reopen_item(
    session: Session, *, actor: Actor, clock: Clock, item_id: int, reason: str, revisit_id: int
) -> LedgerNode:
    """A failed revisit: the item and its signed-off measures go back to 推进中 (one
    event each, the reason kept), so they are signed off again only with new evidence.
    Runs inside the caller's unit of work."""
    item = session.scalars(
        select(LedgerNode).where(LedgerNode.id == item_id).with_for_update()
    ).first()
    if item is None or item.kind != NodeKind.ITEM.value:
        raise NotFound(Msg("no ledger entry {id}", id=item_id))
    now = clock.now()
    measures = session.scalars(
        select(LedgerNode)
        .where(LedgerNode.parent_id == item.id, LedgerNode.status.in_(_DONE_VALUES))
        .with_for_update()
    ).all()
    for node in [*measures, item]:
        if node.status == LedgerStatus.IN_PROGRESS.value:
            continue
        record(
            session,
            ledger_id=node.ledger_id,
            node_id=node.id,
            kind="status",
            actor=actor,
            clock=clock,
            old=node.status,
            new=LedgerStatus.IN_PROGRESS.value,
            reason=reason,
            revisit_id=revisit_id,
            recurrence=True,
        )
        node.status = LedgerStatus.IN_PROGRESS.value
        node.updated_at = now
    return item
