"""New cases: from a report to its rows, and the rows written in one short transaction.

A report is made in two steps that every way in shares (the API, the web's 随手拍,
Open311, the demo):

1. :func:`prepare_report` checks the report against the reference data this process
   holds (taxonomy, map, policy: :class:`ReportRefs`) and builds its case's columns and
   its first event's payload. Pure computation: no database, no lock.
2. :func:`write_reports` writes prepared reports on a DB-API connection inside the
   caller's transaction: each case, its ``report`` event (hash-chained, the head stored
   on the case) and its idempotency key if one was sent, numbered in order by one bump
   of the day's counter. The counter row is the one thing every report of the day
   shares, so it is held as briefly as possible: on PostgreSQL the whole write is a
   single statement (data-modifying CTEs; with ``commit`` sent with it, the row lock
   lasts only while the server runs them); on SQLite the write lock is taken for the
   writes alone (the rows are built before).

:func:`duban.cases.actions.report_case` runs both in a session (for callers that write
more in the same transaction); :mod:`duban.cases.reportbatch` runs them for many
reports at once without one. The statements are compiled once and run on the DB-API
cursor (:mod:`duban.kernel.db.prepared`); the bulk import shares the numbering.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

from duban.cases.audit import GENESIS, event_row
from duban.cases.models import Case, CaseEvent, CasePhoto, IdempotencyKey
from duban.cases.workflow import (
    REPORT_SOURCES,
    STEP_OF_STATUS,
    Action,
    CaseStatus,
    Source,
    initial_status,
)
from duban.kernel.context import Actor
from duban.kernel.db.models import Counter
from duban.kernel.db.prepared import Prepared
from duban.kernel.db.session import WriteLockBusy
from duban.kernel.errors import InvalidInput, PermissionDenied
from duban.kernel.inputs import MAX_DESCRIPTION_CHARS, clean_text
from duban.kernel.roles import Role
from duban.places import input_point
from duban.reference import Policy, SubclassTable, load_policy, subclass_table

if TYPE_CHECKING:
    from duban.places import Location, PlacesIndex

CASES = cast(Table, Case.__table__)
EVENTS = cast(Table, CaseEvent.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)
CASE_COLUMNS = tuple(c.key for c in CASES.columns)
MAX_IDEMPOTENCY_KEY_CHARS = 200


@dataclass(frozen=True)
class NewCase:
    """What a report carries (primitives only; the API validates shapes)."""

    source: Source
    category_code: str
    lat: float
    lon: float
    description: str
    condition_code: str | None = None
    address: str = ""
    reporter_name: str | None = None
    reporter_phone: str | None = None
    photo_ids: Sequence[str] = ()
    #: The coordinate system of lat/lon: wgs84 (GPS, default), gcj02 (Amap, Tencent) or
    #: bd09 (Baidu); converted to WGS84 on the way in.
    crs: str = "wgs84"


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --------------------------------------------------------------------------- numbers


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


NEXTVAL = func.nextval(func.pg_get_serial_sequence("cases", "id"))
#: ``n`` new ids of ``cases`` (PostgreSQL): through a session, and on a DB-API cursor.
_NEW_CASE_IDS = select(NEXTVAL).select_from(func.generate_series(1, bindparam("n", type_=Integer)))
_PG_NEW_CASE_IDS = Prepared(_NEW_CASE_IDS)
_MAX_CASE_ID = select(func.max(CASES.c.id))


def new_case_ids(session: Session, count: int) -> list[int]:
    """``count`` fresh ids of ``cases``, taken before the rows are written (the event
    hash covers the case id, so the id must be known before anything is inserted)."""
    if is_postgresql(session):
        ids = session.connection().scalars(_NEW_CASE_IDS, {"n": count})
        return [int(n) for n in ids]
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so nobody else
    # inserts until it ends; the next rowids are ours.
    last = session.connection().scalar(_MAX_CASE_ID) or 0
    return list(range(last + 1, last + count + 1))


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


# --------------------------------------------------------------------------- prepare


@dataclass(frozen=True)
class ReportRefs:
    """The reference data a report is checked against: as this process holds it."""

    policy: Policy
    places: PlacesIndex
    subclasses: SubclassTable


def report_refs(session: Session) -> ReportRefs:
    """The current reference data, through the session (stamps checked once per request)."""
    from duban.places import places_index  # deferred: geometry

    return ReportRefs(load_policy(session), places_index(session), subclass_table(session))


@dataclass(frozen=True)
class PreparedReport:
    """A checked report, ready to be written: every column of its case but the id and
    the number, and what its ``report`` event will say."""

    case: dict[str, Any]
    payload: dict[str, Any]
    actor: Actor
    key: str | None
    request_hash: str
    photo_ids: tuple[str, ...]
    location: Location
    local_day: str
    policy: Policy

    @property
    def status(self) -> CaseStatus:
        status: CaseStatus = self.case["status"]
        return status

    @property
    def now(self) -> datetime:
        now: datetime = self.case["created_at"]
        return now


_NEW_CASE_FIELDS = tuple(f.name for f in fields(NewCase))


def request_hash(data: NewCase) -> str:
    """What a retried request must repeat to be taken for the same report (stored with
    its Idempotency-Key, so its spelling must not change: the JSON of every field)."""
    values = {name: getattr(data, name) for name in _NEW_CASE_FIELDS}
    values["photo_ids"] = list(values["photo_ids"])
    return hashlib.sha256(
        json.dumps(values, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()


def place_payload(
    location: Location, crs: str | None, in_lon: float, in_lat: float
) -> dict[str, Any]:
    """What an event records about a case's place: its regions, and the input if it was
    not WGS84."""
    from duban.places import location_codes  # deferred: geometry

    codes = location_codes(location)
    payload: dict[str, Any] = {}
    if codes["grid"] or codes["district"]:
        payload["place"] = {k: v for k, v in codes.items() if v}
    if location.catch_all:
        payload["catch_all"] = True
    if (crs or "wgs84").lower() not in ("wgs84", ""):
        payload["input"] = {"crs": crs, "lon": in_lon, "lat": in_lat}
    return payload


def check_reporter(actor: Actor, source: Source, idempotency_key: str | None) -> str | None:
    """Whether ``actor`` may report from ``source``; the cleaned Idempotency-Key."""
    allowed = REPORT_SOURCES.get(actor.role, frozenset())
    if source not in allowed:
        raise PermissionDenied(
            f"role '{actor.role.value}' may not report cases from source '{source.value}'"
            + (f"; allowed: {', '.join(sorted(s.value for s in allowed))}" if allowed else ""),
        )
    key = (idempotency_key or "").strip() or None
    if key is not None and (len(key) > MAX_IDEMPOTENCY_KEY_CHARS or actor.user_id is None):
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters",
            field="Idempotency-Key",
        )
    return key


def prepare_report(
    refs: ReportRefs,
    *,
    actor: Actor,
    data: NewCase,
    idempotency_key: str | None,
    now: datetime,
) -> PreparedReport:
    """上报, checked: who may report what, the text, the point and where it lies, the
    category and filing condition, the first step's timer. Raises the domain error of
    the first thing wrong; touches no database."""
    from duban.places import locate_in, location_codes  # deferred: geometry

    key = check_reporter(actor, data.source, idempotency_key)
    fingerprint = request_hash(data)
    lon, lat = input_point(data.lat, data.lon, data.crs)
    description = clean_text(
        data.description, field_name="description", limit=MAX_DESCRIPTION_CHARS, required=True
    )
    address = clean_text(data.address, field_name="address", limit=300)
    reporter_name = clean_text(data.reporter_name or "", field_name="reporter_name", limit=100)
    reporter_phone = clean_text(data.reporter_phone or "", field_name="reporter_phone", limit=32)
    category, condition = refs.subclasses.resolve(data.category_code, data.condition_code)
    photo_ids = tuple(dict.fromkeys(data.photo_ids))
    policy = refs.policy
    location = locate_in(refs.places, lon, lat, policy.places)
    status = initial_status(data.source)
    step = STEP_OF_STATUS.get(status)
    step_started_at, step_due_at = policy.step_timer(step, now)
    codes = location_codes(location)
    case = dict.fromkeys(CASE_COLUMNS)
    case.update(
        version=1,
        source=data.source,
        status=status,
        kind=category.kind,
        category_code=category.code,
        condition_code=condition.code if condition else None,
        lat=lat,
        lon=lon,
        address=address,
        description=description,
        grid_code=codes["grid"],
        community_code=codes["community"],
        street_code=codes["street"],
        district_code=codes["district"],
        reporter_name=reporter_name or None,
        reporter_phone=reporter_phone or None,
        reporter_id=actor.user_id if actor.role == Role.CITIZEN else None,
        created_by_id=actor.user_id,
        rework_count=0,
        is_supervised=False,
        paused_seconds=0.0,
        step=step,
        step_started_at=step_started_at,
        step_due_at=step_due_at,
        created_at=now,
        updated_at=now,
        event_count=1,
    )
    payload = {
        "source": data.source.value,
        "category": category.code,
        "condition": case["condition_code"],
        "photos": list(photo_ids),
        **place_payload(location, data.crs, data.lon, data.lat),
    }
    return PreparedReport(
        case=case,
        payload=payload,
        actor=actor,
        key=key,
        request_hash=fingerprint,
        photo_ids=photo_ids,
        location=location,
        local_day=now.astimezone(policy.tz).strftime("%Y%m%d"),
        policy=policy,
    )


# --------------------------------------------------------------------------- write


@dataclass(frozen=True)
class WrittenReport:
    """A report as written: every column of its case and of its event."""

    case: dict[str, Any]
    event: dict[str, Any]
    prepared: PreparedReport


_R = TypeVar("_R", PreparedReport, WrittenReport)


# --------------------------------------------------------------------------- PostgreSQL

#: The columns of ``cases`` the PostgreSQL statement writes: all but ``code``, drawn in
#: SQL (those a report leaves empty go as NULL, as on SQLite, so a new column can not be
#: forgotten here).
REPORT_CASE_COLUMNS: Final = tuple(c for c in CASE_COLUMNS if c != "code")
_KEY_COLUMNS: Final = ("user_id", "key", "request_hash", "case_id", "created_at")


class _PgBatchWrite:
    """One PostgreSQL statement that writes a whole batch of reports of one day and
    returns each case's number and event id: bump the day's counter by the batch's
    size, insert the cases numbered from it in order, their events and their
    idempotency keys.

    The rows go as three JSON documents expanded by ``json_to_recordset`` with the
    columns' own SQL types, so the statement is the same whatever the batch's size (it
    is parsed once and prepared by the server) and binding costs one ``json.dumps``
    rather than one adaptation per value. Foreign keys are checked at the end of the
    statement, so the events may reference the cases inserted beside them.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._case_columns = REPORT_CASE_COLUMNS
        self._event_columns = tuple(c.key for c in EVENTS.c if c.key != "id")

        def recordset(param: str, table: Table, columns: Sequence[str], *extra: str) -> str:
            types = ", ".join(
                [f"{c} {table.c[c].type.compile(dialect=dialect)}" for c in columns] + list(extra)
            )
            return f"json_to_recordset(%({param})s::json) AS r({types})"

        cases = ", ".join(self._case_columns)
        events = ", ".join(self._event_columns)
        number = "drawn.value - %(n)s + r.ord"
        self.sql = (
            "WITH drawn AS ("
            " INSERT INTO counters (name, value) VALUES (%(name)s, %(n)s)"
            " ON CONFLICT (name) DO UPDATE SET value = counters.value + %(n)s RETURNING value"
            "), new_cases AS ("
            f" INSERT INTO cases (code, {cases})"
            # Like case_number(): at least 5 digits, never truncated (lpad would cut a 6th).
            f" SELECT %(day)s || lpad(({number})::text, greatest(5, length(({number})::text)),"
            f" '0'), {', '.join(f'r.{c}' for c in self._case_columns)}"
            f" FROM drawn, {recordset('cases', CASES, self._case_columns, 'ord integer')}"
            " RETURNING id, code"
            "), new_events AS ("
            f" INSERT INTO case_events ({events})"
            f" SELECT {events} FROM {recordset('events', EVENTS, self._event_columns)}"
            " RETURNING id, case_id"
            "), new_keys AS ("
            f" INSERT INTO idempotency_keys ({', '.join(_KEY_COLUMNS)})"
            f" SELECT {', '.join(_KEY_COLUMNS)} FROM {recordset('keys', KEYS, _KEY_COLUMNS)}"
            ") SELECT c.id, c.code, e.id FROM new_cases c JOIN new_events e ON e.case_id = c.id"
        )

    def send(self, cursor: Any, day: str, written: Sequence[WrittenReport]) -> None:
        """Write ``written`` (all of local day ``day``; in pipeline mode: queue it)."""
        cursor.execute(self.sql, self.params(day, written))

    def params(self, day: str, written: Sequence[WrittenReport]) -> dict[str, Any]:
        """The statement's parameters for ``written`` (all of local day ``day``)."""
        cases = []
        for ord_, w in enumerate(written, start=1):
            row = {c: _json_value(w.case[c]) for c in self._case_columns}
            row["ord"] = ord_
            cases.append(row)
        events = [{c: _json_value(w.event[c]) for c in self._event_columns} for w in written]
        keys = [
            {c: _json_value(k[c]) for c in _KEY_COLUMNS}
            for w in written
            if (k := _key_row(w)) is not None
        ]
        return {
            "name": counter_name(day),
            "n": len(written),
            "day": day,
            "cases": json.dumps(cases, ensure_ascii=False),
            "events": json.dumps(events, ensure_ascii=False),
            "keys": json.dumps(keys, ensure_ascii=False),
        }

    @staticmethod
    def collect(rows: Iterable[Sequence[Any]], written: Sequence[WrittenReport]) -> None:
        """Fill in the numbers and event ids the statement returned (``rows``)."""
        by_id = {int(case_id): (str(code), int(event_id)) for case_id, code, event_id in rows}
        for w in written:
            w.case["code"], w.event["id"] = by_id[w.case["id"]]


