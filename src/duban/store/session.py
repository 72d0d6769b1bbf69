"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings Duban relies on.

    SQLite gets WAL (readers never block the writer), foreign keys and a busy timeout.
    We issue ``BEGIN`` ourselves: a write transaction (see :func:`begin_write`) starts
    with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout; a deferred
    transaction that reads and then writes would fail at once with SQLITE_BUSY when
    another writer committed in between.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


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


def _sqlite_on_begin(conn: Any) -> None:
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite's own is buggy).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (we return them to callers)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
