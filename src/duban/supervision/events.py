"""The supervision record: one append-only event per change, chained per order.

Each row's ``hash`` is the HMAC, under the audit key that signs case events
(SECURITY.md "Audit trail"), of the previous hash and the canonical row; the order keeps
the head (``event_count``, ``last_event_hash``). An edited, deleted or inserted row is
found by :func:`verify_order_chain`, and without the key nobody can write a chain that
verifies; database triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban import notify
from duban.cases import sign_link, verify_links
from duban.kernel.context import Actor
from duban.supervision.models import (
    Campaign,
    CampaignEvent,
    SupervisionEvent,
    SupervisionOrder,
)


def canonical_json(payload: dict[str, Any]) -> str:
    """Sorted, compact JSON: the same payload always hashes the same."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _row(
    order_id: int,
    seq: int,
    action: str,
    problem_id: int | None,
    actor_id: int | None,
    actor_role: str,
    at: datetime,
    note: str,
    payload: str,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "seq": seq,
        "action": action,
        "problem_id": problem_id,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "occurred_at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "note": note,
        "payload": payload,
    }


def append_order_event(
    session: Session,
    order: SupervisionOrder,
    *,
    action: str,
    actor: Actor,
    at: datetime,
    problem_id: int | None = None,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> SupervisionEvent:
    """Write the next event of ``order`` and move its head (inside a unit of work)."""
    seq = order.event_count + 1
    body = canonical_json(payload or {})
    row = _row(order.id, seq, action, problem_id, actor.user_id, actor.role.value, at, note, body)
    digest, key_id = sign_link(order.last_event_hash, row)
    event = SupervisionEvent(
        order_id=order.id,
        seq=seq,
        action=action,
        problem_id=problem_id,
        actor_id=actor.user_id,
        actor_role=actor.role.value,
        occurred_at=at,
        note=note,
        payload=body,
        prev_hash=order.last_event_hash,
        hash=digest,
        key_id=key_id,
    )
    session.add(event)
    order.event_count = seq
    order.last_event_hash = digest
    # The notice its units' handlers get (the issue, a ladder step), in this transaction.
    notify.order_notice(
        session,
        order_id=order.id,
        number=order.number,
        title=order.title,
        unit_ids=[a.unit_id for a in order.addressees],
        action=action,
        note=note,
        due_at=order.due_at,
        at=at,
    )
    return event


def order_row(event: SupervisionEvent) -> dict[str, Any]:
    return _row(
        event.order_id,
        event.seq,
        event.action,
        event.problem_id,
        event.actor_id,
        event.actor_role,
        event.occurred_at,
        event.note,
        event.payload,
    )


def verify_order_chain(session: Session, order_id: int) -> list[str]:
    """The breaks in an order's chain (empty when intact)."""
    order = session.get(SupervisionOrder, order_id)
    if order is None:
        return [f"order {order_id} does not exist"]
    events = session.scalars(
        select(SupervisionEvent)
        .where(SupervisionEvent.order_id == order_id)
        .order_by(SupervisionEvent.seq)
    ).all()
    return verify_links(order, events, order_row)


# --------------------------------------------------------------------------- campaigns


def campaign_row(event: CampaignEvent) -> dict[str, Any]:
    return {
        "campaign_id": event.campaign_id,
        "seq": event.seq,
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "note": event.note,
        "payload": event.payload,
    }


def append_campaign_event(
    session: Session,
    campaign: Campaign,
    *,
    action: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> CampaignEvent:
    """Write the next event of ``campaign`` and move its head (inside a unit of work)."""
    event = CampaignEvent(
        campaign_id=campaign.id,
        seq=campaign.event_count + 1,
        action=action,
        actor_id=actor.user_id,
        actor_role=actor.role.value,
        occurred_at=at,
        note=note,
        payload=canonical_json(payload or {}),
        prev_hash=campaign.last_event_hash,
    )
    event.hash, event.key_id = sign_link(campaign.last_event_hash, campaign_row(event))
    session.add(event)
    campaign.event_count = event.seq
    campaign.last_event_hash = event.hash
    return event


def verify_campaign_chain(session: Session, campaign_id: int) -> list[str]:
    """The breaks in a campaign's chain (empty when intact)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return [f"campaign {campaign_id} does not exist"]
    events = session.scalars(
        select(CampaignEvent)
        .where(CampaignEvent.campaign_id == campaign_id)
        .order_by(CampaignEvent.seq)
    ).all()
    return verify_links(campaign, events, campaign_row)
