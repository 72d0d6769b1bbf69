"""The one way a case is born (duban.cases.intake): rows, numbers, and what the session
holds.

``report`` prepares a report and writes it with ``write_reports`` — the one writer of new
cases, set-based, inside the ``writing()`` unit of work — and hands the objects to the
session as if loaded. These tests pin what that must keep: the same rows the ORM would
write, numbers that never truncate, a chain that verifies, objects a caller can go on
changing, and no other place in the code that inserts cases.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from duban.app import _lifespan, create_app
from duban.cases.actions import NewCase, report_case
from duban.cases.audit import verify_chain
from duban.cases.intake import (
    PreparedReport,
    case_number,
    prepare_report,
    report_refs,
    reserve_case_codes,
    write_reports,
)
from duban.cases.models import Case, CaseEvent, CasePhoto, IdempotencyKey
from duban.cases.workflow import Action, CaseStatus, Source
from duban.config import Settings
from duban.kernel.db.models import Counter
from duban.kernel.unitofwork import writing
from tests.factories import CATEGORY, LAT, LON
from tests.factories.cases import fresh
from tests.factories.world import World
from tests.fakes import FixedClock


def _report(world: World, clock: FixedClock, *, key: str | None = None) -> Case:
    case, created = report_case(
        world.session,
        actor=world.actor("operator"),
        clock=clock,
        data=NewCase(
            source=Source.HOTLINE,
            category_code=CATEGORY,
            lat=LAT,
            lon=LON,
            description="人行道井盖缺失",
        ),
        idempotency_key=key,
    )
    assert created
    return case


def test_the_case_number_grows_past_five_digits_without_truncation(
    world: World, clock: FixedClock
) -> None:
    first = _report(world, clock)
    day = first.code[:8]
    assert first.code == f"{day}00001"
    world.session.execute(update(Counter).where(Counter.name == f"case:{day}").values(value=99_998))
    world.session.commit()
    assert _report(world, clock).code == f"{day}99999"
    assert _report(world, clock).code == f"{day}100000"  # not cut back to 5 digits
    assert case_number(day, 100_001) == f"{day}100001"
    assert reserve_case_codes(world.session, day, 2) == [f"{day}100001", f"{day}100002"]
    world.session.rollback()


def test_the_stored_rows_are_what_the_objects_say(world: World, clock: FixedClock) -> None:
    case = _report(world, clock, key="retry-1")
    stored = fresh(world.session_factory, case.id)
    for column in Case.__table__.columns:
        assert getattr(stored, column.key) == getattr(case, column.key), column.key
    assert stored.version == 1
    assert stored.event_count == 1
    with world.session_factory() as other:
        row = other.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        key = other.scalars(select(IdempotencyKey).where(IdempotencyKey.case_id == case.id)).one()
    assert [e.id for e in case.events] == [row.id]
    assert stored.last_event_hash == row.hash == case.events[0].hash
    assert key.key == "retry-1"
    assert verify_chain(world.session).ok


def test_the_new_case_needs_no_reads_and_can_be_changed(
    world: World, clock: FixedClock, session: Session
) -> None:
    case = _report(world, clock)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", record)
    try:
        # Everything a presenter reads is in memory: no lazy load fires.
        for column in Case.__table__.columns:
            getattr(case, column.key)
        assert case.status == CaseStatus.REPORTED
        assert [e.action for e in case.events] == ["report"]
        assert case.photos == []
        assert case.helpers == []
        assert case.unit is None
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert statements == []
    # And the next action is an ordinary versioned update of it.
    verified = world.act(case, Action.ASSIGN, "operator")
    assert verified.version == 2
    assert verified.event_count == 2
    assert verify_chain(world.session).ok


def test_the_server_limits_its_thread_pool_and_freezes_its_startup_heap() -> None:
    app = create_app(Settings(database_url="sqlite://", secret_key="s" * 32, worker_threads=3))

    async def run() -> tuple[int, int]:
        async with _lifespan(app):  # an empty database: warming up fails quietly
            tokens = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
            return tokens, gc.get_freeze_count()

    try:
        tokens, frozen = anyio.run(run)
    finally:
        gc.unfreeze()
    assert tokens == 3
    assert frozen > 10_000  # modules, mappers, templates: out of the collector's way


def _prepared(world: World, clock: FixedClock, n: int, photos: list[str]) -> list[PreparedReport]:
    refs = report_refs(world.session)
    return [
        prepare_report(
            refs,
            actor=world.actor("operator"),
            data=NewCase(
                source=Source.HOTLINE,
                category_code=CATEGORY,
                lat=LAT,
                lon=LON,
                description=f"第{i}处井盖缺失",
                photo_ids=tuple(photos) if i == 0 else (),
            ),
            idempotency_key=f"batch-{i}",
            now=clock.now(),
        )
        for i in range(n)
    ]


def test_write_reports_writes_many_reports_with_photos_and_keys_in_one_unit_of_work(
    world: World, clock: FixedClock
) -> None:
    photos = [world.photo(), world.photo((200, 10, 10))]
    prepared = _prepared(world, clock, 5, photos)
    with writing(world.session):
        written = write_reports(world.session, prepared)
    codes = [w.case["code"] for w in written]
    day = codes[0][:8]
    assert codes == [f"{day}{n:05d}" for n in range(1, 6)]
    with world.session_factory() as other:
        assert other.scalar(select(func.count()).select_from(Case)) == 5
        keys = other.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.case_id)).all()
        assert keys == [f"batch-{i}" for i in range(5)]
        linked = other.execute(select(CasePhoto.case_id, CasePhoto.photo_id, CasePhoto.stage))
        assert sorted(linked, key=lambda r: r[1]) == sorted(
            [(written[0].case["id"], pid, "before") for pid in photos], key=lambda r: r[1]
        )
        events = {e.case_id: e for e in other.scalars(select(CaseEvent))}
    for w in written:
        assert events[w.case["id"]].id == w.event["id"]
        assert events[w.case["id"]].hash == w.case["last_event_hash"]
    assert verify_chain(world.session).ok


def test_write_reports_runs_only_inside_a_unit_of_work(world: World, clock: FixedClock) -> None:
    with pytest.raises(RuntimeError, match="writing"):
        write_reports(world.session, _prepared(world, clock, 1, []))


def test_a_failed_unit_of_work_writes_nothing_and_uses_no_number(
    world: World, clock: FixedClock
) -> None:
    prepared = _prepared(world, clock, 3, [])

    def fails_after_the_writes() -> None:
        with writing(world.session):
            write_reports(world.session, prepared)
            raise RuntimeError("anything that fails after the writes")

    with pytest.raises(RuntimeError, match="after the writes"):
        fails_after_the_writes()
    with world.session_factory() as other:
        assert other.scalar(select(func.count()).select_from(Case)) == 0
        assert other.scalar(select(func.count()).select_from(Counter)) == 0


def test_cases_are_inserted_in_one_place_only() -> None:
    """Every face goes through duban.cases.intake: nothing else inserts into cases."""
    src = Path(__file__).resolve().parents[2] / "src" / "duban"
    pattern = re.compile(
        r"INSERT INTO cases\b|_insert_all\(CASES\)"
        r"|insert_?\((CASES|cast\(Table, Case\.__table__\)|Case\b)"
    )
    found = [
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == ["cases/intake.py"]
    assert not (src / "cases" / "groupcommit.py").exists()
    assert not (src / "cases" / "reportbatch.py").exists()
