"""Fakes for tests (no mocks): a clock that stands still until told to move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    """An aware datetime in Asia/Shanghai, e.g. ``local(2026, 11, 23, 9, 0)``."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


class FixedClock:
    """A clock that returns the same instant until :meth:`advance` or :meth:`set`."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = (at or local(2026, 11, 23, 9, 0)).astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at

    def set(self, at: datetime) -> datetime:
        self.at = at.astimezone(UTC)
        return self.at
