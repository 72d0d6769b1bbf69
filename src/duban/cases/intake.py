"""New cases: the one way a case is born, whatever the face.

Every entry — the API's ``POST /cases``, the web's 随手拍, Open311's POST requests, the
bulk import, the demo — goes through the same two steps:

1. :func:`prepare_report` checks a report against the reference data this process
   holds (the one in-memory taxonomy, the map, the policy: :class:`ReportRefs`) and
   builds its case's columns and its first event's payload. Pure computation: no
   database, no lock.
2. :func:`write_reports` writes prepared reports inside the caller's unit of work
   (:func:`duban.kernel.unitofwork.writing`): the cases numbered in order by one bump
   of the day's counter, their ``report`` events (hash-chained, the head stored on the
   case), their idempotency keys and their photos — one set-based statement per table,
   whatever the number of reports.

:func:`report_case` is both for one report, in its own unit of work or in the caller's
(an Open311 POST writes its details beside the case; the bulk import writes a whole
file with :func:`write_reports` directly).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
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
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from duban import notify
from duban.cases.access import require_own_photos
from duban.cases.audit import GENESIS, event_row
from duban.cases.facts import counted_key, record_reports
from duban.cases.mapcounts import count_new, map_key
from duban.cases.models import Case, CaseEvent, CasePhoto, IdempotencyKey
from duban.cases.workflow import (
    ON_SITE,
    REPORT_SOURCES,
    STEP_OF_STATUS,
    Action,
    CaseStatus,
    Source,
    initial_status,
)
from duban.evidence import Photo
from duban.kernel.context import Actor, Clock
from duban.kernel.db.models import Counter
from duban.kernel.db.prepared import Prepared, insert_all
from duban.kernel.db.session import REQUEST_MEMO, request_memo
from duban.kernel.errors import Conflict, InvalidInput, Msg, PermissionDenied
from duban.kernel.inputs import (
    MAX_DESCRIPTION_CHARS,
    MAX_PHOTOS_PER_ACTION,
    clean_text,
    refuse_control_characters,
)
from duban.kernel.phones import normalize_phone
from duban.kernel.roles import Role
from duban.kernel.unitofwork import in_unit_of_work, writing
from duban.places import input_point
from duban.reference import Policy, Taxonomy, live_taxonomy, load_policy

if TYPE_CHECKING:
    from duban.places import Location, PlacesIndex

CASES = cast(Table, Case.__table__)
EVENTS = cast(Table, CaseEvent.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)
CASE_COLUMNS = tuple(c.key for c in CASES.columns)
MAX_IDEMPOTENCY_KEY_CHARS = 200
#: A citizen without an account keys a report by its form's token (a random secret).
MIN_ANONYMOUS_KEY_CHARS = 20


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
    #: 即查即改: the reporter fixed the problem on the spot; ``after_photo_ids`` show the
    #: fix. The case is born closed (report, fix_on_site, close) and never dispatched.
    fixed_on_site: bool = False
    after_photo_ids: Sequence[str] = ()
    #: The 12345 hotline's ticket number (工单号) of a hotline case.
    hotline_ticket: str | None = None
    #: A replayed report of an old platform's history (``duban import history``): a fix
    #: on the spot may come without photos (see ``ActionInput.historic``).
    historic: bool = False


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
    case_id: int,
    status: CaseStatus,
    actor: Actor,
    now: datetime,
    payload: dict[str, Any],
    case: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``case_events`` row of a new case's ``report`` event (the first of its chain),
    sealing ``case`` (the new case's columns)."""
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
        case=case,
    )


# --------------------------------------------------------------------------- prepare


@dataclass(frozen=True)
class ReportRefs:
    """The reference data a report is checked against: as this process holds it."""

    policy: Policy
    places: PlacesIndex
    taxonomy: Taxonomy


def report_refs(session: Session) -> ReportRefs:
    """The current reference data, through the session (stamps checked once per request)."""
    from duban.places import places_index  # deferred: geometry

    return ReportRefs(load_policy(session), places_index(session), live_taxonomy(session))


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


