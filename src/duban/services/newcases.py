"""Writing new cases: their ids, their numbers (案卷号) and their first event.

Shared by the single report (:func:`duban.services.cases.report_case`) and the bulk
import (:mod:`duban.services.bulk`), so that both write exactly the same rows.

A report writes three or four rows: the case, its ``report`` event (hash-chained, and
the chain's head stored on the case), the idempotency key if one was sent, and one
bump of the day's counter that numbers the case. The counter row is the one thing
every report of the day shares, so it is touched last and held for as short a time as
possible: on PostgreSQL the whole report is a single statement (data-modifying CTEs,
so the counter's row lock lasts from that statement to the commit right after it); on
SQLite the transaction holds the write lock anyway and the statements run in-process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Executable,
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from duban.domain.workflow import Action, CaseStatus
from duban.services.audit import GENESIS, event_row
from duban.services.context import Actor
from duban.store.models import Case, CaseEvent, Counter, IdempotencyKey

CASES = cast(Table, Case.__table__)
EVENTS = cast(Table, CaseEvent.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def counter_name(local_day: str) -> str:
    """The counter row that numbers the cases of one local day (YYYYMMDD)."""
    return f"case:{local_day}"


def case_number(local_day: str, value: int) -> str:
    """案卷号: the local date and the day's sequence, at least 5 digits (2026112300042)."""
    return f"{local_day}{value:05d}"


def _counter_upsert(upsert: Any, *also: Any) -> Any:
    """Bump the counter ``name`` by ``count`` and return its new value (and ``also``).
    The one statement that draws case numbers, on either store."""
    return (
        upsert(Counter)
        .values(name=bindparam("name", type_=String), value=bindparam("count", type_=Integer))
        .on_conflict_do_update(
            index_elements=[Counter.name],
            set_={"value": Counter.value + bindparam("count", type_=Integer)},
        )
        .returning(Counter.value, *also)
    )


# Built once: only the parameters vary.
_COUNTER_UPSERT = {True: _counter_upsert(pg_insert), False: _counter_upsert(sqlite_insert)}


def reserve_case_codes(session: Session, local_day: str, count: int) -> list[str]:
    """``count`` consecutive case numbers of the day, drawn in one statement.

    The counter row is bumped with an upsert, so concurrent creators never collide; on
    PostgreSQL its row lock is held until the drawing transaction ends.
    """
    stmt = _COUNTER_UPSERT[is_postgresql(session)]
    params = {"name": counter_name(local_day), "count": count}
    last = int(session.connection().execute(stmt, params).scalar_one())
    return [case_number(local_day, n) for n in range(last - count + 1, last + 1)]


_NEXTVALS = text(
    "SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, :n)"
)
_MAX_CASE_ID = select(func.max(CASES.c.id))


def new_case_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh ids of ``cases``, taken before the rows are written (the event
    hash covers the case id, so the id must be known before anything is inserted)."""
    if is_postgresql(session):
        return [int(n) for n in session.connection().scalars(_NEXTVALS, {"n": count})]
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so nobody else
    # inserts until it ends; the next rowids are ours.
    last = session.connection().scalar(_MAX_CASE_ID) or 0
    return list(range(last + 1, last + count + 1))


# The day's next number and, as the write lock is held, the next rowid of cases.
_SQLITE_DRAW = _counter_upsert(
    sqlite_insert, select(func.coalesce(func.max(CASES.c.id), 0) + 1).scalar_subquery()
)


def draw_new_case(session: Session, local_day: str) -> tuple[int, str | None]:
    """The id of a case about to be reported and, on SQLite, already its number.

    SQLite: both in one statement, inside the write lock (begin_write first). On
    PostgreSQL the id comes from the sequence and the number is drawn last, inside the
    statement that writes the report (:func:`insert_report`), so None.
    """
    if is_postgresql(session):
        return new_case_ids(session, 1)[0], None
    params = {"name": counter_name(local_day), "count": 1}
    value, case_id = session.connection().execute(_SQLITE_DRAW, params).one()
    return int(case_id), case_number(local_day, int(value))


def report_event_row(
    case_id: int, status: CaseStatus, actor: Actor, now: datetime, payload: dict[str, Any]
) -> dict[str, Any]:
    """The ``case_events`` row of a new case's ``report`` event (the first of its chain)."""
    return event_row(
        case_id=case_id,
        seq=1,
        prev_hash=GENESIS,
        action=Action.REPORT.value,
        from_status=None,
        to_status=status.value,
        actor=actor,
        at=now,
        payload=payload,
    )


# --------------------------------------------------------------------------- one report


# The event's and the key's columns that repeat a case column: bound once, to that one.
_SHARED = {
    "event": {"case_id": "id", "occurred_at": "created_at", "actor_id": "created_by_id"},
    "key": {"case_id": "id", "created_at": "created_at", "user_id": "created_by_id"},
}


