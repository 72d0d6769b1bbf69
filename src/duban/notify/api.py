"""The notifications API: a person's own channels (``/me/notifications``) and, for
admins, webhook subscriptions and the worker's state."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.api.schemas import Strict
from duban.kernel.context import Actor
from duban.kernel.errors import PermissionDenied
from duban.kernel.roles import Role
from duban.notify.preferences import (
    Preferences,
    add_subscription,
    get_preferences,
    list_subscriptions,
    outbox_counts,
    remove_subscription,
    set_preferences,
)

router = APIRouter(tags=["notifications"])


class NotificationPrefsRead(BaseModel):
    """A person's channels (``email``, ``sms``, ``wechat``) and addresses."""

    channels: list[str]
    email: str
    phone: str
    wechat_openid: str
    locale: str


class NotificationPrefsWrite(Strict):
    channels: list[str] = Field(default_factory=list, max_length=3)
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32)
    wechat_openid: str = Field(default="", max_length=64)
    locale: str = Field(default="zh-CN", max_length=8)


class WebhookRead(BaseModel):
    id: int
    name: str
    url: str
    events: list[str]
    is_active: bool
    created_at: datetime


class WebhookCreate(Strict):
    name: str = Field(default="", max_length=100)
    url: str = Field(max_length=500)
    events: list[str] = Field(default_factory=lambda: ["case.*"], max_length=50)


class WebhookCreated(WebhookRead):
    secret: str = Field(description="the HMAC-SHA256 key; shown once")


def _read(prefs: Preferences) -> NotificationPrefsRead:
    return NotificationPrefsRead(**prefs.__dict__)


def _admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only an admin manages webhooks")


@router.get("/me/notifications", response_model=NotificationPrefsRead)
def read_my_notifications(session: SessionDep, actor: ActorDep) -> NotificationPrefsRead:
    """The signed-in person's notification channels."""
    return _read(get_preferences(session, actor=actor))


@router.put("/me/notifications", response_model=NotificationPrefsRead)
def update_my_notifications(
    body: NotificationPrefsWrite, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> NotificationPrefsRead:
    """Choose channels and addresses (a chosen channel needs its address)."""
    return _read(set_preferences(session, actor=actor, now=clock.now(), **body.model_dump()))


@router.get("/admin/webhooks", response_model=list[WebhookRead])
def read_webhooks(session: SessionDep, actor: ActorDep) -> list[WebhookRead]:
    """Every webhook subscription (admins)."""
    _admin(actor)
    return [
        WebhookRead.model_validate(s, from_attributes=True) for s in list_subscriptions(session)
    ]


@router.post("/admin/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(
    body: WebhookCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> WebhookCreated:
    """Subscribe a URL to signed case events; the answer holds the secret, once."""
    _admin(actor)
    sub, secret = add_subscription(
        session, name=body.name, url=body.url, events=body.events, now=clock.now()
    )
    read = WebhookRead.model_validate(sub, from_attributes=True)
    return WebhookCreated(**read.model_dump(), secret=secret)


@router.delete("/admin/webhooks/{subscription_id}", status_code=204)
def delete_webhook(subscription_id: int, session: SessionDep, actor: ActorDep) -> None:
    """Stop a subscription."""
    _admin(actor)
    remove_subscription(session, subscription_id=subscription_id)


@router.get("/admin/outbox")
def read_outbox(session: SessionDep, actor: ActorDep) -> dict[str, int]:
    """How many messages are in each delivery state (admins)."""
    _admin(actor)
    return outbox_counts(session)
