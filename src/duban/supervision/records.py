"""The record of joint sessions and revisits: one append-only row per change, chained per
subject exactly as an order's events are (:mod:`duban.supervision.events`): each row's
``hash`` is the HMAC, under the audit key, of the previous hash and the canonical row;
the subject keeps the head (``event_count``, ``last_event_hash``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import sign_link, verify_links
from duban.kernel.context import Actor
from duban.supervision.events import canonical_json
from duban.supervision.models import SupervisionRecord

SESSION = "session"
REVISIT = "revisit"


class ChainHead(Protocol):
    """A subject that keeps the head of its chain (a joint session, a revisit)."""

    id: int
    event_count: int
    last_event_hash: str


def record_row(event: SupervisionRecord | dict[str, Any]) -> dict[str, Any]:
    get = event.get if isinstance(event, dict) else lambda k: getattr(event, k)
    at = get("occurred_at")
    assert isinstance(at, datetime)
    return {
        "subject_kind": get("subject_kind"),
        "subject_id": get("subject_id"),
        "seq": get("seq"),
        "action": get("action"),
        "item_id": get("item_id"),
        "actor_id": get("actor_id"),
        "actor_role": get("actor_role"),
        "occurred_at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "note": get("note"),
        "payload": get("payload"),
    }


def append_record(
    session: Session,
    subject: ChainHead,
    *,
    kind: str,
    action: str,
    actor: Actor,
    at: datetime,
    item_id: int | None = None,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> SupervisionRecord:
    """Write the next record of ``subject`` (a ``kind``) and move its head (inside a
    unit of work; the subject must have its id)."""
    fields: dict[str, Any] = {
        "subject_kind": kind,
        "subject_id": subject.id,
        "seq": subject.event_count + 1,
        "action": action,
        "item_id": item_id,
        "actor_id": actor.user_id,
        "actor_role": actor.role.value,
        "occurred_at": at,
        "note": note[:4000],
        "payload": canonical_json(payload or {}),
    }
    digest, key_id = sign_link(subject.last_event_hash, record_row(fields))
    record = SupervisionRecord(
        **fields, prev_hash=subject.last_event_hash, hash=digest, key_id=key_id
    )
    session.add(record)
    subject.event_count = fields["seq"]
    subject.last_event_hash = digest
    return record


def records_of(session: Session, kind: str, subject_id: int) -> list[SupervisionRecord]:
    """The records of one subject, in order."""
    return list(
        session.scalars(
            select(SupervisionRecord)
            .where(
                SupervisionRecord.subject_kind == kind, SupervisionRecord.subject_id == subject_id
            )
            .order_by(SupervisionRecord.seq)
        )
    )


def verify_records(session: Session, kind: str, subject: ChainHead) -> list[str]:
    """The breaks in a subject's chain (empty when intact)."""
    return verify_links(subject, records_of(session, kind, subject.id), record_row, noun="record")
