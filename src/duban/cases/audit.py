"""The append-only, hash-chained event log of every case.

Each case's events form a chain: ``hash = sha256(prev_hash || canonical(row))``, starting
from :data:`GENESIS`. The case row keeps the head (``event_count``, ``last_event_hash``),
so a changed row, a deleted row in the middle and a deleted last row are all detected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases.models import Case, CaseEvent
from duban.kernel.context import Actor

GENESIS = "0" * 64


def canonical_json(payload: dict[str, Any]) -> str:
    """The one JSON spelling used for payloads, so the stored text hashes the same forever."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_digest(
    prev_hash: str,
    *,
    case_id: int,
    seq: int,
    action: str,
    from_status: str | None,
    to_status: str,
    actor_id: int | None,
    actor_role: str,
    occurred_at: datetime,
    note: str,
    payload: str,
) -> str:
    """The chained hash of one event row."""
    body = json.dumps(
        [
            case_id,
            seq,
            action,
            from_status,
            to_status,
            actor_id,
            actor_role,
            occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            note,
            payload,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def event_row(
    *,
    case_id: int,
    seq: int,
    prev_hash: str,
    action: str,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one ``case_events`` row, its hash chained from ``prev_hash``."""
    text = canonical_json(payload or {})
    # Stored timestamps keep microseconds on both databases; hash exactly what is stored.
    at = at.astimezone(UTC)
    digest = event_digest(
        prev_hash,
        case_id=case_id,
        seq=seq,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.user_id,
        actor_role=actor.role.value,
        occurred_at=at,
        note=note,
        payload=text,
    )
    return {
        "case_id": case_id,
        "seq": seq,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "actor_id": actor.user_id,
        "actor_role": actor.role.value,
        "occurred_at": at,
        "note": note,
        "payload": text,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def append_event(
    session: Session,
    case: Case,
    *,
    action: str,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> CaseEvent:
    """Add the next event of ``case`` to the session and move the case's chain head."""
    event = CaseEvent(
        **event_row(
            case_id=case.id,
            seq=case.event_count + 1,
            prev_hash=case.last_event_hash or GENESIS,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            at=at,
            note=note,
            payload=payload,
        )
    )
    session.add(event)
    case.event_count = event.seq
    case.last_event_hash = event.hash
    return event


@dataclass(frozen=True)
class Break:
    """The first broken link found in the chain."""

    case_id: int
    case_code: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"case {self.case_code} (id {self.case_id}), event #{self.seq}: {self.problem}"


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`verify_chain`."""

    cases_checked: int
    events_checked: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        """True when every chain is intact."""
        return self.first_break is None


def _events_by_case(session: Session, batch: int) -> Iterator[CaseEvent]:
    stmt = select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)
    # Closed even when the caller stops at the first break: on PostgreSQL yield_per holds
    # a server-side cursor, which must not be left open for the garbage collector.
    with session.scalars(stmt.execution_options(yield_per=batch)) as rows:
        yield from rows


def verify_chain(session: Session, *, batch: int = 5000) -> AuditReport:
    """Recompute every case's chain and compare it with the stored hashes and heads."""
    heads = {
        row.id: (row.code, row.event_count, row.last_event_hash)
        for row in session.execute(
            select(Case.id, Case.code, Case.event_count, Case.last_event_hash).order_by(Case.id)
        )
    }
    events_checked = 0
    seen: dict[int, tuple[int, str]] = {}
    first: Break | None = None
    for event in _events_by_case(session, batch):
        events_checked += 1
        code = heads.get(event.case_id, ("?", 0, ""))[0]
        count, prev = seen.get(event.case_id, (0, GENESIS))
        if event.seq != count + 1:
            first = Break(
                event.case_id, code, count + 1, f"event #{count + 1} is missing (deleted?)"
            )
            break
        if event.prev_hash != prev:
            first = Break(event.case_id, code, event.seq, "link to the previous event is broken")
            break
        expected = event_digest(
            prev,
            case_id=event.case_id,
            seq=event.seq,
            action=event.action,
            from_status=event.from_status,
            to_status=event.to_status,
            actor_id=event.actor_id,
            actor_role=event.actor_role,
            occurred_at=event.occurred_at,
            note=event.note,
            payload=event.payload,
        )
        if expected != event.hash:
            first = Break(event.case_id, code, event.seq, "row was changed after it was written")
            break
        seen[event.case_id] = (event.seq, event.hash)
    if first is None:
        for case_id, (code, count, head) in heads.items():
            got_count, got_head = seen.get(case_id, (0, ""))
            if got_count != count or (count and got_head != head):
                first = Break(
                    case_id,
                    code,
                    got_count + 1,
                    f"the case records {count} events but {got_count} intact ones remain "
                    "(the latest were deleted or changed)",
                )
                break
    return AuditReport(len(heads), events_checked, first)
