"""The outbox (``notifications``) and its attempts, people's channel choices, citizens'
contacts on cases, and webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.kernel.db.base import Base, UTCDateTime, string_enum
from duban.kernel.db.sealed import SealedText
from duban.notify.rules import Channel, DeliveryStatus


class Notification(Base):
    """One message to one address, written in the transaction of the change that causes
    it and sent after commit by the worker (the outbox). The text is rendered when it is
    sent, in the recipient's language, and kept with the attempt that sent it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), comment="a message-catalogue entry")
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "notify_channel"))
    address: Mapped[str] = mapped_column(
        String(500), comment="email address, mobile number, WeChat openid or webhook URL"
    )
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(
        String(200), unique=True, comment="one message per key (a case's deadline warning)"
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus, "notify_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="a worker's claim; another may take the row after it"
    )
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="", comment="the text as sent")
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attempt_rows: Mapped[list[NotificationAttempt]] = relationship(
        back_populates="notification", order_by="NotificationAttempt.number"
    )


class NotificationAttempt(Base):
    """One try to send a message: when, how it ended, and the error's code."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500), default="", comment="for the admin")

    notification: Mapped[Notification] = relationship(back_populates="attempt_rows")


class NotifyPreference(Base):
    """A person's channels and addresses (我的账户 → 通知)."""

    __tablename__ = "notify_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), comment="for SMS; else the account's")
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseContact(Base):
    """Where a citizen who left a contact hears of their report, and the tracking link
    they were given (so later messages can carry it). The link holds the tracking code,
    which is kept elsewhere only as a hash (``case_trackers``), so it is sealed."""

    __tablename__ = "case_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "contact_channel"))
    address: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    link: Mapped[str | None] = mapped_column(
        SealedText(),
        comment="sealed: the tracking path given with the report (/track/<code>)",
    )


class WebhookSubscription(Base):
    """A receiver of signed case events (set up by an admin: ``duban webhook add``)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(SealedText(), comment="sealed: the HMAC-SHA256 key")
    events: Mapped[list[str]] = mapped_column(
        JSON, default=list, comment="event patterns, e.g. case.* or case.dispatch"
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
