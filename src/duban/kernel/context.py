"""What every use case needs besides the session: who acts, and what time it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from duban.kernel.roles import Role


@dataclass(frozen=True)
class Actor:
    """The person (or job) taking an action."""

    user_id: int | None
    username: str
    role: Role
    unit_id: int | None = None
    #: The territory (a district's or street's region code) the actor works in; None:
    #: city-wide. Staff of a territory see and act on its cases only.
    region_code: str | None = None
    #: A case this actor may see without an account: an anonymous citizen holding the
    #: case's tracking code (查询码) acts on that one case only.
    granted_case_id: int | None = None
    #: Photos this actor uploaded without an account (in this request, or earlier in the
    #: same browser session): the only ones such an actor may attach to a report.
    uploads: frozenset[str] = frozenset()


SYSTEM_ACTOR = Actor(user_id=None, username="system", role=Role.SYSTEM)


class Clock(Protocol):
    """The source of "now" (a port, so deadline tests need no time freezing)."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return datetime.now(UTC)
