"""Ports: the interfaces through which capabilities reach the world outside the database.

An adapter in :mod:`duban.adapters` implements a port; the app and the CLI choose the
adapter and hand it in. Capabilities import the port, never the adapter, so a photo store
on S3 or a notifier for SMS changes the wiring, not the use cases.
"""

from __future__ import annotations

from typing import Protocol


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
