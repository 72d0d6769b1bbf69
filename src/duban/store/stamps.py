"""Change stamps of the reference data that processes cache (the policy, the map).

Each process keeps the parsed policy and the places index in memory and checks, once
per request, that they are still current. Both stamps live in ``settings`` rows and
are read here in one query (the policy by its ``updated_at``, the map by the random
token in its small value), memoized for the request like the data they guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import case, null, select
from sqlalchemy.orm import Session

from duban.store.models import Setting
from duban.store.session import request_memo

POLICY_KEY: Final = "policy"
PLACES_VERSION_KEY: Final = "places_version"
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
).where(Setting.key.in_((POLICY_KEY, PLACES_VERSION_KEY)))


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
