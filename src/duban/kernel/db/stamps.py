"""Change stamps of the reference data that processes cache (policy, map, taxonomy).

Each process keeps the parsed policy, the places index and the taxonomy's subclasses
in memory and checks, once per request, that they are still current. The stamps live
in ``settings`` rows and are read here in one query (the policy and the taxonomy by
their ``updated_at``, the map by the random token in its small value), memoized for the
request like the data they guard.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Final, Generic, NamedTuple, TypeVar

from sqlalchemy import Engine, case, null, select
from sqlalchemy.orm import Session

from duban.kernel.db.models import Setting
from duban.kernel.db.session import request_memo

POLICY_KEY: Final = "policy"
PLACES_VERSION_KEY: Final = "places_version"
#: Bumped by every change of categories or filing conditions (services.reference).
TAXONOMY_KEY: Final = "taxonomy"
_STAMPS_MEMO: Final = "duban.stamps"


class Stamp(NamedTuple):
    """A settings row's change stamp: its time and, for small rows, its value."""

    updated_at: datetime | None
    value: Any


_MISSING = Stamp(None, None)

_READ_STAMPS = select(
    Setting.key,
    Setting.updated_at,
    # The policy's value is large and only read when its stamp moved; the map's is tiny.
    case((Setting.key == PLACES_VERSION_KEY, Setting.value), else_=null()),
).where(Setting.key.in_((POLICY_KEY, PLACES_VERSION_KEY, TAXONOMY_KEY)))


def next_stamp(previous: datetime | None, now: datetime) -> datetime:
    """The ``updated_at`` for a change of a stamped row: ``now``, or strictly later than
    ``previous`` if the clock has not moved past it, so every cache notices the change."""
    if previous is None or previous < now:
        return now
    return previous + timedelta(microseconds=1)


def database_key(engine: Engine) -> str:
    """Which database a process-wide cache entry belongs to (tests use many at once)."""
    return engine.url.render_as_string(hide_password=True)


def places_token(value: Any) -> str | None:
    """The map's version token from the value of its stamp row."""
    if isinstance(value, dict):
        token = value.get("token")
        return str(token) if token else None
    return None


def stamp(session: Session, key: str) -> Stamp:
    """The stamp of the settings row ``key`` (one of the keys above), read with the
    others once per request (every call outside a request reads afresh)."""
    memo = request_memo(session)
    stamps: dict[str, Stamp] | None = memo.get(_STAMPS_MEMO) if memo is not None else None
    if stamps is None:
        stamps = {key: Stamp(at, value) for key, at, value in session.execute(_READ_STAMPS)}
        if memo is not None:
            memo[_STAMPS_MEMO] = stamps
    return stamps.get(key, _MISSING)


def forget_stamps(session: Session) -> None:
    """Drop the request's stamps (whoever changes a stamped row in the session calls it)."""
    memo = request_memo(session)
    if memo is not None:
        memo.pop(_STAMPS_MEMO, None)


T = TypeVar("T")


class StampedCache(Generic[T]):
    """One value per database (the parsed policy, the map index, the taxonomy's table),
    kept by this process while the stamp it was read with is still the current one.
    A server has one database; a test run has many, of which the last few are kept."""

    MAX_DATABASES = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[Any, T]] = {}

    def get(self, database: str, stamp: Any) -> T | None:
        """The value held for ``database`` if it was stored with ``stamp``, else None."""
        with self._lock:
            held = self._values.get(database)
        return held[1] if held is not None and held[0] == stamp else None

    def put(self, database: str, stamp: Any, value: T) -> T:
        """Hold ``value`` for ``database``, read at ``stamp`` (replacing the last one)."""
        with self._lock:
            self._values.pop(database, None)
            while len(self._values) >= self.MAX_DATABASES:
                del self._values[next(iter(self._values))]  # the oldest
            self._values[database] = (stamp, value)
        return value

    def clear(self) -> None:
        """Drop everything (tests; the next use reloads)."""
        with self._lock:
            self._values.clear()