#: ``historic`` is how a report is replayed, not what it says: never in its hash.
_NEW_CASE_FIELDS = tuple(f.name for f in fields(NewCase) if f.name != "historic")


def request_hash(data: NewCase) -> str:
    """What a retried request must repeat to be taken for the same report (stored with
    its Idempotency-Key, so its spelling must not change: the JSON of every field)."""
    values = {name: getattr(data, name) for name in _NEW_CASE_FIELDS}
    values["photo_ids"] = list(values["photo_ids"])
    if data.fixed_on_site:
        values["after_photo_ids"] = list(values["after_photo_ids"])
    else:  # the fields added later are spelt only when used: stored hashes stay valid
        del values["fixed_on_site"], values["after_photo_ids"]
    if data.hotline_ticket is None:
        del values["hotline_ticket"]
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


def check_on_site(actor: Actor, data: NewCase) -> None:
    """即查即改: only people on patrol fix on the spot, with before- and after-photos."""
    if not data.fixed_on_site:
        if data.after_photo_ids:
            raise InvalidInput(
                "'after_photo_ids' go with \"fixed_on_site\": true", field="after_photo_ids"
            )
        return
    if actor.role not in ON_SITE:
        raise PermissionDenied(
            Msg(
                "role '{role}' may not fix a problem on the spot; allowed: {choices}",
                role=actor.role.value,
                choices=", ".join(sorted(r.value for r in ON_SITE)),
            )
        )
    if data.historic:  # old platforms kept the photos elsewhere, or none
        return
    if not data.photo_ids:
        raise InvalidInput(
            "a fix on the spot needs at least one photo of the problem ('photo_ids')",
            field="photo_ids",
        )
    if not data.after_photo_ids:
        raise InvalidInput(
            "a fix on the spot needs at least one after photo ('after_photo_ids')",
            field="after_photo_ids",
        )


