"""Migrations on a database in use: SQLite gets statistics for the indexes they add."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine


def test_an_index_added_to_an_analysed_sqlite_table_is_analysed_too(tmp_path: Path) -> None:
    """Without statistics SQLite preferred 0036's new index to the approvals queue's
    partial index (92 ms a query at 1M cases instead of 1 ms)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'duban.db'}")
    upgrade(engine, "0035_fill")
    engine.dispose()
    raw = sqlite3.connect(tmp_path / "duban.db")  # a city's cases (no categories needed)
    raw.executemany(
        "INSERT INTO cases (code, version, source, status, kind, category_code, lat, lon, "
        "address, description, rework_count, is_supervised, paused_seconds, created_at, "
        "updated_at, event_count, last_event_hash) VALUES (?, 1, 'hotline', ?, 'event', "
        "'E0101', 34, 113, '', '', 0, 0, 0, '2026-01-01', '2026-01-01', 1, '')",
        [(f"B{i}", "closed" if i % 3 else "filed") for i in range(300)],
    )
    raw.execute("ANALYZE")
    raw.commit()
    raw.close()
    with engine.connect() as conn:
        assert conn.scalar(
            text("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'ix_cases_status_time_left'")
        )
    upgrade(engine)
    with engine.connect() as conn:
        stats = set(conn.scalars(text("SELECT idx FROM sqlite_stat1 WHERE tbl = 'cases'")))
    assert "ix_cases_status_category_due" in stats  # added by 0036_search
    engine.dispose()


def test_a_new_sqlite_database_is_not_analysed_by_its_migrations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'duban.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        assert not conn.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        )
    engine.dispose()
