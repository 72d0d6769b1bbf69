"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import os
import select
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # Windows: the gate then orders the writers of one process only
    fcntl = None  # type: ignore[assignment]


def make_engine(url: str, *, background_checkpoints: bool = False, **kwargs: Any) -> Engine:
    """Create an engine with the settings Duban relies on.

    SQLite gets WAL (readers never block the writer), foreign keys and a busy timeout.
    We issue ``BEGIN`` ourselves: a write transaction (see :func:`begin_write`) starts
    with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout; a deferred
    transaction that reads and then writes would fail at once with SQLITE_BUSY when
    another writer committed in between.

    ``background_checkpoints`` (a server's engine): the WAL of a SQLite file is copied
    back into the database by a thread (:class:`WalCheckpointer`, started with
    :func:`start_background_checkpoints`) instead of by whichever commit crosses the
    threshold, which then waits for the copy and its fsync (a latency spike every few
    dozen commits on the event loop). The connections keep a far threshold as a net.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        if database and database != ":memory:":
            # Enough pooled connections for every thread of the server's pool: a connection
            # made and dropped per request (the overflow) costs more than the request.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 40)
            connect_args = dict(kwargs["connect_args"])
            connect_args.setdefault("factory", _gated_connection_class(database))
            kwargs["connect_args"] = connect_args
        engine = create_engine(url, **kwargs)
        background = background_checkpoints and bool(database) and database != ":memory:"
        if background:
            _checkpointers[engine] = WalCheckpointer(str(database))
        event.listen(engine, "connect", _sqlite_on_connect)
        if background:
            event.listen(engine, "connect", _sqlite_far_checkpoints)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No JIT: a request's query whose estimated cost crosses jit_above_cost (the zoomed-out
    # map's join at 1M cases, 82k of 100k) was compiled on every request, ~100 ms of a 240 ms
    # answer (BENCHMARKS.md "Map counts"); Duban's queries are short and index-driven.
    connect_args = dict(kwargs.get("connect_args") or {})
    connect_args["options"] = " ".join(filter(None, [connect_args.get("options"), "-c jit=off"]))
    kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", _pg_check_alive)
    return engine


def _pg_check_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection that the server has dropped, without a
    round trip (SQLAlchemy's ``pool_pre_ping`` costs one query per checkout, i.e. per
    request).

    An idle connection has nothing to read: if its socket is readable, the server closed
    it (a restart, ``pg_terminate_backend``, an idle timeout) or sent something we never
    asked for. Either way the pool drops it and checks out another (DisconnectionError).
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the pooled connection is closed")
    try:
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN | select.POLLPRI)
        if poller.poll(0):
            raise DisconnectionError("the server closed the pooled connection")
    except (OSError, ValueError) as err:  # no usable socket: not a connection to keep
        raise DisconnectionError(f"the pooled connection is unusable: {err}") from err


WRITE_OPTION = "duban_write"


def begin_write(session: Session) -> None:
    """Mark the session's transaction as a writer before its first statement.

    On SQLite this takes the write lock up front (``BEGIN IMMEDIATE``); on PostgreSQL it
    changes nothing. Call it first thing in every use case that writes.
    """
    if session.in_transaction():
        conn = session.connection()
        if conn.dialect.name != "sqlite" or conn.get_execution_options().get(WRITE_OPTION):
            return
        if session.new or session.dirty or session.deleted:
            return  # already writing through a deferred transaction; the busy timeout copes
        # End the read-only transaction so that the writing one starts IMMEDIATE.
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})


@event.listens_for(Session, "before_flush")
def _sqlite_write_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Every write on SQLite waits its turn: a session about to flush writes through a
    write transaction (``BEGIN IMMEDIATE``, at the write gate), as :func:`begin_write`
    starts one.

    A transaction that began as a reader (the request read the user, then saves a
    photo) can not become a writer in place once another writer has committed since
    its snapshot: SQLite answers SQLITE_BUSY at once, whatever the busy timeout — the
    ``database is locked`` that concurrent uploads met. So the read transaction ends
    here and a write transaction takes its place on the same connection; what the
    flush writes was decided from reads a moment old, as between any two requests
    (the version check on cases still refuses a lost update).
    """
    if not session.new and not session.dirty and not session.deleted:
        return
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if not session.in_transaction():
        session.connection(execution_options={WRITE_OPTION: True})
        return
    conn = session.connection()
    if conn.get_execution_options().get(WRITE_OPTION):
        return
    dbapi_connection = conn.connection.dbapi_connection
    if not isinstance(dbapi_connection, _GatedConnection) or dbapi_connection.writing:
        return  # an in-memory database (one connection), or a writer already
    if dbapi_connection.total_changes != dbapi_connection.changes_at_begin:
        return  # it wrote already (a statement of its own): the busy timeout copes
    if dbapi_connection.in_transaction:
        dbapi_connection.execute("COMMIT")  # the read ends; nothing was written in it
    dbapi_connection.enter_write()
    try:
        dbapi_connection.execute("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_connection.leave_write()
        raise


def _sqlite_on_begin(conn: Any) -> None:
    if conn.get_execution_options().get(WRITE_OPTION):
        dbapi_connection = conn.connection.dbapi_connection
        gated = isinstance(dbapi_connection, _GatedConnection)
        if gated:
            dbapi_connection.enter_write()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if gated:
                dbapi_connection.leave_write()
            raise
    else:
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, _GatedConnection):
            dbapi_connection.changes_at_begin = dbapi_connection.total_changes
        conn.exec_driver_sql("BEGIN")


