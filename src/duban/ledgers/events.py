"""The one way a ledger event row is written (append-only table ``ledger_events``),
chained per ledger under the audit key as the supervision records are
(:mod:`duban.cases.chains`), and the walk that verifies every ledger's chain."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import AuditKeys, ChainReport, collect, sign_link, verify_links
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import Msg, NotFound
from duban.ledgers.models import Ledger, LedgerEvent


def _canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_row(event: LedgerEvent) -> dict[str, Any]:
    """The canonical row an event's hash signs (migration 0020 spells it the same)."""
    return {
        "ledger_id": event.ledger_id,
        "seq": event.seq,
        "node_id": event.node_id,
        "kind": event.kind,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "payload": _canonical(event.payload or {}),
    }


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
    """Add the event of one change and move the ledger's head (inside the caller's unit
    of work; the ledger row is locked so two writers take turns)."""
    ledger = session.get(Ledger, ledger_id, with_for_update=True)
    if ledger is None:
        raise NotFound(Msg("no ledger {id}", id=ledger_id))
    event = LedgerEvent(
        ledger_id=ledger_id,
        node_id=node_id,
        kind=kind,
        actor_id=actor.user_id,
        actor_name=actor.username,
        at=clock.now(),
        payload=payload,
        seq=ledger.event_count + 1,
        prev_hash=ledger.last_event_hash,
    )
    event.hash, event.key_id = sign_link(ledger.last_event_hash, event_row(event))
    session.add(event)
    ledger.event_count = event.seq or 0
    ledger.last_event_hash = event.hash
    return event


def verify_ledger_chains(
    session: Session, keys: AuditKeys | None, *, accept_unkeyed: bool = False
) -> ChainReport:
    """Every ledger's chain checked against its events and head."""
    ledgers = session.scalars(select(Ledger).order_by(Ledger.id)).all()
    by_ledger: dict[int, list[LedgerEvent]] = {}
    for event in session.scalars(
        select(LedgerEvent).order_by(LedgerEvent.ledger_id, LedgerEvent.seq, LedgerEvent.id)
    ):
        by_ledger.setdefault(event.ledger_id, []).append(event)

    def checked() -> Any:
        for ledger in ledgers:
            links = by_ledger.pop(ledger.id, [])
            yield (
                f"ledger {ledger.title} (id {ledger.id})",
                len(links),
                verify_links(ledger, links, event_row, keys=keys, accept_unkeyed=accept_unkeyed),
            )
        for orphan, links in sorted(by_ledger.items()):
            yield f"ledger #{orphan}", len(links), ["events of a ledger that is not there"]

    return collect("ledgers", checked())
