"""Fixtures of the HTTP API tests: the real app on this test's database, a client, people.

Everything goes through the real application (routers, dependencies, use cases, the
database); nothing is mocked. The FastAPI app gets the test's engine and ``FixedClock``,
so deadlines and token lifetimes follow the clock the test moves.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.accounts.models import User
from duban.api.deps import issue_token
from duban.app import create_app
from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from duban.config import Settings
from tests.factories import PASSWORD, World
from tests.fakes import FixedClock

API = "/api/v1"
SECRET = "test-secret-of-at-least-32-characters"


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in through ``POST /api/v1/auth/token``; the headers to send as that user."""
    response = client.post(f"{API}/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def jpeg_bytes(
    size: tuple[int, int] = (64, 48),
    colour: tuple[int, int, int] = (200, 40, 40),
    exif: Image.Exif | None = None,
) -> bytes:
    """A small real JPEG."""
    buf = io.BytesIO()
    image = Image.new("RGB", size, colour)
    if exif is not None:
        image.save(buf, "JPEG", exif=exif)
    else:
        image.save(buf, "JPEG")
    return buf.getvalue()


def count_cases(engine: Engine) -> int:
    """Cases in the database, read on a fresh connection (no session cache)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Case)).scalar_one())


def make_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "photo_dir": tmp_path / "photos",
        "secret_key": SECRET,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FixedClock) -> FastAPI:
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(session: Session, clock: FixedClock, app: FastAPI) -> World:
    """One user per role and two units, with photos kept where the app keeps them."""
    w = World(session, clock)
    w.store = app.state.photo_store
    return w


class Api:
    """Calls the API as the world's users.

    Bearer tokens are minted with the app's own signing code and secret (one Argon2
    verification per sign-in would make the suite slow); the sign-in endpoint itself is
    tested in ``test_auth.py``. Tokens are issued at the app clock's current time.
    """

    def __init__(self, client: TestClient, app: FastAPI, world: World, clock: FixedClock):
        self.client = client
        self.app = app
        self.world = world
        self.clock = clock

    def headers(self, username: str) -> dict[str, str]:
        user = self.world.users[username]
        token = issue_token(
            self.app.state.secret_key, user, ttl=timedelta(hours=12), now=self.clock.now()
        )
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, by: str, **params: Any) -> httpx.Response:
        return self.client.get(f"{API}{path}", headers=self.headers(by), params=params)

    def case(self, case_id: int, by: str = "dispatcher") -> dict[str, Any]:
        response = self.get(f"/cases/{case_id}", by)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def create(
        self, by: str = "operator", *, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        payload: dict[str, Any] = {
            "source": "hotline",
            "category_code": "E0102",
            "lat": 34.03,
            "lon": 113.82,
            "description": "小区门口暴露垃圾",
        }
        payload.update(body)
        return self.client.post(
            f"{API}/cases", json=payload, headers={**self.headers(by), **(headers or {})}
        )

    def report(self, by: str = "operator", **body: Any) -> dict[str, Any]:
        response = self.create(by, **body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def act_raw(self, case_id: int, action: str, by: str, **body: Any) -> httpx.Response:
        return self.client.post(
            f"{API}/cases/{case_id}/actions/{action}", json=body, headers=self.headers(by)
        )

    def act(self, case_id: int, action: str, by: str, **body: Any) -> dict[str, Any]:
        response = self.act_raw(case_id, action, by, **body)
        assert response.status_code == 200, f"{action} by {by}: {response.text}"
        result: dict[str, Any] = response.json()
        return result

    def photo(self, by: str = "handler", data: bytes | None = None) -> str:
        response = self.client.post(
            f"{API}/photos",
            files={"file": ("fix.jpg", data or jpeg_bytes(), "image/jpeg")},
            headers=self.headers(by),
        )
        assert response.status_code == 201, response.text
        photo_id: str = response.json()["id"]
        return photo_id

    def given(self, status: str, **report_kw: Any) -> dict[str, Any]:
        """A case already in ``status`` (unit SZGC), made through the use cases directly.

        For tests about what happens *next*: quicker than a chain of requests. Tests of
        the path itself use the methods below, which go through the API.
        """
        if status == "patrol":
            return self.patrol()
        case = self.world.case_in(CaseStatus(status), **report_kw)
        return self.case(case.id)

    # Drive a case along the happy path through the API.
    def patrol(self, **body: Any) -> dict[str, Any]:
        """A collector's own patrol report (verified at once, visible to that collector)."""
        return self.report("collector", source="patrol", **body)

    def reported(self, **body: Any) -> dict[str, Any]:
        return self.report(**body)

    def verified(self, **body: Any) -> dict[str, Any]:
        case = self.report(**body)
        self.act(case["id"], "assign", "operator", collector="collector")
        return self.act(case["id"], "verify", "collector")

    def filed(self, **body: Any) -> dict[str, Any]:
        return self.act(self.verified(**body)["id"], "file", "shift_lead")

    def dispatched(self, unit: str = "SZGC", **body: Any) -> dict[str, Any]:
        return self.act(self.filed(**body)["id"], "dispatch", "dispatcher", unit=unit)

    def handling(self, **body: Any) -> dict[str, Any]:
        return self.act(self.dispatched(**body)["id"], "accept", "handler")

    def awaiting_check(self, **body: Any) -> dict[str, Any]:
        case = self.handling(**body)
        return self.act(case["id"], "feedback", "handler", photo_ids=[self.photo()])

    def checked(self, **body: Any) -> dict[str, Any]:
        case = self.awaiting_check(**body)
        self.act(case["id"], "assign", "operator", collector="collector")
        return self.act(case["id"], "check", "collector", passed=True)

    def closed(self, **body: Any) -> dict[str, Any]:
        return self.act(self.checked(**body)["id"], "close", "shift_lead")


@pytest.fixture
def api(client: TestClient, app: FastAPI, world: World, clock: FixedClock) -> Api:
    return Api(client, app, world, clock)


def last_event(case: dict[str, Any]) -> dict[str, Any]:
    events: list[dict[str, Any]] = case["events"]
    return events[-1]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a JSON error of the documented shape; returns its ``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn failed to start"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def fresh_session(session_factory: sessionmaker[Session]) -> Callable[[], Session]:
    """New sessions that see what the app committed (the world's session caches)."""
    return session_factory


def user_id(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(User.id).where(User.username == username)).scalar_one())
