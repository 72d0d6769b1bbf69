"""Raw SQL as a database administrator runs it: past the application and its triggers.

``case_events`` refuses UPDATE and DELETE (migration 0002_audit); an administrator
switches that off (PostgreSQL: ``session_replication_role = replica``, which also skips
foreign keys; SQLite: dropping the triggers), so the tampering tests do too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, text


def as_dba(conn: Connection) -> None:
    """Switch the append-only triggers (and on PostgreSQL foreign keys) off for ``conn``'s
    transaction (PostgreSQL) or database (SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS case_events_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS case_events_no_delete"))
        conn.execute(text("PRAGMA foreign_keys = OFF"))


def dba_sql(engine: Engine, statement: str, **params: Any) -> int:
    """Run ``statement`` as an administrator would; the number of rows it touched."""
    with engine.begin() as conn:
        as_dba(conn)
        return conn.execute(text(statement), params).rowcount
