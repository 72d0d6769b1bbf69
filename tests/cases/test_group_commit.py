"""Reports written together (duban.cases.reportbatch, duban.cases.groupcommit).

Several reports in one transaction must come out exactly as if each had been reported
alone: the same rows, consecutive numbers, chains that verify. One bad report fails
alone; a write refused by a unique key is redone report by report; a write lock held
elsewhere for long is never waited for on the event loop. Runs on both databases.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.accounts.models import User
from duban.cases.actions import NewCase, report_case
from duban.cases.audit import verify_chain
from duban.cases.groupcommit import ReportBatcher
from duban.cases.intake import WrittenReport
from duban.cases.models import Case, CaseEvent, IdempotencyKey
from duban.cases.reportbatch import ReportRequest, load_refs, report_batch
from duban.cases.workflow import CaseStatus, Source
from duban.kernel.db.session import WriteLockBusy, begin_write
from duban.kernel.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from tests.cases.support import Town, fresh
from tests.conftest import BACKEND
from tests.factories import CATEGORY, LAT, LON
from tests.fakes import FixedClock


def _data(source: Source = Source.HOTLINE, **kw: object) -> NewCase:
    values: dict[str, object] = {
        "source": source,
        "category_code": CATEGORY,
        "lat": LAT,
        "lon": LON,
        "description": "人行道井盖缺失",
    }
    values.update(kw)
    return NewCase(**values)  # type: ignore[arg-type]


def _uid(world: Town, name: str) -> int:
    return world.users[name].id


def _count(engine: Engine, model: type[object]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_batch_writes_what_single_reports_write(
    world: Town, clock: FixedClock, engine: Engine
) -> None:
    requests = [
        ReportRequest(_uid(world, "operator"), _data(reporter_name="张先生"), "k-1"),
        ReportRequest(_uid(world, "citizen"), _data(Source.CITIZEN)),
        ReportRequest(_uid(world, "collector"), _data(Source.PATROL), "k-3"),
        ReportRequest(_uid(world, "operator"), _data(condition_code=None, address="文峰路")),
    ]
    outcomes = report_batch(engine, clock, requests)
    assert all(isinstance(o, WrittenReport) for o in outcomes)
    written = [o for o in outcomes if isinstance(o, WrittenReport)]
    codes = [w.case["code"] for w in written]
    day = codes[0][:8]
    assert codes == [f"{day}{n:05d}" for n in range(1, 5)]  # numbered in order
    assert [w.case["status"] for w in written] == [
        CaseStatus.REPORTED,
        CaseStatus.REPORTED,
        CaseStatus.VERIFIED,  # a collector's patrol report is verified at once
        CaseStatus.REPORTED,
    ]
    # What was stored is what the batch said, column by column.
    for w in written:
        stored = fresh(world.session_factory, w.case["id"])
        for column in Case.__table__.columns:
            assert getattr(stored, column.key) == w.case[column.key], column.key
    with world.session_factory() as session:
        keys = session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.id)).all()
        assert keys == ["k-1", "k-3"]
        assert verify_chain(session).ok
    # And a report alone, after them, is numbered on from them and stored the same way.
    alone, _ = report_case(world.session, actor=world.actor("operator"), clock=clock, data=_data())
    assert alone.code == f"{day}00005"
    assert alone.id == max(w.case["id"] for w in written) + 1


def test_one_bad_report_fails_alone(world: Town, clock: FixedClock, engine: Engine) -> None:
    world.users["citizen2"].is_active = False
    world.session.commit()
    requests = [
        ReportRequest(_uid(world, "operator"), _data()),
        ReportRequest(_uid(world, "operator"), _data(category_code="X9999")),
        ReportRequest(_uid(world, "citizen2"), _data(Source.CITIZEN)),
        ReportRequest(_uid(world, "citizen"), _data(Source.HOTLINE)),  # not a citizen's source
        ReportRequest(_uid(world, "operator"), _data(photo_ids=["p"])),  # photos: elsewhere
        ReportRequest(_uid(world, "operator"), _data(description="  ")),
        ReportRequest(_uid(world, "operator"), _data()),
    ]
    outcomes = report_batch(engine, clock, requests)
    assert isinstance(outcomes[0], WrittenReport)
    assert isinstance(outcomes[1], InvalidInput)
    assert isinstance(outcomes[2], Unauthenticated)
    assert isinstance(outcomes[3], PermissionDenied)
    assert outcomes[4] is None  # left to report_case, which links the photos
    assert isinstance(outcomes[5], InvalidInput)
    assert isinstance(outcomes[6], WrittenReport)
    assert _count(engine, Case) == 2
    assert _count(engine, CaseEvent) == 2


def test_a_retried_key_in_a_batch_leaves_the_others_written(
    world: Town, clock: FixedClock, engine: Engine
) -> None:
    first, created = report_case(
        world.session,
        actor=world.actor("operator"),
        clock=clock,
        data=_data(),
        idempotency_key="once",
    )
    assert created
    operator = _uid(world, "operator")
    requests = [
        ReportRequest(operator, _data(address="甲")),
        ReportRequest(operator, _data(), "once"),  # the retry
        ReportRequest(operator, _data(address="乙"), "twice"),
        ReportRequest(operator, _data(address="丙"), "twice"),  # the same key in the batch
    ]
    outcomes = report_batch(engine, clock, requests)
    assert isinstance(outcomes[0], WrittenReport)
    assert outcomes[1] is None  # report_case replays the first case
    assert isinstance(outcomes[2], WrittenReport)
    assert outcomes[3] is None
    assert _count(engine, Case) == 3
    # The retries, through report_case: the first case again; a different body, 409.
    replayed, created = report_case(
        world.session,
        actor=world.actor("operator"),
        clock=clock,
        data=_data(),
        idempotency_key="once",
    )
    assert (replayed.id, created) == (first.id, False)
    with pytest.raises(Conflict):
        report_case(
            world.session,
            actor=world.actor("operator"),
            clock=clock,
            data=_data(address="丁"),
            idempotency_key="once",
        )
    with world.session_factory() as session:
        assert verify_chain(session).ok


@pytest.fixture
def write_lock_held(
    session_factory: sessionmaker[Session], engine: Engine
) -> Iterator[threading.Event]:
    """Another transaction holding the write lock a report needs until the event is set:
    SQLite's (the write gate, then BEGIN IMMEDIATE), PostgreSQL's day counter row."""
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with session_factory() as other:
            begin_write(other)
            if BACKEND == "postgresql":
                other.execute(
                    text(
                        "INSERT INTO counters (name, value) SELECT 'case:' || :day, 0 "
                        "ON CONFLICT (name) DO UPDATE SET value = counters.value"
                    ),
                    {"day": "20261123"},
                )
            else:
                other.execute(update(User).where(User.id == -1).values(is_active=False))
            holding.set()
            release.wait(30)
            other.rollback()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert holding.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join(10)


def test_a_held_write_lock_is_not_waited_for_past_the_limit(
    world: Town, clock: FixedClock, engine: Engine, write_lock_held: threading.Event
) -> None:
    request = ReportRequest(_uid(world, "operator"), _data())
    started = time.monotonic()
    with pytest.raises(WriteLockBusy):
        report_batch(engine, clock, [request], lock_wait=0.05)
    assert time.monotonic() - started < 5
    assert _count(engine, Case) == 0  # nothing half-written
    write_lock_held.set()
    (outcome,) = report_batch(engine, clock, [request])
    assert isinstance(outcome, WrittenReport)


def test_the_batcher_writes_reports_that_arrive_together_in_one_transaction(
    world: Town, clock: FixedClock, engine: Engine
) -> None:
    batcher = ReportBatcher(engine, clock)
    operator = _uid(world, "operator")
    load_refs(engine)  # as a server's start-up does: the reference data in memory

    async def many() -> list[object]:
        return await asyncio.gather(
            *(batcher.report(ReportRequest(operator, _data(address=f"{i}号"))) for i in range(10)),
            batcher.report(ReportRequest(operator, _data(category_code="X9999"))),
            return_exceptions=True,
        )

    outcomes = asyncio.run(many())
    assert all(isinstance(o, WrittenReport) for o in outcomes[:10])
    assert isinstance(outcomes[10], InvalidInput)
    assert batcher.reports == 10
    assert batcher.batches == 1
    assert _count(engine, Case) == 10


def test_the_batcher_waits_for_a_held_lock_off_the_event_loop(
    world: Town, clock: FixedClock, engine: Engine, write_lock_held: threading.Event
) -> None:
    batcher = ReportBatcher(engine, clock, lock_wait=0.05)
    operator = _uid(world, "operator")
    ticks = 0

    async def scenario() -> object:
        nonlocal ticks
        report = asyncio.ensure_future(batcher.report(ReportRequest(operator, _data())))
        # The loop keeps serving while the report waits for the lock...
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not report.done()
        write_lock_held.set()  # ...and the report is written once the lock is free.
        return await asyncio.wait_for(report, 30)

    outcome = asyncio.run(scenario())
    assert isinstance(outcome, WrittenReport)
    assert ticks == 20
    assert batcher.deferred == 1
    assert _count(engine, Case) == 1


def test_the_batcher_redoes_a_batch_a_retried_key_refused(
    world: Town, clock: FixedClock, engine: Engine
) -> None:
    report_case(
        world.session,
        actor=world.actor("operator"),
        clock=clock,
        data=_data(),
        idempotency_key="again",
    )
    batcher = ReportBatcher(engine, clock)
    operator = _uid(world, "operator")

    async def together() -> list[object]:
        return await asyncio.gather(
            batcher.report(ReportRequest(operator, _data(address="新"))),
            batcher.report(ReportRequest(operator, _data(), "again")),
            batcher.report(ReportRequest(operator, _data(address="另"), "fresh")),
        )

    new, retried, fresh_key = asyncio.run(together())
    assert isinstance(new, WrittenReport)
    assert retried is None  # the API answers it through report_case: the first case
    assert isinstance(fresh_key, WrittenReport)
    assert _count(engine, Case) == 3
    with world.session_factory() as session:
        assert verify_chain(session).ok


@pytest.mark.postgres
def test_the_batcher_closes_its_connections_when_the_loop_ends(
    world: Town, clock: FixedClock, engine: Engine
) -> None:
    def backends() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )

    engine.dispose()
    before = backends()
    batcher = ReportBatcher(engine, clock)
    operator = _uid(world, "operator")

    async def six() -> list[object]:
        return await asyncio.gather(
            *(batcher.report(ReportRequest(operator, _data())) for _ in range(6))
        )

    for _ in range(2):  # a loop each time, as a test client or a server thread has
        outcomes = asyncio.run(six())
        assert all(isinstance(o, WrittenReport) for o in outcomes)
    engine.dispose()
    deadline = time.monotonic() + 10
    while backends() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends() == before