def check_reporter(actor: Actor, source: Source, idempotency_key: str | None) -> str | None:
    """Whether ``actor`` may report from ``source``; the cleaned Idempotency-Key."""
    allowed = REPORT_SOURCES.get(actor.role, frozenset())
    if source not in allowed:
        refusal = Msg(
            "role '{role}' may not report cases from source '{source}'",
            role=actor.role.value,
            source=source.value,
        )
        raise PermissionDenied(
            Msg(
                "{refusal}; allowed: {choices}",
                refusal=refusal,
                choices=", ".join(sorted(s.value for s in allowed)),
            )
            if allowed
            else refusal
        )
    key = (
        refuse_control_characters((idempotency_key or "").strip(), field_name="Idempotency-Key")
        or None
    )
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidInput(
            Msg(
                "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters",
                MAX_IDEMPOTENCY_KEY_CHARS=MAX_IDEMPOTENCY_KEY_CHARS,
            ),
            field="Idempotency-Key",
        )
    if key is not None and actor.user_id is None and len(key) < MIN_ANONYMOUS_KEY_CHARS:
        # Without an account the key alone is unique: only an unguessable form token.
        raise InvalidInput(
            Msg(
                "a report without an account takes a form token of at least "
                "{MIN_ANONYMOUS_KEY_CHARS} characters as its key",
                MIN_ANONYMOUS_KEY_CHARS=MIN_ANONYMOUS_KEY_CHARS,
            ),
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
    reporter_phone = normalize_phone(
        clean_text(data.reporter_phone or "", field_name="reporter_phone", limit=32)
    )
    ticket = clean_text(data.hotline_ticket or "", field_name="hotline_ticket", limit=40)
    if ticket and data.source != Source.HOTLINE:
        raise InvalidInput(
            "'hotline_ticket' is the 12345 ticket number of a hotline case (source 'hotline')",
            field="hotline_ticket",
        )
    category, condition = refs.taxonomy.resolve_subclass(data.category_code, data.condition_code)
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
        hotline_ticket=ticket or None,
        reporter_id=actor.user_id if actor.role == Role.CITIZEN else None,
        created_by_id=actor.user_id,
        rework_count=0,
        is_supervised=False,
        fixed_on_site=False,  # set by the fix_on_site event that follows the report
        paused_seconds=0.0,
        step=step,
        step_started_at=step_started_at,
        step_due_at=step_due_at,
        created_at=now,
        updated_at=now,
        event_count=1,
    )
    case["counted_as"] = counted_key(case)  # record_reports counts its facts so
    case["mapped_as"] = map_key(case)  # and count_new its place on the maps
    payload = {
        "source": data.source.value,
        "category": category.code,
        "condition": case["condition_code"],
        "photos": list(photo_ids),
        **({"hotline_ticket": ticket} if ticket else {}),
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

PHOTOS = cast(Table, CasePhoto.__table__)


def chain_first_event(prepared: PreparedReport, case_id: int) -> WrittenReport:
    """The case's columns with its id and chain head, its ``report`` event's columns."""
    case = dict(prepared.case)
    case["id"] = case_id
    event = report_event_row(
        case_id, prepared.status, prepared.actor, prepared.now, prepared.payload, case
    )
    case["last_event_hash"] = event["hash"]
    return WrittenReport(case=case, event=event, prepared=prepared)


def _key_row(written: WrittenReport) -> dict[str, Any] | None:
    prepared = written.prepared
    if prepared.key is None:
        return None
    return {
        "user_id": prepared.actor.user_id,
        "key": prepared.key,
        "request_hash": prepared.request_hash,
        "case_id": written.case["id"],
        "created_at": prepared.now,
    }


def _photo_rows(written: WrittenReport) -> list[dict[str, Any]]:
    """The report's photos as the case's "before" photos (part of its first event)."""
    return [
        {"case_id": written.case["id"], "photo_id": pid, "stage": "before", "event_seq": 1}
        for pid in written.prepared.photo_ids
    ]


#: The columns of ``cases`` the PostgreSQL statement writes: all but ``code``, drawn in
#: SQL (those a report leaves empty go as NULL, as on SQLite, so a new column can not be
#: forgotten here).
REPORT_CASE_COLUMNS: Final = tuple(c for c in CASE_COLUMNS if c != "code")
_KEY_COLUMNS: Final = ("user_id", "key", "request_hash", "case_id", "created_at")
_PHOTO_COLUMNS: Final = ("case_id", "photo_id", "stage", "event_seq")


class _PgBatchWrite:
    """PostgreSQL: one statement that writes the reports of one day and returns each
    case's number and event id: bump the day's counter by their number, insert the
    cases numbered from it in order, their events, their idempotency keys and their
    photos. The day's counter row is locked from this statement to the commit, so that
    is kept to one round trip and the commit (a statement per table would hold it across
    four more, each also waiting for Python's interpreter lock in a busy server).

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
            "), new_photos AS ("
            f" INSERT INTO case_photos ({', '.join(_PHOTO_COLUMNS)})"
            f" SELECT {', '.join(_PHOTO_COLUMNS)}"
            f" FROM {recordset('photos', PHOTOS, _PHOTO_COLUMNS)}"
            ") SELECT c.id, c.code, e.id FROM new_cases c JOIN new_events e ON e.case_id = c.id"
        )

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
        photos = [row for w in written for row in _photo_rows(w)]
        return {
            "name": counter_name(day),
            "n": len(written),
            "day": day,
            "cases": json.dumps(cases, ensure_ascii=False),
            "events": json.dumps(events, ensure_ascii=False),
            "keys": json.dumps(keys, ensure_ascii=False),
            "photos": json.dumps(photos, ensure_ascii=False),
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


def write_reports(session: Session, reports: Sequence[PreparedReport]) -> list[WrittenReport]:
    """Write prepared reports in the session's unit of work (the caller's ``writing()``
    block: on SQLite the write lock is held), numbered in order: the one writer of new
    cases.

    Set-based whatever the number of reports, with statements compiled once and run on
    the session's DB-API connection in its transaction. The day's counter row is the one
    thing every report of the day shares, so it is drawn only once everything else is
    built: on PostgreSQL the new ids come from the sequence first, then one statement
    per local day writes the counter, the cases, their events, idempotency keys and
    photos (:class:`_PgBatchWrite`), so the counter's row lock lasts one round trip and
    the commit; on SQLite (the write lock held) one statement draws the day's numbers
    and the next rowids, then one executemany per table. A reused Idempotency-Key fails
    with :class:`~sqlalchemy.exc.IntegrityError`, as from any other statement.
    """
    if not in_unit_of_work(session):
        raise RuntimeError("write_reports runs inside a writing() unit of work")
    if not reports:
        return []
    if is_postgresql(session):
        ids = new_case_ids(session, len(reports))
        written = [chain_first_event(p, case_id) for p, case_id in zip(reports, ids, strict=True)]
        _write_pg(session, written)
    else:
        written = _write_sqlite(session, reports)
    record_reports(session, [(w.event, w.case) for w in written])
    count_new(session, [w.case["mapped_as"] for w in written])
    # The messages the new cases cause (a citizen's receipt, webhooks), in this transaction.
    notify.cases_reported(
        session,
        (
            notify.CaseChange.of(
                w.case,
                action=str(w.event["action"]),
                to_status=str(w.event["to_status"]),
                at=w.event["occurred_at"],
            )
            for w in written
        ),
    )
    return written


def _next_id(table: Table) -> Any:
    return select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()


# SQLite: the day's next numbers and, as the write lock is held, the next rowids of
# cases and of their events, in one statement; then one executemany per table.
_SQLITE_DRAW = Prepared(_counter_upsert(sqlite_insert, _next_id(CASES), _next_id(EVENTS)))
_SQLITE_CASE = Prepared(insert_all(CASES))
_SQLITE_EVENT = Prepared(insert_all(EVENTS))
_SQLITE_KEY = Prepared(insert_all(KEYS, but=("id",)))
_SQLITE_PHOTO = Prepared(insert_all(PHOTOS, but=("id",)))


def _write_sqlite(session: Session, reports: Sequence[PreparedReport]) -> list[WrittenReport]:
    """SQLite (the write lock held): the statements on the session's DB-API connection,
    compiled once (:mod:`duban.kernel.db.prepared`), in its transaction."""
    conn = session.connection()
    dialect = conn.dialect
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    statement = ""
    try:
        written: list[WrittenReport] = []
        for day, group in by_day(reports):
            statement = _SQLITE_DRAW.on(dialect).sql
            last, next_case, next_event = _SQLITE_DRAW.first(
                cursor, dialect, {"name": counter_name(day), "count": len(group)}
            )
            first = int(last) - len(group) + 1
            done = len(written)  # an earlier day's rows are not inserted yet
            for i, p in enumerate(group):
                one = chain_first_event(p, int(next_case) + done + i)
                one.case["code"] = case_number(day, first + i)
                one.event["id"] = int(next_event) + done + i
                written.append(one)
        statement = _SQLITE_CASE.on(dialect).sql
        _SQLITE_CASE.execute_many(cursor, dialect, [w.case for w in written])
        statement = _SQLITE_EVENT.on(dialect).sql
        _SQLITE_EVENT.execute_many(cursor, dialect, [w.event for w in written])
        keys = [k for w in written if (k := _key_row(w)) is not None]
        if keys:
            statement = _SQLITE_KEY.on(dialect).sql
            _SQLITE_KEY.execute_many(cursor, dialect, keys)
        photos = [row for w in written for row in _photo_rows(w)]
        if photos:
            statement = _SQLITE_PHOTO.on(dialect).sql
            _SQLITE_PHOTO.execute_many(cursor, dialect, photos)
    except dialect.loaded_dbapi.Error as err:
        raise _sqlalchemy_error(err, dialect, statement) from err
    finally:
        cursor.close()
    return written


def _sqlalchemy_error(err: Exception, dialect: Dialect, statement: str) -> Exception:
    """A DB-API error as SQLAlchemy raises it from execute (IntegrityError for a reused
    Idempotency-Key)."""
    return DBAPIError.instance(statement, None, err, dialect.loaded_dbapi.Error, dialect=dialect)


def _write_pg(session: Session, written: Sequence[WrittenReport]) -> None:
    """PostgreSQL: each day's reports in one statement (:class:`_PgBatchWrite`), on the
    session's connection and in its transaction."""
    conn = session.connection()
    dialect = conn.dialect
    batch_write = pg_batch_write(dialect)
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        for day, same_day in by_day(written):
            cursor.execute(batch_write.sql, batch_write.params(day, same_day))
            batch_write.collect(cursor.fetchall(), same_day)
    except dialect.loaded_dbapi.Error as err:
        # As SQLAlchemy raises it from execute (IntegrityError for a reused key).
        raise _sqlalchemy_error(err, dialect, batch_write.sql) from err
    finally:
        cursor.close()


