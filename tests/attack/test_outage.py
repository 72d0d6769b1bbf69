"""Outages (issue 12, item 8): a database that does not answer is a 503 with
Retry-After, never a 500; /healthz stays up, /readyz says so; it recovers by itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from duban.accounts.models import User
from duban.api.deps import issue_token
from duban.app import create_app
from duban.kernel.db.session import make_engine
from duban.kernel.outage import is_out_of_range, is_outage
from duban.kernel.roles import Role
from tests.fakes import FixedClock
from tests.http import SECRET, make_settings

pytestmark = pytest.mark.attack

#: Nothing listens on port 1: a connection is refused at once.
DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/duban?connect_timeout=2"


def _token(app: FastAPI, clock: FixedClock, role: Role = Role.ADMIN) -> dict[str, str]:
    user = User(id=1, username="someone", role=role, token_epoch=0)
    token = issue_token(app.state.secret_key, user, ttl=timedelta(hours=1), now=clock.now())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def down(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[TestClient, FastAPI]]:
    engine = make_engine(DOWN_URL)
    app = create_app(make_settings(DOWN_URL, tmp_path), engine=engine, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app
    engine.dispose()


def _is_503(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0


def test_an_unreachable_database_is_a_503_with_retry_after(
    down: tuple[TestClient, FastAPI], clock: FixedClock
) -> None:
    client, app = down
    assert client.get("/healthz").status_code == 200  # liveness: the process is up
    _is_503(client.get("/readyz"))
    headers = _token(app, clock)
    response = client.get("/api/v1/cases", headers=headers)
    _is_503(response)
    assert response.json()["error"]["code"] == "unavailable"
    zh = client.get("/api/v1/me", headers={**headers, "Accept-Language": "zh-CN,zh;q=0.9"})
    _is_503(zh)
    assert "数据库" in zh.json()["error"]["message"]
    body = {"source": "hotline", "category_code": "E0102", "lat": 34.03, "lon": 113.82}
    _is_503(client.post("/api/v1/cases", json={**body, "description": "x"}, headers=headers))
    _is_503(client.post("/api/v1/auth/token", data={"username": "a", "password": "b" * 8}))
    _is_503(client.get("/open311/v2/services.json"))


def test_the_service_recovers_by_itself(
    db_url: str, engine: Engine, tmp_path: Path, clock: FixedClock
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the outage is simulated on SQLite's connect")
    outage = {"on": False}

    @event.listens_for(engine, "do_connect")
    def _refuse(*_args: Any) -> None:
        if outage["on"]:
            raise sqlite3.OperationalError("unable to open database file")

    app = create_app(make_settings(db_url, tmp_path), engine=engine, clock=clock)
    assert app.state.secret_key == SECRET
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        outage["on"] = True
        engine.dispose()  # the database went away: pooled connections with it
        _is_503(client.get("/readyz"))
        _is_503(client.get("/open311/v2/services.json"))
        outage["on"] = False  # it is back: no restart, no intervention
        assert client.get("/readyz").status_code == 200
        assert client.get("/open311/v2/services.json").status_code == 200


def test_outage_and_out_of_range_errors_are_told_apart() -> None:
    from sqlalchemy.exc import DataError, OperationalError

    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert is_outage(refused)
    assert not is_out_of_range(refused)
    assert is_out_of_range(DataError("SELECT", {}, Exception("integer out of range")))
    wrapped = RuntimeError("while reading")
    wrapped.__cause__ = OverflowError("Python int too large to convert to SQLite INTEGER")
    assert is_out_of_range(wrapped)
    assert not is_outage(ValueError("a bug"))
