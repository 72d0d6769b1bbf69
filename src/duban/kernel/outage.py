"""Outages: which errors mean "the database is not answering now" (answer 503, retry).

A database that is down, restarting, unreachable or out of connections is not the
request's fault and not a bug: the client is told to come back (503 with Retry-After)
instead of getting a 500. SQLAlchemy's pool drops the dead connections on its own, so
the service recovers by itself once the database answers again.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from sqlalchemy.exc import DataError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: Seconds a client is told to wait before trying again.
RETRY_AFTER_SECONDS: Final = 5

#: Errors that mean the database is unreachable or cannot serve right now: connection
#: refused or reset, a server shutting down, an exhausted pool, a lock wait given up.
OUTAGE_ERRORS: Final[tuple[type[Exception], ...]] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    sqlite3.OperationalError,
)


def _driver_outages() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


#: :data:`OUTAGE_ERRORS` and the driver's own (raised where Duban talks to psycopg itself).
ALL_OUTAGE_ERRORS: Final = OUTAGE_ERRORS + _driver_outages()


def is_outage(err: BaseException) -> bool:
    """Whether ``err`` (or what it wraps) means the database cannot answer now."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, ALL_OUTAGE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _driver_data_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ()
    return (psycopg.DataError,)


#: Values the database cannot hold (an id past the column's range, a time before year 1
#: in UTC, a NUL in text): the request's fault, answered 422 — not an outage, not a bug.
OUT_OF_RANGE_ERRORS: Final[tuple[type[Exception], ...]] = (
    DataError,
    OverflowError,
    *_driver_data_errors(),
)


def is_out_of_range(err: BaseException) -> bool:
    """Whether ``err`` (or what it wraps) is a value the database cannot take."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, OUT_OF_RANGE_ERRORS):
            return True
        seen.add(id(current))
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False
