"""HTTP helpers of the API tests: sign-in, an API client acting as the world's users, and
the checks of the documented error shape.

The fixtures that build on them (``settings``, ``app``, ``client``, ``api``,
``live_server``) are in ``tests/conftest.py``. Everything goes through the real
application (routers, dependencies, use cases, the database); nothing is mocked. The
FastAPI app gets the test's engine and ``FixedClock``, so deadlines and token lifetimes
follow the clock the test moves.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from duban.accounts.models import User
from duban.api.deps import issue_token
from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from duban.config import Settings
from duban.web import sessions
from tests.factories.accounts import PASSWORD
from tests.factories.evidence import jpeg
from tests.factories.world import World
from tests.fakes import FixedClock

API = "/api/v1"
SECRET = "test-secret-of-at-least-32-characters"


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in through ``POST /api/v1/auth/token``; the headers to send as that user."""
    response = client.post(f"{API}/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


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
        self._fresh = 0

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
        """Upload ``data`` (by default a JPEG of a colour no earlier default had: the photo
        checks rightly find one file sent as the fix of two cases); its id."""
        if data is None:
            self._fresh += 1
            n = self._fresh
            data = jpeg((255 - 8 * (n % 32), 4 + 8 * (n // 32 % 32), 4 + 8 * (n // 1024 % 32)))
        response = self.client.post(
            f"{API}/photos",
            files={"file": ("fix.jpg", data, "image/jpeg")},
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
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by a real uvicorn in a thread on a free loopback port; its base URL."""
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def user_id(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(User.id).where(User.username == username)).scalar_one())


def signed_in(client: TestClient, app: FastAPI, user: User, now: int) -> str:
    """Give ``client`` a web session signed in as ``user`` (``now``: epoch seconds);
    returns its CSRF token."""
    session = sessions.WebSession.fresh(now=now).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))
    return session.csrf