def by_day(reports: Sequence[_R]) -> list[tuple[str, list[_R]]]:
    """Reports (prepared or written) grouped by their local day, in order: each day's
    cases are numbered from that day's counter."""
    days: dict[str, list[_R]] = {}
    for r in reports:
        prepared = r.prepared if isinstance(r, WrittenReport) else r
        days.setdefault(prepared.local_day, []).append(r)
    return list(days.items())


# --------------------------------------------------------------------------- the use case


def check_photos(session: Session, ids: Sequence[str], *, required: bool = False) -> list[Photo]:
    """The photos ``ids`` names (each once, in order): :class:`InvalidInput` if one is
    unknown, none are given and ``required``, or there are too many."""
    unique = list(dict.fromkeys(ids))
    if required and not unique:
        raise InvalidInput(
            "at least one photo is required (upload with POST /api/v1/photos)", field="photo_ids"
        )
    if len(unique) > MAX_PHOTOS_PER_ACTION:
        raise InvalidInput(
            Msg(
                "{count} photos given; at most {MAX_PHOTOS_PER_ACTION}",
                count=len(unique),
                MAX_PHOTOS_PER_ACTION=MAX_PHOTOS_PER_ACTION,
            ),
            field="photo_ids",
        )
    if not unique:
        return []
    found = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(unique)))}
    missing = [pid for pid in unique if pid not in found]
    if missing:
        raise InvalidInput(
            Msg("unknown photo id(s): {choices}", choices=", ".join(missing)), field="photo_ids"
        )
    return [found[pid] for pid in unique]