# Bound even when NULL (an anonymous report has no created_by_id, its event no actor_id).
_SHARED_CASE_COLUMNS = frozenset(c for names in _SHARED.values() for c in names.values())


def _bind(name: str, column: Any) -> Any:
    """A bind parameter typed like ``column`` (so it binds as the ORM would)."""
    return bindparam(name, type_=column.type)


def _pg_report_statement(case_columns: tuple[str, ...], with_key: bool) -> Executable:
    """One PostgreSQL statement that writes a whole report and returns its number and
    its event's id: bump the day's counter, insert the case numbered from it, its
    event and (``with_key``) its idempotency key. Foreign keys are checked at the end
    of the statement, so the event may reference the case inserted beside it.

    Only ``case_columns`` (those the report sets; the rest stay NULL) are bound, and the
    event and the key reuse the case's parameters where they repeat a value: psycopg
    caches the parsing of a statement only up to 50 parameters and 4 KiB, and parsing
    this one afresh cost more than the rest of the write.
    """
    drawn = _counter_upsert(pg_insert).cte("drawn")
    digits = sql_cast(drawn.c.value, String)
    # Like case_number(): at least 5 digits, never truncated (lpad would cut a 6th).
    number = bindparam("d", type_=String).concat(
        func.lpad(digits, func.greatest(5, func.length(digits)), "0")
    )
    case_values = [_bind(f"c_{c}", CASES.c[c]) for c in case_columns]
    new_case = (
        insert(CASES)
        .from_select(
            [*case_columns, "code"],
            select(*case_values, number.label("code")).select_from(drawn),
        )
        .returning(CASES.c.code)
        .cte("new_case")
    )

    def values(table: Table, prefix: str, shared: dict[str, str]) -> dict[str, Any]:
        return {
            c.key: _bind(f"c_{shared[c.key]}" if c.key in shared else f"{prefix}{c.key}", c)
            for c in table.c
            if c.key != "id"
        }

    new_event = (
        insert(EVENTS)
        .values(values(EVENTS, "e_", _SHARED["event"]))
        .returning(EVENTS.c.id)
        .cte("new_event")
    )
    final = (
        select(new_case.c.code, new_event.c.id)
        .select_from(new_case)
        .join(new_event, literal_column("true"))
    )
    if with_key:
        new_key = insert(KEYS).values(values(KEYS, "k_", _SHARED["key"])).cte("new_key")
        final = final.add_cte(new_key)
    return final


_pg_reports: dict[tuple[tuple[str, ...], bool], Executable] = {}
_SQLITE_CASE = insert(CASES)
_SQLITE_EVENT = insert(EVENTS).returning(EVENTS.c.id)
_SQLITE_KEY = insert(KEYS)


def _pg_report(case_row: dict[str, Any], with_key: bool) -> tuple[Executable, tuple[str, ...]]:
    """The statement for a report that sets these case columns (a handful of variants,
    built once each)."""
    columns = tuple(
        k
        for k, v in case_row.items()
        if k != "code" and (v is not None or k in _SHARED_CASE_COLUMNS)
    )
    key = (columns, with_key)
    stmt = _pg_reports.get(key)
    if stmt is None:
        stmt = _pg_reports.setdefault(key, _pg_report_statement(columns, with_key))
    return stmt, columns


def insert_report(
    session: Session,
    case_row: dict[str, Any],
    event_row: dict[str, Any],
    key_row: dict[str, Any] | None,
    local_day: str,
) -> tuple[str, int]:
    """Write one new case, its event and its idempotency key in the session's
    transaction. The case's ``code`` is the one :func:`draw_new_case` gave, or on
    PostgreSQL drawn here, last. Returns ``(code, event id)``."""
    # Core statements on the session's connection: the ORM adds nothing to these rows.
    conn = session.connection()
    if is_postgresql(session):
        stmt, columns = _pg_report(case_row, key_row is not None)
        params: dict[str, Any] = {"name": counter_name(local_day), "count": 1, "d": local_day}
        params.update((f"c_{k}", case_row[k]) for k in columns)
        for prefix, row, shared in (("e_", event_row, "event"), ("k_", key_row, "key")):
            for k, v in (row or {}).items():
                same_as = _SHARED[shared].get(k)
                if same_as is None:
                    params[f"{prefix}{k}"] = v
                elif v != case_row[same_as]:  # a shared parameter must mean the same value
                    raise ValueError(f"{shared} {k} differs from the case's {same_as}")
        code, event_id = conn.execute(stmt, params).one()
        return str(code), int(event_id)
    code = str(case_row["code"])
    conn.execute(_SQLITE_CASE, case_row)
    event_id = conn.execute(_SQLITE_EVENT, event_row).scalar_one()
    if key_row is not None:
        conn.execute(_SQLITE_KEY, key_row)
    return code, int(event_id)
