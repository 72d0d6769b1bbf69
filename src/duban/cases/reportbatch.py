"""Reports without a session, several at once: the API's path for new cases.

The same checks and rows as :func:`duban.cases.actions.report_case`
(:mod:`duban.cases.intake` makes them), for a batch of reports by signed-in users:
:func:`prepare_batch` reads what the checks need for all of them in one statement (the
reporters, the stamps of the reference data this process caches and, on PostgreSQL,
the new case ids) and prepares each report on its own; :func:`write_batch` writes the
good ones in one transaction on a pooled connection. :func:`report_batch` is both, and
:func:`report_batch_async` both on an asyncio connection of psycopg.
:mod:`duban.cases.groupcommit` runs them on the server's event loop.

Without a session: its bookkeeping (a pooled connection checked out and its
transaction begun, ORM objects, a commit through two layers) cost more CPU than the
report itself (``bench/intake.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ARRAY, Engine, Integer, Table, any_, bindparam, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from duban.accounts import User
from duban.cases.intake import (
    NEXTVAL,
    PG_LOCK_NOT_AVAILABLE,
    NewCase,
    PreparedReport,
    ReportRefs,
    WrittenReport,
    by_day,
    chain_first_event,
    pg_batch_write,
    prepare_report,
    report_refs,
    sqlalchemy_error,
    write_reports,
)
from duban.kernel.context import Actor, Clock
from duban.kernel.db.models import Setting
from duban.kernel.db.prepared import Prepared
from duban.kernel.db.session import WriteLockBusy, begin_dbapi_write, release_write_gate
from duban.kernel.db.stamps import (
    PLACES_VERSION_KEY,
    POLICY_KEY,
    TAXONOMY_KEY,
    database_key,
    places_token,
)
from duban.kernel.errors import DubanError, Unauthenticated
from duban.kernel.roles import Role
from duban.reference import cached_policy, cached_subclass_table

_USERS = cast(Table, User.__table__)
_SETTINGS = cast(Table, Setting.__table__)


def _stamp_of(key: str, column: Any) -> Any:
    return select(column).where(_SETTINGS.c.key == key).scalar_subquery()


_REPORTERS_COLUMNS = (
    _USERS.c.id,
    _USERS.c.username,
    _USERS.c.role,
    _USERS.c.unit_id,
    _stamp_of(POLICY_KEY, _SETTINGS.c.updated_at).label("policy_at"),
    _stamp_of(TAXONOMY_KEY, _SETTINGS.c.updated_at).label("taxonomy_at"),
    _stamp_of(PLACES_VERSION_KEY, _SETTINGS.c.value).label("places"),
)
#: What a report needs to know before it is checked, in one statement: the reporter (if
#: still active) and the reference data's stamps. PostgreSQL asks for all the reporters
#: of a batch at once; SQLite, in-process, asks per reporter.
_REPORTERS = {
    # An uncorrelated subquery runs once per statement, however many rows it is on.
    True: Prepared(
        select(
            *_REPORTERS_COLUMNS,
            select(func.array_agg(NEXTVAL))
            .select_from(func.generate_series(1, bindparam("n", type_=Integer)))
            .scalar_subquery()
            .label("case_ids"),
        ).where(_USERS.c.id == any_(bindparam("ids", type_=ARRAY(Integer))), _USERS.c.is_active)
    ),
    False: Prepared(
        select(*_REPORTERS_COLUMNS).where(
            _USERS.c.id == bindparam("id", type_=Integer), _USERS.c.is_active
        )
    ),
}


class ReferenceDataMoved(Exception):
    """The reference data changed since this process cached it (an admin's edit): load
    it again (:func:`load_refs`, a second or so for a big map) and check again."""


def _cached_refs(
    engine: Engine, policy_at: Any, taxonomy_at: Any, places: Any
) -> ReportRefs | None:
    """The reference data this process holds for these stamps, or None."""
    from duban.places import cached_places_index  # deferred: geometry

    database = database_key(engine)
    policy = cached_policy(database, policy_at)
    index = cached_places_index(database, places_token(places))
    subclasses = cached_subclass_table(database, taxonomy_at)
    if policy is not None and index is not None and subclasses is not None:
        return ReportRefs(policy, index, subclasses)
    return None


def load_refs(engine: Engine) -> ReportRefs:
    """Load the current reference data into this process's caches (through a session)."""
    with Session(engine) as session:
        return report_refs(session)


@dataclass(frozen=True)
class ReportRequest:
    """One report as a signed-in user sent it."""

    user_id: int
    data: NewCase
    idempotency_key: str | None = None


#: What became of a request: written; refused (the error to answer with); or None, to be
#: reported through ``report_case`` instead (photos, or a repeated Idempotency-Key).
Outcome = WrittenReport | DubanError | None


@dataclass
class PreparedBatch:
    """Reports checked together: each one's outcome so far (an error, or None: not
    for this path), those ready to write with their positions, and on PostgreSQL the
    case ids drawn for them."""

    outcomes: list[Outcome]
    ready: list[tuple[int, PreparedReport]]
    case_ids: list[int]


def prepare_batch(
    engine: Engine,
    clock: Clock,
    requests: Sequence[ReportRequest],
    *,
    dbapi_connection: Any = None,
    load: bool = True,
) -> PreparedBatch:
    """Check reports by signed-in users against the reference data, each on its own:
    one read for all of them (the reporters, the reference data's stamps and, on
    PostgreSQL, new case ids), then :func:`prepare_report` for each. Writes nothing.
    Reads on ``dbapi_connection`` if given (outside any transaction), else on a pooled
    connection; ``load`` as for :func:`_check_all`."""
    todo = _reportable(requests)
    if not todo:
        return PreparedBatch([None] * len(requests), [], [])
    dialect = engine.dialect
    with _dbapi(engine, dbapi_connection) as connection:
        try:
            rows = _read_reporters(connection, dialect, requests, todo)
        except dialect.loaded_dbapi.Error as err:
            raise sqlalchemy_error(err, dialect) from err
    return _check_all(engine, clock, requests, todo, rows, load=load)


@contextlib.contextmanager
def _dbapi(engine: Engine, dbapi_connection: Any) -> Iterator[Any]:
    """``dbapi_connection``, or a pooled one for the block."""
    if dbapi_connection is not None:
        yield dbapi_connection
        return
    raw = engine.raw_connection()
    try:
        yield raw.driver_connection
    finally:
        raw.close()


def _reportable(requests: Sequence[ReportRequest]) -> list[int]:
    """The positions of the requests this path writes (photos go through report_case)."""
    return [i for i, r in enumerate(requests) if not r.data.photo_ids]


def _check_all(
    engine: Engine,
    clock: Clock,
    requests: Sequence[ReportRequest],
    todo: Sequence[int],
    rows: Sequence[tuple[Any, ...]],
    *,
    load: bool = True,
) -> PreparedBatch:
    """Prepare each report of ``todo`` against the reporters and stamps read (``rows``).
    Reference data not cached any more is loaded, or with ``load=False``
    :class:`ReferenceDataMoved` (an event loop loads it in a thread)."""
    actors, stamps, case_ids = _reporters_from(rows, engine.dialect)
    batch = PreparedBatch([None] * len(requests), [], case_ids)
    refs = None
    if stamps is not None:  # else no reporter is active any more
        refs = _cached_refs(engine, *stamps)
        if refs is None:
            if not load:
                raise ReferenceDataMoved
            refs = load_refs(engine)
    for i in todo:
        request = requests[i]
        actor = actors.get(request.user_id)
        if actor is None or refs is None:
            batch.outcomes[i] = Unauthenticated("this account no longer exists or is disabled")
            continue
        try:
            prepared = prepare_report(
                refs,
                actor=actor,
                data=request.data,
                idempotency_key=request.idempotency_key,
                now=clock.now(),
            )
        except DubanError as err:
            batch.outcomes[i] = err
            continue
        batch.ready.append((i, prepared))
    return batch


def write_batch(
    engine: Engine,
    reports: Sequence[PreparedReport],
    *,
    case_ids: Sequence[int] = (),
    lock_wait: float | None = None,
    lock_held: bool = False,
    dbapi_connection: Any = None,
) -> list[WrittenReport]:
    """Write prepared reports in one transaction on a pooled connection (or on
    ``dbapi_connection``, which must be outside any transaction), and commit.

    On SQLite the database's write gate is taken first (``lock_held``: the caller has
    taken it, and this transaction ends the turn); on PostgreSQL the writes and the
    COMMIT go in one round trip, with ``case_ids`` drawn by :func:`prepare_batch`. With
    ``lock_wait`` (seconds) the write lock is waited for no longer than that
    (:class:`WriteLockBusy`, nothing written). A failed write rolls back whole and
    raises as SQLAlchemy does (:class:`~sqlalchemy.exc.IntegrityError` for a reused
    Idempotency-Key).
    """
    if dbapi_connection is not None:
        return _write_on(dbapi_connection, engine, reports, case_ids, lock_wait, lock_held)
    try:
        raw = engine.raw_connection()
    except BaseException:
        if lock_held:
            release_write_gate(engine)  # the turn taken for this write ends with it
        raise
    try:
        return _write_on(raw.driver_connection, engine, reports, case_ids, lock_wait, lock_held)
    finally:
        raw.close()


def _write_on(
    connection: Any,
    engine: Engine,
    reports: Sequence[PreparedReport],
    case_ids: Sequence[int],
    lock_wait: float | None,
    lock_held: bool,
) -> list[WrittenReport]:
    dialect = engine.dialect
    try:
        if dialect.name == "postgresql":
            try:
                return write_reports(
                    connection,
                    dialect,
                    reports,
                    case_ids=case_ids[: len(reports)] or None,
                    commit=True,
                    lock_wait=lock_wait,
                )
            except BaseException:
                connection.rollback()
                raise
        with begin_dbapi_write(connection, wait=lock_wait, gate_held=lock_held):
            return write_reports(connection, dialect, reports)
    except dialect.loaded_dbapi.Error as err:
        raise sqlalchemy_error(err, dialect) from err


def is_duplicate_key(err: BaseException, engine: Engine) -> bool:
    """Whether a failed write was refused by a unique key (a retried Idempotency-Key)."""
    return isinstance(err, DBAPIError) and isinstance(
        err.orig, engine.dialect.loaded_dbapi.IntegrityError
    )


def report_batch(
    engine: Engine,
    clock: Clock,
    requests: Sequence[ReportRequest],
    *,
    lock_wait: float | None = None,
) -> list[Outcome]:
    """上报 of several reports by signed-in users, in one transaction, without a session.

    The same checks and rows as :func:`duban.cases.actions.report_case` (each report is
    prepared alone and fails alone: :func:`prepare_batch`), written together
    (:func:`write_batch`): one write lock, one commit, and on PostgreSQL two round trips
    for the whole batch. If the write is refused by a unique key (a retried
    Idempotency-Key), nothing of the batch is kept and each report is written again on
    its own, so one report never takes the others with it; a retried key alone is
    left to ``report_case`` (None), which replays the first case.

    With ``lock_wait`` (seconds) the write lock is waited for no longer than that:
    :class:`WriteLockBusy`, and nothing is written.
    """
    batch = prepare_batch(engine, clock, requests)
    if not batch.ready:
        return batch.outcomes
    try:
        written = write_batch(
            engine,
            [p for _, p in batch.ready],
            case_ids=batch.case_ids,
            lock_wait=lock_wait,
        )
    except DBAPIError as err:
        if not is_duplicate_key(err, engine):
            raise
        if len(batch.ready) > 1:
            for i, _ in batch.ready:
                (batch.outcomes[i],) = report_batch(
                    engine, clock, [requests[i]], lock_wait=lock_wait
                )
        return batch.outcomes
    for (i, _), w in zip(batch.ready, written, strict=True):
        batch.outcomes[i] = w
    return batch.outcomes


def _reporters_params(
    requests: Sequence[ReportRequest], todo: Sequence[int], postgresql: bool
) -> list[dict[str, Any]]:
    """The parameters of the reporters' read: one statement for all on PostgreSQL (with
    a new case id for each report), one per reporter on SQLite (in-process)."""
    user_ids = sorted({requests[i].user_id for i in todo})
    if postgresql:
        return [{"ids": user_ids, "n": len(todo)}]
    return [{"id": uid} for uid in user_ids]


def _read_reporters(
    dbapi_connection: Any,
    dialect: Dialect,
    requests: Sequence[ReportRequest],
    todo: Sequence[int],
) -> list[tuple[Any, ...]]:
    """The reporters' rows (see :data:`_REPORTERS`), read on a DB-API connection."""
    postgresql = dialect.name == "postgresql"
    statement = _REPORTERS[postgresql]
    cursor = dbapi_connection.cursor()
    if postgresql:
        # A read alone, outside any transaction: nothing to roll back afterwards.
        dbapi_connection.autocommit = True
    try:
        rows = []
        for params in _reporters_params(requests, todo, postgresql):
            compiled = statement.execute(cursor, dialect, params)
            rows += [row for r in cursor.fetchall() if (row := compiled.row(r)) is not None]
        return rows
    finally:
        cursor.close()
        if postgresql:
            with contextlib.suppress(dialect.loaded_dbapi.Error):  # lost: the pool drops it
                dbapi_connection.autocommit = False


def _reporters_from(
    rows: Sequence[tuple[Any, ...]], dialect: Dialect
) -> tuple[dict[int, Actor], tuple[Any, Any, Any] | None, list[int]]:
    """The active reporters, the stamps (policy, taxonomy, map; None without a row) and,
    on PostgreSQL, the new case ids, from the reporters' rows."""
    actors = {
        int(row[0]): Actor(user_id=int(row[0]), username=row[1], role=Role(row[2]), unit_id=row[3])
        for row in rows
    }
    if not rows:
        return actors, None, []
    first = rows[0]
    case_ids = [int(n) for n in first[7]] if dialect.name == "postgresql" else []
    return actors, (first[4], first[5], first[6]), case_ids


# --------------------------------------------------------------------------- asyncio (PostgreSQL)


async def report_batch_async(
    aconn: Any,
    engine: Engine,
    clock: Clock,
    requests: Sequence[ReportRequest],
    *,
    load: bool = True,
) -> list[Outcome] | None:
    """:func:`report_batch` on PostgreSQL through an asyncio connection of psycopg in
    autocommit, so that the event loop serves other requests while the database works:
    the same reads, checks and statement, in two round trips.

    Returns None when the write was refused by a unique key (a retried
    Idempotency-Key): then nothing was written and the batch is to be redone report by
    report with :func:`report_batch`. If the day's counter row stays locked longer than
    the connection's ``lock_timeout``, :class:`WriteLockBusy` and nothing written;
    ``load`` as for :func:`_check_all`.
    """
    todo = _reportable(requests)
    if not todo:
        return [None] * len(requests)
    dialect = engine.dialect
    errors = dialect.loaded_dbapi
    reporters = _REPORTERS[True].on(dialect)
    try:
        rows: list[tuple[Any, ...]] = []
        async with aconn.cursor() as cursor:
            for params in _reporters_params(requests, todo, True):
                await cursor.execute(reporters.sql, reporters.parameters(params))
                rows += [
                    row for r in await cursor.fetchall() if (row := reporters.row(r)) is not None
                ]
        batch = _check_all(engine, clock, requests, todo, rows, load=load)
        if not batch.ready:
            return batch.outcomes
        written = [
            chain_first_event(p, case_id)
            for (_, p), case_id in zip(batch.ready, batch.case_ids, strict=False)
        ]
        write = pg_batch_write(dialect)
        days = by_day(written)
        if len(days) == 1:  # one statement, and so a transaction of its own in autocommit
            async with aconn.cursor() as cursor:
                await cursor.execute(write.sql, write.params(*days[0]))
                write.collect(await cursor.fetchall(), days[0][1])
        else:  # around midnight: a statement per day, in one transaction
            async with aconn.transaction(), aconn.cursor() as cursor:
                for day, same_day in days:
                    await cursor.execute(write.sql, write.params(day, same_day))
                    write.collect(await cursor.fetchall(), same_day)
    except errors.IntegrityError:
        return None
    except errors.Error as err:
        if getattr(err, "sqlstate", None) == PG_LOCK_NOT_AVAILABLE:
            raise WriteLockBusy("the day's case counter stayed locked") from err
        raise sqlalchemy_error(err, dialect) from err
    for (i, _), w in zip(batch.ready, written, strict=True):
        batch.outcomes[i] = w
    return batch.outcomes