# --------------------------------------------------------------------------- SQLite writers

BUSY_TIMEOUT_MS = 30_000
GATE_TIMEOUT = BUSY_TIMEOUT_MS / 1000  # seconds, as the busy timeout


class _WriteGate:
    """Lets the writers of one SQLite database in one at a time, in turn.

    SQLite admits one writer anyway. Without the gate a writer that finds the database
    locked sleeps and retries (after 1, 2, 5, … up to 100 ms), so the lock often sits
    free while the waiters sleep, and an unlucky one waits far longer than the work
    takes. At the gate the next writer of this process starts as soon as the last one
    ends (a thread lock), and the other processes' writers (server workers, jobs) take
    turns on an advisory lock of the file ``<database>-lock`` (checked every ≤ 2 ms).

    SQLite's own locking still decides who writes: the gate only orders Duban's writers
    (``BEGIN IMMEDIATE`` follows it). If it cannot be had within the busy timeout, or the
    lock file cannot be used, the writer goes ahead and SQLite's busy timeout applies.
    """

    def __init__(self, database: str) -> None:
        self._path = f"{database}-lock"
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._fd_pid = 0
        self._file_locked = False

    def acquire(self, timeout: float = GATE_TIMEOUT, *, strict: bool = False) -> bool:
        """Wait up to ``timeout`` seconds for this database's turn. False if it did not
        come: the writer goes ahead anyway (SQLite's busy timeout then applies), unless
        ``strict``, when nothing is held and the writer must not write."""
        deadline = time.monotonic() + timeout
        if not (self._lock.acquire(timeout=timeout) if timeout > 0 else self._lock.acquire(False)):
            return False
        locked = self._lock_file(deadline)
        if locked is False and strict:
            self._lock.release()
            return False
        self._file_locked = bool(locked)
        return True

    def release(self) -> None:
        """End this writer's turn."""
        try:
            if self._file_locked and self._fd is not None and fcntl is not None:
                self._file_locked = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            self._lock.release()

    def _lock_file(self, deadline: float) -> bool | None:
        """Lock the file: True, or False when the deadline passed, or None when the file
        can not be locked at all (no fcntl, an OS error: the thread lock alone orders)."""
        if fcntl is None:
            return None
        try:
            if self._fd is None or self._fd_pid != os.getpid():
                # A forked child must not share its parent's lock: open its own file.
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self._fd_pid = os.getpid()
            pause = 0.0002
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except OSError:
            return None


