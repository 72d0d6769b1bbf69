"""Ports: the interfaces through which capabilities reach the world outside the database.

An adapter in :mod:`duban.adapters` implements a port; the app and the CLI choose the
adapter and hand it in. Capabilities import the port, never the adapter, so a photo store
on S3 or a notifier for SMS changes the wiring, not the use cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class PhotoStore(Protocol):
    """Stores and returns photo bytes by key."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (idempotent)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; raises FileNotFoundError."""
        ...

    def delete(self, key: str) -> None:
        """Remove what is stored under ``key`` (nothing if there is nothing)."""
        ...


class DeliveryError(Exception):
    """A message could not be delivered. ``code`` is short and stable (it is kept with the
    attempt); ``permanent``: trying again will not help (a refused address)."""

    def __init__(self, code: str, detail: str = "", *, permanent: bool = False) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """One message for a sender: the channel's address, the rendered text, and for
    webhooks and gateways the machine-readable parts."""

    id: int
    channel: str
    kind: str
    address: str
    subject: str
    body: str
    locale: str = "zh-CN"
    params: dict[str, Any] = field(default_factory=dict)
    #: A webhook's signing key.
    secret: str | None = None


class Sender(Protocol):
    """Sends messages of one channel (email, SMS/WeChat gateway, webhook)."""

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise :class:`DeliveryError`."""
        ...
