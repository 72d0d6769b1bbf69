"""Fixtures of the places tests: a small city with regions, grids, zones and units.

The city (WGS84, around 113.82E 34.03N, built in metres so the shapes are exact):

    district 411002 (2 km × 2 km)
    ├── street 411002001 (west half)      territorial unit JD001
    │   ├── community 411002001001 (north-west quarter)
    │   └── community 411002001002 (south-west quarter)
    └── street 411002002 (east half)      territorial unit JD002
        ├── community 411002002001 (north-east quarter)
        └── community 411002002002 (south-east quarter)

Each community is 1 km², cut into 100 unit grids of 100 m × 100 m.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.adapters.photostore import LocalPhotoStore
from duban.api.deps import issue_token
from duban.places.coords import LocalProjection
from duban.places.grids import generate_grids_for
from duban.places.index import forget_places_index
from duban.places.models import Region
from duban.places.region_import import import_region_items
from duban.places.regions import RegionInput
from duban.places.territory import set_territorial_unit
from duban.places.zones import save_zone
from duban.reference import policy as policy_module
from duban.reference.policy import load_policy, save_policy, shipped_policy_data
from tests.factories.accounts import make_unit
from tests.factories.world import World
from tests.fakes import FixedClock

CENTRE = (113.82, 34.03)
PROJECTION = LocalProjection(*CENTRE)
API = "/api/v1"

DISTRICT = "411002"
WEST, EAST = "411002001", "411002002"
NW, SW, NE, SE = "411002001001", "411002001002", "411002002001", "411002002002"


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Metres east/north of the city's centre → WGS84 (lon, lat)."""
    lon, lat = PROJECTION.inverse_xy(x, y)
    return float(lon), float(lat)


def rect(x0: float, y0: float, x1: float, y1: float) -> Any:
    """A rectangle given in metres, as a WGS84 polygon."""
    return shapely.Polygon([lonlat(x0, y0), lonlat(x1, y0), lonlat(x1, y1), lonlat(x0, y1)])


def region_count(factory: sessionmaker[Session], *, current: bool = False) -> int:
    """Region rows in the database (all versions, or only current ones)."""
    with factory() as other:
        stmt = select(func.count()).select_from(Region)
        if current:
            stmt = stmt.where(Region.valid_to.is_(None))
        return int(other.scalar(stmt) or 0)


class City(World):
    """A :class:`World` (one user per role, units SZGC and HWC) in a small mapped city."""

    def __init__(self, session: Session, clock: FixedClock, factory: sessionmaker[Session]) -> None:
        super().__init__(session, clock, factory)
        self.factory = factory
        self.territorial = {
            WEST: make_unit(session, "JD001", "西区街道办事处"),
            EAST: make_unit(session, "JD002", "东区街道办事处"),
        }
        for unit in self.territorial.values():
            unit.kind = "territorial"
        session.commit()

    def build(self, *, grids: bool = True, territorial: bool = True) -> City:
        now = self.clock.now()
        for level, items in (
            (
                "district",
                [RegionInput(DISTRICT, "魏都区", "411000", rect(-1000, -1000, 1000, 1000))],
            ),
            (
                "street",
                [
                    RegionInput(WEST, "西区街道", DISTRICT, rect(-1000, -1000, 0, 1000)),
                    RegionInput(EAST, "东区街道", DISTRICT, rect(0, -1000, 1000, 1000)),
                ],
            ),
            (
                "community",
                [
                    RegionInput(NW, "西北社区", WEST, rect(-1000, 0, 0, 1000)),
                    RegionInput(SW, "西南社区", WEST, rect(-1000, -1000, 0, 0)),
                    RegionInput(NE, "东北社区", EAST, rect(0, 0, 1000, 1000)),
                    RegionInput(SE, "东南社区", EAST, rect(0, -1000, 1000, 0)),
                ],
            ),
        ):
            report = import_region_items(self.session, items, level=level, now=now, source="test")
            assert report.written, report.problems
        if grids:
            generate_grids_for(self.session, now=now)
        if territorial:
            for street, unit in self.territorial.items():
                set_territorial_unit(self.session, street, unit.code)
            self.session.commit()
        return self

    def zone(self, kind: str, code: str, geometry: Any, **kw: Any) -> None:
        save_zone(
            self.session,
            kind=kind,
            code=code,
            name=kw.pop("name", code),
            geometry=geometry,
            now=self.clock.now(),
            policy=load_policy(self.session).places,
            **kw,
        )
        self.session.commit()

    def set_places_policy(self, **places: Any) -> None:
        data = shipped_policy_data()
        data["places"] = {**data.get("places", {}), **places}
        self.clock.advance(seconds=1)  # a new stamp, so every cache sees the change
        save_policy(self.session, data, now=self.clock.now())
        self.session.commit()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # PostgreSQL tests reuse one URL; the policy cache is keyed by (URL, stamp).
    policy_module._cache.clear()
    forget_places_index()
    yield
    policy_module._cache.clear()
    forget_places_index()


@pytest.fixture
def city(
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    tmp_path: Path,
) -> City:
    """The world with units and users, and no places yet (call ``city.build()``)."""
    c = City(session, clock, session_factory)
    c.store = LocalPhotoStore(tmp_path / "photos")
    return c


# --------------------------------------------------------------------------- the HTTP API


class Api:
    """Calls the API as the city's users (tokens minted with the app's own code)."""

    def __init__(self, client: TestClient, app: FastAPI, city: City) -> None:
        self.client = client
        self.app = app
        self.city = city

    def headers(self, username: str) -> dict[str, str]:
        user = self.city.users[username]
        token = issue_token(
            self.app.state.secret_key, user, ttl=timedelta(hours=1), now=self.city.clock.now()
        )
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, by: str = "operator", **params: Any) -> httpx.Response:
        return self.client.get(f"{API}{path}", headers=self.headers(by), params=params)

    def post(self, path: str, by: str = "operator", **kw: Any) -> httpx.Response:
        return self.client.post(f"{API}{path}", headers=self.headers(by), **kw)

    def report(self, by: str = "operator", **body: Any) -> httpx.Response:
        payload: dict[str, Any] = {
            "source": "hotline",
            "category_code": "E0102",
            "lat": CENTRE[1],
            "lon": CENTRE[0],
            "description": "小区门口暴露垃圾",
        }
        payload.update(body)
        return self.post("/cases", by, json=payload)

    def act(self, case_id: int, action: str, by: str, **body: Any) -> httpx.Response:
        return self.post(f"/cases/{case_id}/actions/{action}", by, json=body)


@pytest.fixture
def api(client: TestClient, app: FastAPI, city: City) -> Api:
    return Api(client, app, city)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The documented error body, after checking the status."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    return error
