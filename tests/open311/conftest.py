"""Fixtures of the Open311 conformance suite: the real app served by uvicorn on loopback.

Every test talks HTTP to the suite's ``live_server`` (127.0.0.1, a free port) backed by
this test's database (SQLite, or PostgreSQL when ``DUBAN_TEST_DATABASE_URL`` is set), with
the ``FixedClock`` of the test. Cases are put in place with the real use cases (``world``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from duban.open311.apikeys import create_api_key
from duban.open311.config import save_config
from tests.fakes import FixedClock

PREFIX = "/open311/v2"
#: The demo city (许昌, WGS84) — where the factories put cases.
LAT, LON = 34.03, 113.82


@pytest.fixture
def open311_url(live_server: str) -> str:
    """The Open311 endpoint of the live server (no trailing slash)."""
    return live_server + PREFIX


@pytest.fixture
def http(open311_url: str) -> Iterator[httpx.Client]:
    """Plain HTTP to the endpoint (relative URLs such as ``services.json``)."""
    with httpx.Client(base_url=open311_url + "/", timeout=30) as client:
        yield client


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