_IDEMPOTENCY_LOOKUP = select(IdempotencyKey).where(
    IdempotencyKey.user_id == bindparam("user_id"), IdempotencyKey.key == bindparam("key")
)
_ANONYMOUS_KEY_LOOKUP = select(IdempotencyKey).where(
    IdempotencyKey.user_id.is_(None), IdempotencyKey.key == bindparam("key")
)


def _key_of(session: Session, user_id: int | None, key: str) -> IdempotencyKey | None:
    if user_id is None:
        return session.scalars(_ANONYMOUS_KEY_LOOKUP, {"key": key}).first()
    return session.scalars(_IDEMPOTENCY_LOOKUP, {"user_id": user_id, "key": key}).first()


def case_of_key(session: Session, *, actor: Actor, key: str) -> Case | None:
    """The case a report with this key (Idempotency-Key or form token) of ``actor``
    created, if any — whatever the request it came with."""
    row = _key_of(session, actor.user_id, key.strip())
    return session.get(Case, row.case_id) if row is not None else None


def _replay(session: Session, user_id: int | None, key: str, fingerprint: str) -> Case | None:
    row = _key_of(session, user_id, key)
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request; use a new key",
            code="idempotency_key_reused",
        )
    return session.get(Case, row.case_id)


class Reported:
    """What :func:`report` did: the case as written (``written``), or for a retried
    Idempotency-Key the first case (``written`` is then None). The written case becomes
    an ORM object of the session only when ``case`` is first asked for (a presenter
    that works from the written rows never pays for it)."""

    def __init__(
        self, session: Session, written: WrittenReport | None, existing: Case | None = None
    ) -> None:
        self._session = session
        self.written = written
        self._case = existing

    @property
    def created(self) -> bool:
        return self.written is not None

    @property
    def case_id(self) -> int:
        if self.written is not None:
            return int(self.written.case["id"])
        return self.case.id

    @property
    def case(self) -> Case:
        if self._case is None:
            assert self.written is not None
            photos = bool(self.written.prepared.photo_ids)
            self._case = adopt_new_case(self._session, self.written, photos=photos)
        return self._case


