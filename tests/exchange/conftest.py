"""Two Duban instances on one machine: the city (the test's own database, served by a
real uvicorn) and a district (a second database: another SQLite file, or on PostgreSQL a
second database named after the test database)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from duban.adapters.photostore import LocalPhotoStore
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from tests.conftest import PG_URL, _reset_pg
from tests.factories.world import World
from tests.fakes import FixedClock


@pytest.fixture(scope="session")
def _pg_district_database(_pg_database: str) -> Iterator[str]:
    """The district's PostgreSQL database: the city's name with ``_district``."""
    city = make_url(_pg_database)
    name = f"{city.database}_district"
    admin = make_engine(
        city.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = city.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def district_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The district instance's database, fresh for each test."""
    if PG_URL:
        url: str = request.getfixturevalue("_pg_district_database")
        engine = make_engine(url)
        _reset_pg(engine)
    else:
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "district.db"
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def district_session(district_engine: Engine) -> Iterator[Session]:
    with make_session_factory(district_engine)() as session:
        yield session


@pytest.fixture
def district(
    district_session: Session, district_engine: Engine, clock: FixedClock, tmp_path: Path
) -> World:
    """The district's people (one per role, its own units SZGC and HWC) and photo store."""
    return World(
        district_session,
        clock,
        make_session_factory(district_engine),
        LocalPhotoStore(tmp_path / "district_photos"),
    )
