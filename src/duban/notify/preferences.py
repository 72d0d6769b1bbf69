"""People's channel choices, webhook subscriptions, and what the outbox holds (for admins)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, NotFound, Unauthenticated
from duban.kernel.phones import normalize_phone
from duban.kernel.unitofwork import writing
from duban.notify.models import Notification, NotifyPreference, WebhookSubscription
from duban.notify.rules import LOCALES, PERSONAL_CHANNELS, DeliveryStatus

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Preferences:
    """A person's channels and addresses (none chosen: no messages)."""

    channels: list[str]
    email: str
    phone: str
    wechat_openid: str
    locale: str


def get_preferences(session: Session, *, actor: Actor) -> Preferences:
    """The signed-in person's choices."""
    if actor.user_id is None:
        raise Unauthenticated("sign in to choose your notifications")
    row = session.get(NotifyPreference, actor.user_id)
    if row is None:
        return Preferences(channels=[], email="", phone="", wechat_openid="", locale="zh-CN")
    return Preferences(
        channels=list(row.channels),
        email=row.email or "",
        phone=row.phone or "",
        wechat_openid=row.wechat_openid or "",
        locale=row.locale,
    )


def set_preferences(
    session: Session,
    *,
    actor: Actor,
    channels: list[str],
    email: str = "",
    phone: str = "",
    wechat_openid: str = "",
    locale: str = "zh-CN",
    now: datetime,
) -> Preferences:
    """Choose channels and addresses; a chosen channel needs its address (SMS may use
    the account's phone)."""
    if actor.user_id is None:
        raise Unauthenticated("sign in to choose your notifications")
    known = {c.value for c in PERSONAL_CHANNELS}
    chosen = [c for c in dict.fromkeys(channels) if c]
    for name in chosen:
        if name not in known:
            raise InvalidInput("unknown notification channel", field="channels", channel=name)
    email = email.strip()
    if email and not _EMAIL.match(email):
        raise InvalidInput("not an email address", field="email")
    if "email" in chosen and not email:
        raise InvalidInput("give an email address for email notifications", field="email")
    number = normalize_phone(phone, field="phone") if phone.strip() else None
    openid = wechat_openid.strip()[:64]
    if "wechat" in chosen and not openid:
        raise InvalidInput("give your WeChat openid for WeChat messages", field="wechat_openid")
    if locale not in LOCALES:
        raise InvalidInput("unknown language", field="locale")
    with writing(session):
        row = session.get(NotifyPreference, actor.user_id)
        if row is None:
            row = NotifyPreference(user_id=actor.user_id)
            session.add(row)
        row.channels = chosen
        row.email = email or None
        row.phone = number
        row.wechat_openid = openid or None
        row.locale = locale
        row.updated_at = now
    return get_preferences(session, actor=actor)


def add_subscription(
    session: Session,
    *,
    name: str,
    url: str,
    events: list[str],
    now: datetime,
    secret: str | None = None,
) -> tuple[WebhookSubscription, str]:
    """Subscribe ``url`` to case events matching ``events`` (``case.*`` by default); the
    subscription and its signing secret (generated unless given)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput("a webhook URL is an http(s) URL", field="url")
    key = secret or secrets.token_urlsafe(32)
    with writing(session):
        sub = WebhookSubscription(
            name=name.strip()[:100] or parsed.netloc,
            url=url,
            secret=key,
            events=[e.strip() for e in events if e.strip()] or ["case.*"],
            is_active=True,
            created_at=now,
        )
        session.add(sub)
    return sub, key


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every webhook subscription, oldest first."""
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def remove_subscription(session: Session, *, subscription_id: int) -> None:
    """Stop sending to a subscription (its past messages stay on record)."""
    with writing(session):
        sub = session.get(WebhookSubscription, subscription_id)
        if sub is None:
            raise NotFound("no such webhook subscription", subscription_id=subscription_id)
        sub.is_active = False


def outbox_counts(session: Session) -> dict[str, int]:
    """How many messages of the outbox are in each state."""
    counts = dict.fromkeys((s.value for s in DeliveryStatus), 0)
    for status, n in session.execute(
        select(Notification.status, func.count()).group_by(Notification.status)
    ):
        counts[str(status.value if hasattr(status, "value") else status)] = int(n)
    return counts


def recent_failures(session: Session, limit: int = 20) -> list[Notification]:
    """The latest messages whose last attempt failed."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.last_error.is_not(None))
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
