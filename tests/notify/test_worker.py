"""The worker: jobs run by themselves, one worker per job at a time, each run recorded;
the outbox claimed with SKIP LOCKED on PostgreSQL; the yellow-light warning once."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from duban import notify
from duban.adapters.senders import SmtpSender
from duban.app import create_app
from duban.jobs.models import JobRun
from duban.jobs.schedule import claim_job, job_status
from duban.jobs.sweep import sweep_overdue
from duban.jobs.worker import Worker, WorkerConfig
from duban.kernel.unitofwork import writing
from duban.notify.delivery import claim
from duban.notify.models import Notification
from duban.notify.policy import notify_policy
from duban.notify.rules import Channel, Kind
from tests.commands import run
from tests.factories.cases import dispatched_case, fresh
from tests.factories.reference import condition
from tests.factories.world import World
from tests.fakes import FixedClock, local
from tests.http import make_settings
from tests.notify.servers import smtp_server, wait_for


def test_the_worker_runs_the_sweep_by_itself(
    world: World, session: Session, clock: FixedClock
) -> None:
    case = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    clock.set(local(2026, 11, 23, 12, 0))  # past its deadline
    worker = Worker(
        world.session_factory,
        clock=clock,
        config=WorkerConfig(
            senders={}, intervals={"sweep": 0.05, "deliver": 0.05}, jobs=("sweep", "deliver")
        ),
    )
    thread = worker.start_thread()
    try:
        assert wait_for(lambda: fresh(world.session_factory, case.id).is_supervised)
    finally:
        worker.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    with world.session_factory() as other:
        (status,) = job_status(other, ["sweep"])
        assert status.last is not None
        assert status.last.ok is True
        assert "1 newly marked overdue" in status.last.summary
        assert status.last.finished_at is not None


def test_two_workers_never_hold_one_job_at_once(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    args = {"job": "sweep", "now": clock.now(), "every": timedelta(minutes=1)}
    with session_factory() as a, session_factory() as b:
        assert claim_job(a, worker="a", lease=timedelta(minutes=5), **args)
        assert not claim_job(b, worker="b", lease=timedelta(minutes=5), **args)
        # After the lease and the interval, the other may take it.
        later = {**args, "now": clock.now() + timedelta(minutes=6)}
        assert claim_job(b, worker="b", lease=timedelta(minutes=5), **later)


def test_a_failing_job_is_recorded_and_the_worker_goes_on(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    worker = Worker(session_factory, clock=clock, config=WorkerConfig(senders={}))

    def broken(_: Session) -> str:
        raise RuntimeError("disk full")

    worker._runners["sweep"] = broken
    assert worker.run_job("sweep") == "RuntimeError: disk full"
    with session_factory() as session:
        run_ = session.scalars(select(JobRun)).one()
        assert run_.ok is False
        assert run_.summary == "RuntimeError: disk full"


def test_the_yellow_light_warns_the_unit_once(
    world: World, session: Session, clock: FixedClock
) -> None:
    notify.set_preferences(
        session,
        actor=world.actor("handler"),
        channels=["email"],
        email="h@example.org",
        now=clock.now(),
    )
    case = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    assert case.due_at == local(2026, 11, 23, 11)
    clock.set(local(2026, 11, 23, 10, 0))  # half of it: green
    assert sweep_overdue(session, clock=clock).warned == []
    clock.set(local(2026, 11, 23, 10, 42))  # 85 %: yellow
    assert sweep_overdue(session, clock=clock).warned == [case.code]
    assert sweep_overdue(session, clock=clock).warned == []
    with world.session_factory() as other:
        kinds = other.scalars(
            select(Notification.kind).where(Notification.kind == Kind.DEADLINE_WARNING)
        ).all()
    assert kinds == ["deadline_warning"]


def _outbox(session_factory: sessionmaker[Session], clock: FixedClock, n: int) -> None:
    with session_factory() as session, writing(session):
        for i in range(n):
            notify.enqueue(
                session,
                kind=Kind.NEW_TASK,
                channel=Channel.EMAIL,
                address=f"p{i}@example.org",
                at=clock.now(),
                params={},
            )


@pytest.mark.postgres
def test_two_claimers_get_disjoint_rows_without_waiting(
    engine: Engine, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    _outbox(session_factory, clock, 10)
    policy = notify_policy()
    with session_factory() as a, session_factory() as b:
        first = claim(a, now=clock.now(), policy=policy, limit=6)  # a's locks stay held
        b.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting on a would fail
        started = time.monotonic()
        second = claim(b, now=clock.now(), policy=policy, limit=6)
        waited = time.monotonic() - started
        b.commit()
        a.commit()
    assert len(first) == 6
    assert len(second) == 4
    assert not set(first) & set(second)
    assert waited < 2


def test_worker_status_and_once_on_the_command_line(
    world: World, db_url: str, tmp_path: Path
) -> None:
    result = run(db_url, tmp_path, "worker", "--status")
    assert result.exit_code == 0, result.output
    assert "sweep: never run" in result.output
    result = run(db_url, tmp_path, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "sweep: sweep:" in result.output
    assert "deliver: delivery: 0 sent" in result.output
    result = run(db_url, tmp_path, "worker", "--status")
    assert "sweep: last" in result.output
    assert ", ok" in result.output
    assert "outbox: pending 0" in result.output


def test_the_server_runs_the_worker_in_process(
    world: World, session: Session, clock: FixedClock, engine: Engine, tmp_path: Path, db_url: str
) -> None:
    case = dispatched_case(world, condition(session, 2, "hours"), at=local(2026, 11, 23, 9))
    clock.set(local(2026, 11, 23, 12, 0))
    settings = make_settings(db_url, tmp_path, run_worker=True, sweep_interval=0.05)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app):  # the lifespan starts the worker; nobody calls the sweep
        assert wait_for(lambda: fresh(world.session_factory, case.id).is_supervised)


def test_a_commit_wakes_the_worker_to_send_at_once(world: World, clock: FixedClock) -> None:
    notify.set_preferences(
        world.session,
        actor=world.actor("handler"),
        channels=["email"],
        email="h@example.org",
        now=clock.now(),
    )
    with smtp_server() as (port, inbox):
        worker = Worker(
            world.session_factory,
            clock=clock,
            config=WorkerConfig(
                senders={"email": SmtpSender("127.0.0.1", port, sender="d@example.org")},
                intervals={"deliver": 3600, "sweep": 3600},
                jobs=("deliver",),
            ),
        )
        thread = worker.start_thread()
        try:
            assert wait_for(lambda: _ran(world, "deliver"))
            dispatched_case(world)  # its commit wakes the worker; the hour is not waited
            assert wait_for(lambda: len(inbox) == 1)
        finally:
            worker.stop()
            thread.join(timeout=10)
    assert inbox[0]["To"] == "h@example.org"


def _ran(world: World, job: str) -> bool:
    with world.session_factory() as s:
        return s.scalars(select(JobRun).where(JobRun.job == job)).first() is not None