def report(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    data: NewCase,
    idempotency_key: str | None = None,
) -> Reported:
    """上报: create a case from a report — the one use case every face calls.

    Checked first (:func:`prepare_report`, the photos), then written
    (:func:`write_reports`) in a unit of work of its own or, inside the caller's
    ``writing()`` block, in that one (which then commits). A collector's patrol report
    starts verified; every other source waits for 核实. With an ``idempotency_key`` a
    retried report returns the first case instead of filing a second one.
    """
    key = check_reporter(actor, data.source, idempotency_key)
    check_on_site(actor, data)
    own_memo = request_memo(session) is None
    if own_memo:  # the reference data's stamps are read once for the whole report
        session.info[REQUEST_MEMO] = {}
    try:
        prepared = prepare_report(
            report_refs(session), actor=actor, data=data, idempotency_key=key, now=clock.now()
        )
        # A report attaches only photos its own author uploaded (issue 12 item 6).
        require_own_photos(actor, check_photos(session, prepared.photo_ids))
        if data.fixed_on_site:
            require_own_photos(actor, check_photos(session, data.after_photo_ids))
        nested = in_unit_of_work(session)
        fixed: Case | None = None
        try:
            with writing(session):
                # A retried Idempotency-Key is not looked up first: the unique key refuses
                # the second row and the first case is returned below (a retry is rare, a
                # lookup on every report is not).
                (written,) = write_reports(session, [prepared])
                if data.fixed_on_site:
                    from duban.cases.actions import fix_on_site  # deferred: actions reads us

                    fixed = fix_on_site(
                        session,
                        case=adopt_new_case(session, written, photos=True),
                        actor=actor,
                        after_photo_ids=data.after_photo_ids,
                        now=prepared.now,
                        historic=data.historic,
                    )
        except IntegrityError:
            if key is not None and not nested:
                existing = _replay(session, actor.user_id, key, prepared.request_hash)
                if existing is not None:
                    return Reported(session, None, existing)
            raise
        if fixed is not None:  # its later events and after-photos are read when asked for
            session.expire(fixed, ["events", "photos"])
        return Reported(session, written, fixed)
    finally:
        if own_memo:
            session.info.pop(REQUEST_MEMO, None)


def report_case(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    data: NewCase,
    idempotency_key: str | None = None,
) -> tuple[Case, bool]:
    """:func:`report`, as ``(case, created)`` (``created`` False: the first case of a
    retried Idempotency-Key)."""
    done = report(session, actor=actor, clock=clock, data=data, idempotency_key=idempotency_key)
    return done.case, done.created


def new_case_objects(written: WrittenReport) -> tuple[Case, CaseEvent]:
    """A written report's case and event as ORM objects holding exactly the stored
    values (the values go in as if loaded, so nothing of them is pending). Their
    relationships are not set: a case that no session holds reads them as empty (no
    unit, no helpers, no photos)."""
    case = Case.__mapper__.class_manager.new_instance()
    case.__dict__.update(written.case)
    event = CaseEvent.__mapper__.class_manager.new_instance()
    event.__dict__.update(written.event)
    return case, event


def adopt_new_case(session: Session, written: WrittenReport, *, photos: bool) -> Case:
    """Make the written case and its event the session's persistent objects as if just
    loaded, so callers can go on using them without reading them back."""
    case, event = new_case_objects(written)
    set_committed_value(case, "events", [event])
    set_committed_value(case, "helpers", [])
    set_committed_value(case, "unit", None)
    set_committed_value(case, "routing_unit", None)
    make_transient_to_detached(case)
    make_transient_to_detached(event)
    session.add(case)
    session.add(event)
    if photos:
        session.expire(case, ["photos"])  # loaded (with the photos) when first used
    else:
        set_committed_value(case, "photos", [])
    return case
