"""Sending the outbox: claim due messages, render them, send, record each attempt.

:func:`claim` takes due messages for one worker: on PostgreSQL with ``SELECT … FOR
UPDATE SKIP LOCKED``, so workers running at once take disjoint rows without waiting on
each other; on SQLite the write transaction (``BEGIN IMMEDIATE``) already serialises
them. A claimed row carries a lease (``locked_until``): a worker that dies mid-send
leaves the row to be claimed again once the lease runs out.

:func:`deliver_due` sends each claimed message through the sender of its channel (a
:class:`~duban.kernel.ports.Sender`, chosen by the caller), records a
:class:`~duban.notify.models.NotificationAttempt` per try, and schedules the next try
with exponential backoff until the policy's attempts are used up (status ``dead``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from duban.kernel.context import Clock
from duban.kernel.ports import DeliveryError, Message, Sender
from duban.kernel.unitofwork import writing
from duban.notify.models import Notification, NotificationAttempt, WebhookSubscription
from duban.notify.policy import NotifyPolicy, notify_policy
from duban.notify.rules import PRERENDERED_KINDS, DeliveryStatus, Kind, render

#: Set when a commit wrote messages: the worker's delivery loop wakes at once.
_WAKE: Final = threading.Event()


def wake() -> None:
    """Tell a waiting worker that there are new messages."""
    _WAKE.set()


def wait_for_work(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for :func:`wake`; whether it came."""
    woke = _WAKE.wait(timeout)
    _WAKE.clear()
    return woke


@dataclass
class DeliveryReport:
    """What one round of delivery did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        text = f"delivery: {self.sent} sent, {self.failed} to retry, {self.dead} given up"
        if self.errors:
            text += " (" + ", ".join(f"{k} ×{v}" for k, v in sorted(self.errors.items())) + ")"
        return text


def claim(
    session: Session, *, now: datetime, policy: NotifyPolicy, limit: int | None = None
) -> list[int]:
    """Lock and lease up to ``limit`` due messages in the session's open transaction; the
    caller commits (which ends the row locks; the lease keeps the rows its own)."""
    due = or_(
        (Notification.status == DeliveryStatus.PENDING) & (Notification.next_attempt_at <= now),
        (Notification.status == DeliveryStatus.SENDING) & (Notification.locked_until < now),
    )
    query = (
        select(Notification.id)
        .where(due)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit or policy.batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(status=DeliveryStatus.SENDING, locked_until=now + policy.lease),
        )
    return ids


def _params(
    session: Session, row: Notification, *, base_url: str, secret: str | None
) -> dict[str, Any]:
    """The message's parameters as the text needs them: names, local times, links."""
    from duban.accounts import Unit
    from duban.reference import Category, load_policy

    params = dict(row.params)
    tz = load_policy(session).tz
    category = session.get(Category, params.get("category_code") or "")
    params["category"] = category.name if category is not None else params.get("category_code")
    unit = session.get(Unit, params["unit_id"]) if params.get("unit_id") else None
    params["unit"] = unit.name if unit is not None else ""
    due = params.get("due_at")
    params["due"] = (
        datetime.fromisoformat(due).astimezone(tz).strftime("%Y-%m-%d %H:%M") if due else ""
    )
    params["link"] = base_url + _link_path(session, row, params, secret)
    return params


def _link_path(
    session: Session, row: Notification, params: Mapping[str, Any], secret: str | None
) -> str:
    from duban.notify.models import CaseContact

    if row.kind in (Kind.RECEIVED, Kind.DISPATCHED, Kind.FIXED):
        link = session.scalars(
            select(CaseContact.link).where(
                CaseContact.case_id == row.case_id, CaseContact.link.is_not(None)
            )
        ).first()
        return link or "/track"
    if row.kind == Kind.HANDOVER:
        from duban import handover

        transfer = handover.current_transfer(session, int(params["transfer_case_id"]))
        if transfer is None or not secret:
            return ""
        return f"/handover/{handover.link_token(secret, transfer)}"
    if params.get("path"):
        return str(params["path"])
    return f"/cases/{row.case_id}" if row.case_id else ""


