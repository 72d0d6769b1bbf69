"""Hotspots and recurrence (回潮) on hand-counted cases.

Period 2026-10-15 to 2026-11-15 (Shanghai); every closed case closes 7 h after its report.

- G1 × E0102: A1 closed Oct 1 16:00; A2 reported Oct 20 09:00 (19 d after A1's close),
  closed Oct 20 16:00; A3 reported Nov 10 09:00 (21 d after A2's close), still open.
- G1 × E0101: B1 reported Oct 16 09:00, closed 16:00; B2 reported Nov 14 09:00 (28.7 d).
- G2 × E0102: C1 closed Oct 2 16:00; C2 reported Nov 5 09:00 (33.7 d after C1; 16 d after
  A2, but A2 is in another grid).

Counted by hand, with 30 days: G1×E0102 2 cases, 2 recurrences (rank 1); G1×E0101 2 cases,
1 recurrence (rank 2); G2 none. With 20 days: G1×E0102 1 recurrence (A2), alone. With 40:
also G2×E0102, 1 case, 1 recurrence (rank 3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely import Polygon

from duban.evaluation.hotspots import find_hotspots
from duban.kernel.errors import InvalidInput, PermissionDenied
from duban.places import Region
from tests.factories.history import lay_out, lifecycle
from tests.factories.world import World
from tests.fakes import local

OTHER = "E0101"
PERIOD = {"from": "2026-10-15", "to": "2026-11-15"}


def _at(month: int, day: int, hour: int = 9) -> datetime:
    return local(2026, month, day, hour)


@pytest.fixture
def town(world: World) -> World:
    """The cases above, and the names of G1 and G2 (specks far away, kept at community
    level so that intake's grid lookup does not see them: grid codes are set directly)."""
    session = world.session
    speck = Polygon([(0, 0), (0, 0.001), (0.001, 0.001)]).wkb
    for code, name in (("G1", "一号网格"), ("G2", "二号网格")):
        session.add(
            Region(
                code=code, level="community", name=name, parent_code=None, geometry=speck,
                min_lon=0.0, min_lat=0.0, max_lon=0.0, max_lat=0.0, area_m2=0.0,
                attributes={}, source="test", valid_from=local(2020, 1, 1),
            )
        )  # fmt: skip
    session.commit()
    rows = [
        *lifecycle("A1", _at(10, 1)),
        *lifecycle("A2", _at(10, 20)),
        *lifecycle("A3", _at(11, 10), closed=False),
        *lifecycle("B1", _at(10, 16), category=OTHER),
        *lifecycle("B2", _at(11, 14), closed=False, category=OTHER),
        *lifecycle("C1", _at(10, 2)),
        *lifecycle("C2", _at(11, 5), closed=False),
    ]
    grids = {"A1": "G1", "A2": "G1", "A3": "G1", "B1": "G1", "B2": "G1", "C1": "G2", "C2": "G2"}
    lay_out(session, rows, grids)
    return world


def _rows(world: World, **kw: Any) -> list[tuple[int, str, str, int, int]]:
    found = find_hotspots(
        world.session, actor=world.actor("leader"), start=PERIOD["from"], end=PERIOD["to"], **kw
    )
    return [(h.rank, h.grid_code, h.category_code, h.cases, h.recurrences) for h in found.rows]


def test_places_that_keep_coming_back_are_ranked(town: World) -> None:
    assert _rows(town) == [(1, "G1", "E0102", 2, 2), (2, "G1", OTHER, 2, 1)]


def test_the_window_is_a_parameter(town: World) -> None:
    assert _rows(town, days=20) == [(1, "G1", "E0102", 2, 1)]
    assert _rows(town, days=40) == [
        (1, "G1", "E0102", 2, 2),
        (2, "G1", OTHER, 2, 1),
        (3, "G2", "E0102", 1, 1),
    ]


def test_a_category_narrows_the_list(town: World) -> None:
    assert _rows(town, category=OTHER) == [(1, "G1", OTHER, 2, 1)]
    assert _rows(town, category="E01", days=40)[2] == (3, "G2", "E0102", 1, 1)


def test_rows_name_the_place_and_the_last_closing(town: World) -> None:
    found = find_hotspots(
        town.session, actor=town.actor("leader"), start=PERIOD["from"], end=PERIOD["to"]
    )
    top = found.rows[0]
    assert (top.grid_name, top.category_name) == ("一号网格", "暴露垃圾")
    assert top.last_closed_at == local(2026, 10, 20, 16)
    assert found.rows[1].last_closed_at == local(2026, 10, 16, 16)


def test_bad_input_is_refused(town: World) -> None:
    leader = town.actor("leader")
    with pytest.raises(InvalidInput) as err:
        find_hotspots(town.session, actor=leader, start="2026-10-01", end="2026-11-01", days="0")
    assert err.value.detail["field"] == "days"
    with pytest.raises(InvalidInput):
        find_hotspots(
            town.session, actor=leader, start="2026-10-01", end="2026-11-01", category="ZZ"
        )
    with pytest.raises(PermissionDenied):
        find_hotspots(
            town.session, actor=town.actor("citizen"), start="2026-10-01", end="2026-11-01"
        )


def test_the_api_lists_and_draws_hotspots(town: World, client: TestClient, api: Any) -> None:
    headers = api.headers("leader")
    page = client.get("/api/v1/evaluation/hotspots", params=PERIOD, headers=headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["days"] == 30
    assert body["rows"][0] == {
        "rank": 1,
        "place": "G1",
        "place_name": "一号网格",
        "category_code": "E0102",
        "category_name": "暴露垃圾",
        "cases": 2,
        "recurrences": 2,
        "last_closed_at": "2026-10-20T08:00:00Z",
    }
    layer = client.get("/api/v1/evaluation/hotspots.geojson", params=PERIOD, headers=headers)
    assert layer.status_code == 200
    assert layer.headers["content-type"].startswith("application/geo+json")
    features = layer.json()["features"]
    assert [f["properties"]["recurrences"] for f in features] == [2, 1]
    assert features[0]["geometry"]["type"] == "Point"
    bad = client.get("/api/v1/evaluation/hotspots", params={**PERIOD, "days": "x"}, headers=headers)
    assert bad.status_code == 422


def test_the_map_draws_the_layer_over_the_filters_dates(
    town: World, client: TestClient, app: Any
) -> None:
    from tests.web.test_server import sign_in

    sign_in(client, app, town, "dispatcher")
    layer = client.get("/map/hotspots.geojson")  # the last 90 days
    assert layer.status_code == 200, layer.text
    assert [f["properties"]["place"] for f in layer.json()["features"]] == ["G1", "G1"]
    narrow = client.get("/map/hotspots.geojson", params={**PERIOD, "category": OTHER})
    assert [f["properties"]["category_code"] for f in narrow.json()["features"]] == [OTHER]
    assert client.get("/map/hotspots.geojson", params={"days": "0"}).status_code == 422
    client.cookies.clear()
    assert client.get("/map/hotspots.geojson", follow_redirects=False).status_code == 303
