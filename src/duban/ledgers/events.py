"""The one way a ledger event row is written (append-only table ``ledger_events``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from duban.kernel.context import Actor, Clock
from duban.ledgers.models import LedgerEvent


def record(
    session: Session,
    *,
    ledger_id: int,
    node_id: int | None,
    kind: str,
    actor: Actor,
    clock: Clock,
    **payload: Any,
) -> LedgerEvent:
    """Add the event of one change (inside the caller's unit of work)."""
    event = LedgerEvent(
        ledger_id=ledger_id,
        node_id=node_id,
        kind=kind,
        actor_id=actor.user_id,
        actor_name=actor.username,
        at=clock.now(),
        payload=payload,
    )
    session.add(event)
    return event
