"""Test fixtures: a fresh database per test on SQLite, or on PostgreSQL when
``DUBAN_TEST_DATABASE_URL`` is set (CI runs the whole suite on both); the real app on it
(``app``, ``client``, ``api``, ``live_server``) and one user per role (``world``).

SQLite: the migrated schema with reference data is built once per session and copied
for each test. PostgreSQL: one database per xdist worker, migrated once; after each
test every table is emptied, and the reference data reloaded only if the test changed it.

Why not a rolled-back transaction (or savepoint) per test. Measured on this suite: the
copy of the SQLite template and a first connection cost about 10 ms a test (under load),
a begin and rollback 0.2 ms; so at most ~9 s of the suite's ~100 CPU-seconds, before the
restrictions below, which would leave most of those tests on the copy anyway:

- the code commits: every use case ends in ``session.commit()`` and the tests check what
  was *committed*, read through new sessions (``fresh``, ``events``) — a savepoint-joined
  session would have to hand those readers the same connection, and they would then see
  uncommitted state, which is what they exist to rule out;
- the app (``create_app(engine=...)``) opens its own sessions and connections from the
  engine's pool, from the event loop and from worker threads; the live server runs in a
  thread; the CLI tests run ``duban`` in the same or another process; none of these would
  see, or be rolled back with, one test connection;
- the concurrency tests (two writers racing, the SQLite write lock, PostgreSQL row
  locks, several processes) need separate connections by design;
- on PostgreSQL ``TRUNCATE``/``DELETE`` of the case tables after a test costs a few
  milliseconds (the reference data is kept unless the test changed it).

So each test keeps its own database: a file copy on SQLite, an emptied database on
PostgreSQL (:func:`_reset_pg`, the one reset every fixture uses).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from duban.accounts import users
from duban.adapters.photostore import LocalPhotoStore
from duban.app import create_app
from duban.config import Settings
from duban.kernel.db.base import Base
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.sealed import use_secret_source
from duban.kernel.db.session import make_engine, make_session_factory
from duban.reference import policy
from duban.reference.categories import (
    forget_live_taxonomies,
    install_defaults,
)
from tests import commands
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import SECRET, Api, make_settings, serving

# Hypothesis: every example of a property must finish within half a second. The default
# 200 ms is too tight for a loaded 2-core machine and turned slow examples into flaky
# failures; no deadline at all would hide a property that became slow. A property that
# does more work per example says so with its own, larger ``deadline``.
hypothesis_settings.register_profile("duban", deadline=timedelta(milliseconds=500))
hypothesis_settings.load_profile("duban")

PG_URL = os.environ.get("DUBAN_TEST_DATABASE_URL", "").strip()
# The audit key signs the event chain; tests sign with this one rather than write
# var/audit.key into the checkout (tests of the key file set their own place).
os.environ.setdefault("DUBAN_AUDIT_KEY", "test:duban-test-audit-key-0123456789")
# Sealed credentials likewise open with the tests' signing key, not var/secret_key.
use_secret_source(lambda: SECRET)
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
    # The same goes for the live taxonomy, stamped by the taxonomy row.
    policy._cache.clear()
    forget_live_taxonomies()
    yield
    policy._cache.clear()
    forget_live_taxonomies()


@pytest.fixture
def clock() -> FixedClock:
    """Monday 2026-11-23 09:00 in Shanghai, a working day, until moved."""
    return FixedClock()


@pytest.fixture
def world(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock, tmp_path: Path
) -> World:
    """One user per role, units SZGC and HWC, and a photo store where :func:`app` keeps
    its photos."""
    return World(session, clock, session_factory, LocalPhotoStore(tmp_path / "photos"))


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Argon2id with test-sized cost: the production cost is slow on purpose.

    A hash records its own parameters, so verification works as in production; only
    the work factor of new hashes is lowered (the demo alone makes 13 of them).
    """
    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> CliRunner:
    """Runs ``duban`` commands (``cli.invoke(app, [...])``) on this test's database."""
    return commands.runner(db_url, tmp_path)


# --------------------------------------------------------------------------- the app


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings of this test's app: its database, photos under ``tmp_path / "photos"``."""
    return make_settings(db_url, tmp_path)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FixedClock) -> FastAPI:
    """The real application on this test's engine and clock."""
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, app: FastAPI, world: World, clock: FixedClock) -> Api:
    return Api(client, app, world, clock)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port; yields its base URL.

    The one server fixture: the browser tests, the Open311 conformance suite and the
    tests of requests that must really arrive together all use it.
    """
    with serving(app) as base:
        yield base


@pytest.fixture
def fresh_session(session_factory: sessionmaker[Session]) -> Callable[[], Session]:
    """New sessions that see what the app committed (the world's session caches)."""
    return session_factory