def _json_value(value: Any) -> Any:
    """A column value as ``json_to_recordset`` reads it into the column's SQL type: what
    the ORM binds (an enum's value, an aware UTC time), spelled in JSON."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # as UTCDateTime refuses it
            raise ValueError(f"naive datetime for a UTC column: {value!r}")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


_pg_batch_writes: dict[str, _PgBatchWrite] = {}


def pg_batch_write(dialect: Dialect) -> _PgBatchWrite:
    key = f"{dialect.name}+{dialect.driver}"
    statement = _pg_batch_writes.get(key)
    if statement is None:
        statement = _pg_batch_writes.setdefault(key, _PgBatchWrite(dialect))
    return statement


def _bind(name: str, column: Any) -> Any:
    """A bind parameter typed like ``column`` (so it binds as the ORM would)."""
    return bindparam(name, type_=column.type)


def _insert_all(table: Table, *, but: tuple[str, ...] = ()) -> Any:
    """An INSERT binding every column of ``table`` (but ``but``) to its own name."""
    return insert(table).values({c.key: _bind(c.key, c) for c in table.c if c.key not in but})


def _next_id(table: Table) -> Any:
    return select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()


# SQLite: the day's next numbers and, as the write lock is held, the next rowids of
# cases and of their events, in one statement.
_SQLITE_DRAW = Prepared(_counter_upsert(sqlite_insert, _next_id(CASES), _next_id(EVENTS)))
_SQLITE_CASE = Prepared(_insert_all(CASES))
_SQLITE_EVENT = Prepared(_insert_all(EVENTS))
_SQLITE_KEY = Prepared(_insert_all(KEYS, but=("id",)))
_CASE_PHOTOS = insert(cast(Table, CasePhoto.__table__))


def chain_first_event(prepared: PreparedReport, case_id: int) -> WrittenReport:
    """The case's columns with its id and chain head, its ``report`` event's columns."""
    case = dict(prepared.case)
    case["id"] = case_id
    event = report_event_row(
        case_id, prepared.status, prepared.actor, prepared.now, prepared.payload
    )
    case["last_event_hash"] = event["hash"]
    return WrittenReport(case=case, event=event, prepared=prepared)


def _key_row(written: WrittenReport) -> dict[str, Any] | None:
    prepared = written.prepared
    if prepared.key is None or prepared.actor.user_id is None:
        return None
    return {
        "user_id": prepared.actor.user_id,
        "key": prepared.key,
        "request_hash": prepared.request_hash,
        "case_id": written.case["id"],
        "created_at": prepared.now,
    }


def write_reports(
    dbapi_connection: Any,
    dialect: Dialect,
    reports: Sequence[PreparedReport],
    *,
    case_ids: Sequence[int] | None = None,
    commit: bool = False,
    lock_wait: float | None = None,
) -> list[WrittenReport]:
    """Write prepared reports in the connection's current transaction (on SQLite the
    write lock must be held: ``BEGIN IMMEDIATE``), numbered in order.

    On PostgreSQL the reports of each local day are one statement. With ``commit`` they
    and the COMMIT are sent together (psycopg's pipeline): one round trip for the batch,
    and the day's counter row locked only while the server runs them; with
    ``lock_wait`` (seconds) that lock is waited for no longer (:class:`WriteLockBusy`).
    The cases' ids are ``case_ids`` if the caller drew them already (``nextval``), else
    drawn here. DB-API errors come out as SQLAlchemy's
    (:class:`~sqlalchemy.exc.IntegrityError` for a reused Idempotency-Key), as from any
    other statement.
    """
    if not reports:
        return []
    cursor = dbapi_connection.cursor()
    statement = ""
    try:
        if dialect.name == "postgresql":
            if case_ids is None:
                statement = _PG_NEW_CASE_IDS.on(dialect).sql
                _PG_NEW_CASE_IDS.execute(cursor, dialect, {"n": len(reports)})
                case_ids = [int(row[0]) for row in cursor.fetchall()]
            written = [
                chain_first_event(p, case_id) for p, case_id in zip(reports, case_ids, strict=True)
            ]
            batch_write = pg_batch_write(dialect)
            statement = batch_write.sql
            # With a commit, everything goes in one round trip (psycopg's pipeline): the
            # day's counter row is then locked only while the server runs the statement.
            pipeline = dbapi_connection.pipeline() if commit else contextlib.nullcontext()
            sent: list[tuple[Any, list[WrittenReport]]] = []
            try:
                with pipeline:
                    if lock_wait is not None:
                        ms = max(1, round(lock_wait * 1000))
                        cursor.execute(f"SET LOCAL lock_timeout = '{ms}ms'")
                    for day, same_day in by_day(written):
                        day_cursor = dbapi_connection.cursor()
                        sent.append((day_cursor, same_day))
                        batch_write.send(day_cursor, day, same_day)
                    if commit:
                        dbapi_connection.commit()
                for day_cursor, same_day in sent:
                    batch_write.collect(day_cursor.fetchall(), same_day)
            finally:
                for day_cursor, _ in sent:
                    day_cursor.close()
        else:
            # One report's day is every report's day but around midnight: draw per day.
            written = []
            for day, group in by_day(reports):
                statement = _SQLITE_DRAW.on(dialect).sql
                last, next_case, next_event = _SQLITE_DRAW.first(
                    cursor, dialect, {"name": counter_name(day), "count": len(group)}
                )
                first = int(last) - len(group) + 1
                for i, p in enumerate(group):
                    one = chain_first_event(p, int(next_case) + i)
                    one.case["code"] = case_number(day, first + i)
                    one.event["id"] = int(next_event) + i
                    written.append(one)
            statement = _SQLITE_CASE.on(dialect).sql
            _SQLITE_CASE.execute_many(cursor, dialect, [w.case for w in written])
            statement = _SQLITE_EVENT.on(dialect).sql
            _SQLITE_EVENT.execute_many(cursor, dialect, [w.event for w in written])
            keys = [k for w in written if (k := _key_row(w)) is not None]
            if keys:
                statement = _SQLITE_KEY.on(dialect).sql
                _SQLITE_KEY.execute_many(cursor, dialect, keys)
    except dialect.loaded_dbapi.Error as err:
        if getattr(err, "sqlstate", None) == PG_LOCK_NOT_AVAILABLE:
            raise WriteLockBusy(f"the day's case counter stayed locked for {lock_wait} s") from err
        raise sqlalchemy_error(err, dialect, statement) from err
    finally:
        cursor.close()
    return written


PG_LOCK_NOT_AVAILABLE: Final = "55P03"


def by_day(reports: Sequence[_R]) -> list[tuple[str, list[_R]]]:
    """Reports (prepared or written) grouped by their local day, in order: each day's
    cases are numbered from that day's counter."""
    days: dict[str, list[_R]] = {}
    for r in reports:
        prepared = r.prepared if isinstance(r, WrittenReport) else r
        days.setdefault(prepared.local_day, []).append(r)
    return list(days.items())


def insert_case_photos(session: Session, case_id: int, photo_ids: Sequence[str]) -> None:
    """The report's photos as the case's "before" photos (part of its first event)."""
    if photo_ids:
        session.execute(
            _CASE_PHOTOS,
            [
                {"case_id": case_id, "photo_id": pid, "stage": "before", "event_seq": 1}
                for pid in photo_ids
            ],
        )


def sqlalchemy_error(err: Exception, dialect: Dialect, statement: str = "") -> StatementError:
    """A DB-API error as SQLAlchemy raises it from ``execute``."""
    return DBAPIError.instance(statement, None, err, dialect.loaded_dbapi.Error, dialect=dialect)