class _GatedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions pass its database's :class:`_WriteGate`.

    The turn ends with the transaction: on commit, rollback (also the pool's reset) or
    close, whichever comes first.
    """

    gate: _WriteGate
    _holding = False
    #: ``total_changes`` when the current read transaction began.
    changes_at_begin = 0

    def enter_write(self, timeout: float | None = None) -> bool:
        """Take this database's turn to write (also when it is already held: True).
        With a ``timeout``, give up after it (False) rather than go ahead without it."""
        if not self._holding:
            if timeout is None:
                self._holding = self.gate.acquire()
            else:
                self._holding = self.gate.acquire(timeout, strict=True)
                return self._holding
        return True

    @property
    def writing(self) -> bool:
        """Whether this connection's transaction holds the database's turn to write."""
        return self._holding

    def leave_write(self) -> None:
        if self._holding:
            self._holding = False
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_write()


_gates_lock = threading.Lock()
_gate_classes: dict[str, type[_GatedConnection]] = {}


def _gated_connection_class(database: str) -> type[_GatedConnection]:
    """The connection class of one database file (one gate per file and process)."""
    key = os.path.abspath(database)
    with _gates_lock:
        cls = _gate_classes.get(key)
        if cls is None:
            cls = type("GatedConnection", (_GatedConnection,), {"gate": _WriteGate(key)})
            _gate_classes[key] = cls
        return cls


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite's own is buggy).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


# --------------------------------------------------------------------------- SQLite WAL

#: The WAL size (pages) at which a commit checkpoints inline when a thread does it
#: otherwise: only if the thread has fallen far behind (about 40 MB).
FAR_CHECKPOINT_PAGES = 10_000
CHECKPOINT_INTERVAL_SECONDS = 0.2
_checkpointers: weakref.WeakKeyDictionary[Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


def _sqlite_far_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={FAR_CHECKPOINT_PAGES}")


class WalCheckpointer:
    """Copies a SQLite database's WAL back into it every few tenths of a second, in a
    thread of its own (PASSIVE: it never blocks a reader or a writer, and gives up on
    what it can not copy yet). sqlite3 lets go of Python's interpreter lock while it
    works, so the event loop goes on meanwhile."""

    def __init__(self, database: str, interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self.database = database
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: How many checkpoints ran (tests read it).
        self.checkpoints = 0

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="duban-wal-checkpoints", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        connection = sqlite3.connect(self.database, isolation_level=None, timeout=1)
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:
                    pass  # busy or gone for a moment: the next round, or the far threshold
                if stopping:
                    return
        finally:
            connection.close()


def start_background_checkpoints(engine: Engine) -> None:
    """Start the WAL checkpointer of an engine made with ``background_checkpoints``."""
    checkpointer = _checkpointers.get(engine)
    if checkpointer is not None:
        checkpointer.start()


def stop_background_checkpoints(engine: Engine) -> None:
    """Stop it again (the server's shutdown)."""
    checkpointer = _checkpointers.get(engine)
    if checkpointer is not None:
        checkpointer.stop()


def wal_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """The engine's checkpointer, if it has one."""
    return _checkpointers.get(engine)


REQUEST_MEMO = "duban.request_memo"


def request_memo(session: Session) -> dict[str, Any] | None:
    """What this request has read of the reference data so far, or None outside a request.

    The API's sessions live for one request and start with an empty memo (see
    ``duban.api.deps.get_session``): each piece of reference data (the policy, the map
    index) is then checked against its stamp once per request instead of once per use,
    and stays as first read until the request ends. Whoever writes such data in the
    session drops its entry.
    """
    memo = session.info.get(REQUEST_MEMO)
    return memo if isinstance(memo, dict) else None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (we return them to callers)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
