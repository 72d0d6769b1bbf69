"""Test fixtures: a fresh database per test on SQLite, or on PostgreSQL when
``DUBAN_TEST_DATABASE_URL`` is set (CI runs the whole suite on both).

SQLite: the migrated schema with reference data is built once per session and copied
for each test. PostgreSQL: one database per xdist worker, migrated once; after each
test every table is emptied and the reference data reloaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from duban.kernel.db.base import Base
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.reference import policy
from duban.reference.categories import (
    forget_live_taxonomies,
    forget_subclass_tables,
    install_defaults,
)
from tests.fakes import FixedClock

PG_URL = os.environ.get("DUBAN_TEST_DATABASE_URL", "").strip()
# The audit key signs the event chain; tests sign with this one rather than write
# var/audit.key into the checkout (tests of the key file set their own place).
os.environ.setdefault("DUBAN_AUDIT_KEY", "test:duban-test-audit-key-0123456789")
BACKEND = "postgresql" if PG_URL else "sqlite"


def pytest_report_header() -> str:
    return f"duban database backend: {BACKEND}" + (
        f" ({make_url(PG_URL).render_as_string(hide_password=True)})" if PG_URL else ""
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL test: set DUBAN_TEST_DATABASE_URL (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with make_session_factory(engine)() as session:
        install_defaults(session, now=datetime(2026, 1, 1, tzinfo=UTC))
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    base = make_url(PG_URL)
    # Named per checkout too: two checkouts testing against one server at once (a CI
    # clone beside a working copy) must not drop each other's databases.
    checkout = hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
    name = f"{base.database or 'duban_test'}_{checkout}_{_worker()}"
    admin = make_engine(
        base.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


#: Reference tables kept between PostgreSQL tests; reloaded only when a test changed them.
_REFERENCE_TABLES = {"categories", "filing_conditions", "settings"}
_reference_stamp: dict[str, object] = {}


def _stamp(engine: Engine) -> tuple[object, ...]:
    """What tells us the reference data is as the last full load left it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT key, updated_at FROM settings"
                " WHERE key IN ('taxonomy', 'policy') ORDER BY key"
            )
        ).all()
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM categories WHERE is_active),"
                " (SELECT count(*) FROM filing_conditions WHERE is_active),"
                " (SELECT count(*) FROM settings)"
            )
        ).one()
    return (tuple(rows), tuple(counts))


def _reset_pg(engine: Engine) -> None:
    """Empty the case tables; reload the reference data only if a test changed it.

    A full reload costs most of a second per test, an emptying a few milliseconds.
    """
    url = engine.url.render_as_string(hide_password=False)
    full = _reference_stamp.get(url) != _stamp(engine)
    tables = [
        t.name for t in Base.metadata.sorted_tables if full or t.name not in _REFERENCE_TABLES
    ]
    with engine.begin() as conn:
        # case_events is append-only (triggers of migration 0002_audit); the reset, like
        # an administrator, empties it with the triggers off for this transaction.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        if full:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # DELETE is much cheaper than TRUNCATE on a handful of rows.
            for name in reversed(tables):
                conn.execute(text(f'DELETE FROM "{name}"'))
            conn.execute(text("DELETE FROM settings WHERE key NOT IN ('taxonomy', 'policy')"))
            for name in tables:
                for column in Base.metadata.tables[name].primary_key.columns:
                    if column.autoincrement is True or (
                        column.autoincrement == "auto" and column.type.python_type is int
                    ):
                        conn.execute(
                            text(
                                "SELECT setval(pg_get_serial_sequence(:t, :c), 1, false)"
                                " WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"
                            ),
                            {"t": name, "c": column.name},
                        )
    if full:
        with make_session_factory(engine)() as session:
            install_defaults(session, now=datetime(2026, 1, 1, tzinfo=UTC))
    _reference_stamp[url] = _stamp(engine)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of this test's fresh database."""
    if PG_URL:
        url: str = request.getfixturevalue("_pg_database")
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "duban.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    if PG_URL:
        _reset_pg(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture(autouse=True)
def _forget_cached_policy() -> Iterator[None]:
    # The policy cache is keyed by (database URL, row stamp). On PostgreSQL every test
    # reuses one URL and reloads the defaults, so two tests saving different policies
    # at the same fixed-clock instant would otherwise share one cache entry.
    # The same goes for the taxonomy's subclass table, stamped by the taxonomy row.
    policy._cache.clear()
    forget_subclass_tables()
    forget_live_taxonomies()
    yield
    policy._cache.clear()
    forget_subclass_tables()
    forget_live_taxonomies()


@pytest.fixture
def clock() -> FixedClock:
    """Monday 2026-11-23 09:00 in Shanghai, a working day, until moved."""
    return FixedClock()
