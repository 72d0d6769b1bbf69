"""Test fixtures: a fresh database per test on SQLite, or on PostgreSQL when
``DUBAN_TEST_DATABASE_URL`` is set (CI runs the whole suite on both).

SQLite: the migrated schema with reference data is built once per session and copied
for each test. PostgreSQL: one database per xdist worker, migrated once; after each
test every table is emptied and the reference data reloaded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from duban.services.reference import install_defaults
from duban.store.base import Base
from duban.store.migrate import upgrade
from duban.store.session import make_engine, make_session_factory
from tests.fakes import FixedClock

PG_URL = os.environ.get("DUBAN_TEST_DATABASE_URL", "").strip()
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
    name = f"{base.database or 'duban_test'}_{_worker()}"
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


def _reset_pg(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with make_session_factory(engine)() as session:
        install_defaults(session, now=datetime(2026, 1, 1, tzinfo=UTC))


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


@pytest.fixture
def clock() -> FixedClock:
    """Monday 2026-11-23 09:00 in Shanghai, a working day, until moved."""
    return FixedClock()
