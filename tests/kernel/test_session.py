"""SQLite's write gate and the per-request memo of reference data (store/session.py)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from duban.kernel.db import session as store_session
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import (
    REQUEST_MEMO,
    begin_write,
    make_engine,
    make_session_factory,
    request_memo,
)
from duban.reference.categories import install_defaults
from duban.reference.policy import load_policy, save_policy, shipped_policy_data

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _counter_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS tally (n INTEGER PRIMARY KEY)"))
    return engine


def _bump(engine: Engine, times: int) -> None:
    """Read the highest number and write the next one, ``times`` times (lost updates
    would show as duplicate keys)."""
    factory = make_session_factory(engine)
    for _ in range(times):
        with factory() as session:
            begin_write(session)
            top = session.execute(text("SELECT coalesce(max(n), 0) FROM tally")).scalar_one()
            session.execute(text("INSERT INTO tally (n) VALUES (:n)"), {"n": top + 1})
            session.commit()


def _gate(engine: Engine) -> store_session._WriteGate:
    raw = engine.raw_connection()
    try:
        dbapi = raw.dbapi_connection
        assert isinstance(dbapi, store_session._GatedConnection)
        return dbapi.gate
    finally:
        raw.close()


def test_writers_of_one_process_take_turns(tmp_path: Path) -> None:
    engine = _counter_engine(tmp_path / "gate.db")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _bump(engine, 25)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), max(n) FROM tally")).one() == (200, 200)
    gate = _gate(engine)
    assert gate.acquire()  # free again
    gate.release()
    engine.dispose()


def _bump_in_process(path: str) -> None:
    engine = make_engine(f"sqlite:///{path}")
    _bump(engine, 30)
    engine.dispose()


@pytest.mark.slow
def test_writers_of_several_processes_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    _counter_engine(path).dispose()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump_in_process, args=(str(path),)) for _ in range(2)]
    for p in procs:
        p.start()
    _bump_in_process(str(path))
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), max(n) FROM tally")).one() == (90, 90)
    engine.dispose()


def test_the_turn_ends_with_a_failed_transaction(tmp_path: Path) -> None:
    engine = _counter_engine(tmp_path / "gate.db")
    factory = make_session_factory(engine)

    def failing_use_case() -> None:
        with factory() as session:
            begin_write(session)
            session.execute(text("INSERT INTO tally (n) VALUES (1)"))
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        failing_use_case()
    # Rolled back on close: the next writer goes in at once and the row is gone.
    _bump(engine, 1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalars().all() == [1]
    gate = _gate(engine)
    assert gate.acquire()
    gate.release()
    engine.dispose()


def test_a_request_reads_the_policy_once_and_sees_its_own_change(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'memo.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        install_defaults(session, now=NOW)
        load_policy(session)  # the process's cache now holds it: one stamp read per call
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with factory() as session:
        assert request_memo(session) is None  # outside a request: no memo
        load_policy(session)
        load_policy(session)
        assert sum("settings" in s for s in statements) == 2  # read each time
    statements.clear()
    with factory() as session:
        session.info[REQUEST_MEMO] = {}  # what the API's session dependency does
        first = load_policy(session)
        assert load_policy(session) is first
        assert sum("settings" in s for s in statements) == 1
        data = shipped_policy_data()
        data["lights"] = {"yellow_at": 0.5, "red_at": 1.0}
        begin_write(session)
        save_policy(session, data, now=NOW)
        session.commit()
        assert load_policy(session).yellow_at == 0.5
    engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL pool


@pytest.mark.postgres
def test_a_pooled_connection_the_server_dropped_is_replaced_without_an_error(
    db_url: str,
) -> None:
    """No pre-ping query per checkout: a dropped connection is noticed on its socket."""
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    other = make_engine(db_url, pool_size=1, max_overflow=0)
    queries: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as conn:  # a healthy pooled connection: checked without SQL
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        assert len(queries) == 2
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        time.sleep(0.2)  # the server's goodbye reaches the socket
        with engine.connect() as conn:
            again = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert again != first
    finally:
        engine.dispose()
        other.dispose()


def test_a_servers_wal_is_checkpointed_by_a_thread_not_by_commits(tmp_path: Path) -> None:
    engine = store_session.make_engine(
        f"sqlite:///{tmp_path / 'ckpt.db'}", background_checkpoints=True
    )
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT)"))
        # A commit no longer copies the WAL back once it passes 1,000 pages.
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == (
            store_session.FAR_CHECKPOINT_PAGES
        )
    checkpointer = store_session.wal_checkpointer(engine)
    assert checkpointer is not None
    checkpointer.interval = 0.02
    store_session.start_background_checkpoints(engine)
    try:
        with engine.begin() as conn:
            for n in range(200):
                conn.execute(text("INSERT INTO t VALUES (:n, :pad)"), {"n": n, "pad": "x" * 3000})
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        with engine.connect() as conn:
            busy, frames, copied = conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
        assert checkpointer.checkpoints >= 3
        assert (busy, frames - copied) == (0, 0)  # nothing left for a commit to copy
    finally:
        store_session.stop_background_checkpoints(engine)
        engine.dispose()
    # An engine made without it checkpoints as SQLite does by default.
    plain = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with plain.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 1000
    assert store_session.wal_checkpointer(plain) is None
    plain.dispose()


@pytest.mark.postgres
def test_postgresql_connections_never_jit_compile(engine: Engine) -> None:
    """A query over the JIT threshold was compiled per request (~100 ms); the app turns JIT
    off on its own connections."""
    with engine.connect() as conn:
        assert conn.scalar(text("SHOW jit")) == "off"