#: The parameters a gateway's template (and an email's headers) get beside the text.
_KEPT: Final = ("code", "category", "address", "unit", "due", "link", "note", "title")


def _message(session: Session, row: Notification, *, base_url: str, secret: str | None) -> Message:
    if row.kind == Kind.WEBHOOK:
        sub = session.get(WebhookSubscription, row.subscription_id)
        return Message(
            id=row.id,
            channel=row.channel.value,
            kind=row.kind,
            address=row.address,
            subject=str(row.params.get("event", "")),
            body="",
            params=dict(row.params),
            secret=sub.secret if sub is not None else None,
        )
    prerendered = row.kind in PRERENDERED_KINDS
    params = (
        dict(row.params)  # written already: no names, times or links to fill in
        if prerendered
        else _params(session, row, base_url=base_url, secret=secret)
    )
    subject, body = render(notify_policy().messages, row.kind, row.locale, params)
    names = ("link", "unsubscribe") if prerendered else _KEPT
    keep = {k: params.get(k) or "" for k in names}
    return Message(
        id=row.id,
        channel=row.channel.value,
        kind=row.kind,
        address=row.address,
        subject=subject,
        body=body,
        locale=row.locale,
        params=keep,
    )


def _send_one(
    session: Session,
    notification_id: int,
    *,
    senders: Mapping[str, Sender],
    clock: Clock,
    policy: NotifyPolicy,
    base_url: str,
    secret: str | None,
    report: DeliveryReport,
) -> None:
    with writing(session):
        row = session.get(Notification, notification_id)
        if row is None or row.status != DeliveryStatus.SENDING:
            return
        message = _message(session, row, base_url=base_url, secret=secret)
        row.subject, row.body = message.subject[:300], message.body
    error: DeliveryError | None = None
    sender = senders.get(message.channel)
    try:
        if sender is None:
            raise DeliveryError("channel_not_configured", message.channel, permanent=True)
        sender.send(message)  # outside any transaction: a slow server holds no lock
    except DeliveryError as err:
        error = err
    except Exception as err:  # a sender's bug: recorded and retried like any failure
        error = DeliveryError("send_failed", f"{type(err).__name__}: {err}"[:300])
    now = clock.now()
    with writing(session):
        row = session.get(Notification, notification_id)
        if row is None:
            return
        row.attempts += 1
        session.add(
            NotificationAttempt(
                notification_id=row.id,
                number=row.attempts,
                attempted_at=now,
                ok=error is None,
                error_code=error.code if error else None,
                detail=(error.detail if error else "")[:500],
            )
        )
        row.locked_until = None
        if error is None:
            row.status = DeliveryStatus.SENT
            row.sent_at = now
            row.last_error = None
            report.sent += 1
            return
        row.last_error = error.code[:64]
        report.errors[error.code] = report.errors.get(error.code, 0) + 1
        wait = None if error.permanent else policy.retry.wait_after(row.attempts)
        if wait is None:
            row.status = DeliveryStatus.DEAD
            report.dead += 1
        else:
            row.status = DeliveryStatus.PENDING
            row.next_attempt_at = now + wait
            report.failed += 1


def deliver_due(
    session: Session,
    *,
    senders: Mapping[str, Sender],
    clock: Clock,
    base_url: str = "",
    secret: str | None = None,
    policy: NotifyPolicy | None = None,
    limit: int | None = None,
) -> DeliveryReport:
    """Send every message due now (one claimed batch); idempotent and safe to run in
    several workers at once."""
    policy = policy or notify_policy()
    report = DeliveryReport()
    with writing(session):
        ids = claim(session, now=clock.now(), policy=policy, limit=limit)
    for notification_id in ids:
        _send_one(
            session,
            notification_id,
            senders=senders,
            clock=clock,
            policy=policy,
            base_url=base_url.rstrip("/"),
            secret=secret,
            report=report,
        )
    return report
