"""Fixtures of the Open311 conformance suite: the real app served by uvicorn on loopback.

Every test talks HTTP to a live server on 127.0.0.1 (a free port) backed by this test's
database (SQLite, or PostgreSQL when ``DUBAN_TEST_DATABASE_URL`` is set), with the
``FixedClock`` of the test. Cases are put in place with the real use cases (``World``).
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from duban.app import create_app
from duban.config import Settings
from duban.kernel.db.base import Base
from duban.kernel.db.session import make_engine
from duban.open311.apikeys import create_api_key
from duban.open311.config import save_config
from tests.conftest import PG_URL, _reset_pg
from tests.factories import World
from tests.fakes import FixedClock

PREFIX = "/open311/v2"
#: The demo city (许昌, WGS84) — where the factories put cases.
LAT, LON = 34.03, 113.82


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def jpeg(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG")
    return buf.getvalue()


#: Reference data every test starts from (loaded by tests/conftest.py at this time).
_DEFAULTS_AT = datetime(2026, 1, 1, tzinfo=UTC)
_REFERENCE = ("categories", "filing_conditions", "settings")


def _fast_reset_pg(engine: Engine) -> None:
    """Empty the tables a test fills, keeping the reference data when it is untouched.

    The suite-wide reset (TRUNCATE of every table, then the reference data loaded again)
    costs about a second per test on PostgreSQL; deleting the few rows a test wrote costs
    milliseconds. When a test changed the reference data (a new taxonomy, a policy), the
    full reset runs.
    """
    with engine.begin() as conn:
        stamps = dict(
            conn.execute(
                text("SELECT key, updated_at FROM settings WHERE key IN ('taxonomy', 'policy')")
            ).all()
        )
        pristine = len(stamps) == 2 and all(
            stamp is not None and stamp == _DEFAULTS_AT for stamp in stamps.values()
        )
        if pristine:
            # case_events is append-only: empty it as tests/conftest.py does.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in _REFERENCE:
                    conn.execute(table.delete())
            conn.execute(text("DELETE FROM settings WHERE key NOT IN ('taxonomy', 'policy')"))
    if not pristine:
        _reset_pg(engine)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """This test's database (see :func:`_fast_reset_pg` for PostgreSQL)."""
    engine = make_engine(db_url)
    if PG_URL:
        _fast_reset_pg(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def app(db_url: str, engine: Engine, clock: FixedClock, tmp_path: Path) -> FastAPI:
    settings = Settings(database_url=db_url, photo_dir=tmp_path / "photos", secret_key="s" * 48)
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app on a real uvicorn at 127.0.0.1:<free port>; yields the Open311 endpoint."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert thread.is_alive(), "uvicorn failed to start"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{config.port}{PREFIX}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    """Plain HTTP to the endpoint (relative URLs such as ``services.json``)."""
    with httpx.Client(base_url=server + "/", timeout=30) as client:
        yield client


@pytest.fixture
def world(session: Session, clock: FixedClock, app: FastAPI) -> World:
    w = World(session, clock)
    w.store = app.state.photo_store
    return w


@pytest.fixture
def api_key(session: Session, clock: FixedClock) -> str:
    """A key issued to a client named ``fixmystreet``."""
    return create_api_key(session, name="fixmystreet", clock=clock).key


def configure(session: Session, clock: FixedClock, **data: Any) -> None:
    """Set the Open311 configuration (bumps the discovery changeset)."""
    save_config(session, data, now=clock.now())


def post(http: httpx.Client, fmt: str, data: Any, **kw: Any) -> httpx.Response:
    return http.post(f"requests.{fmt}", data=data, **kw)


def new_request(http: httpx.Client, api_key: str, **fields: Any) -> str:
    """POST a valid request; the new service_request_id."""
    data: dict[str, Any] = {
        "api_key": api_key,
        "service_code": "E0102",
        "lat": str(LAT),
        "long": str(LON),
        "description": "小区门口暴露垃圾",
    }
    data.update(fields)
    response = http.post("requests.json", data=data)
    assert response.status_code == 200, response.text
    sid: str = response.json()[0]["service_request_id"]
    return sid
