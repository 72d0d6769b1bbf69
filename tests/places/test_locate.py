"""Locate: point → grid → community → street → district, in memory, refreshed on change."""

from __future__ import annotations

import shapely
from sqlalchemy import select

from duban.places.coords import from_wgs84
from duban.places.grids import generate_grids_for
from duban.places.index import locate, places_index
from duban.places.models import Region
from tests.places.conftest import (
    DISTRICT,
    EAST,
    NE,
    NW,
    SW,
    WEST,
    Api,
    City,
    error_of,
    lonlat,
    rect,
)


def test_a_point_is_located_down_to_its_grid_with_names(city: City) -> None:
    city.build()
    lon, lat = lonlat(-950, 950)  # the north-west corner cell of the north-west community
    found = locate(city.session, lon, lat)
    assert found.grid is not None
    assert found.grid.code == f"{NW}001"
    assert found.grid.name == "西北社区001号网格"
    assert (found.community.code, found.community.name) == (NW, "西北社区")  # type: ignore[union-attr]
    assert (found.street.code, found.street.name) == (WEST, "西区街道")  # type: ignore[union-attr]
    assert (found.district.code, found.district.name) == (DISTRICT, "魏都区")  # type: ignore[union-attr]
    east = locate(city.session, *lonlat(50, -50))
    assert east.grid is not None
    assert east.grid.code.startswith("411002002002")
    assert east.street.code == EAST  # type: ignore[union-attr]


def test_outside_every_region_nothing_is_found(city: City) -> None:
    city.build()
    found = locate(city.session, *lonlat(5000, 0))
    assert not found.found
    assert found.grid is None
    assert found.district is None


def test_without_grids_the_coarser_levels_answer(city: City) -> None:
    city.build(grids=False)
    found = locate(city.session, *lonlat(-500, -500))
    assert found.grid is None
    assert found.community.code == SW  # type: ignore[union-attr]
    assert found.district.code == DISTRICT  # type: ignore[union-attr]


def test_a_point_on_a_shared_corner_belongs_to_the_smallest_code(city: City) -> None:
    city.build()
    first = city.session.scalars(
        select(Region).where(Region.code == f"{NW}001", Region.valid_to.is_(None))
    ).one()
    # The south-east corner of grid 001 is shared by 001, 002, 011 and 012.
    coords = shapely.get_coordinates(shapely.from_wkb(first.geometry))
    corner = max(coords.tolist(), key=lambda c: (c[0], -c[1]))
    assert locate(city.session, corner[0], corner[1]).grid.code == f"{NW}001"  # type: ignore[union-attr]


def test_the_index_is_loaded_once_and_refreshed_when_grids_change(city: City) -> None:
    city.build(grids=False)
    before = places_index(city.session)
    assert places_index(city.session) is before  # cached: one settings read per call
    assert not before.has_grids
    point = lonlat(500, 500)
    assert locate(city.session, *point).grid is None
    generate_grids_for(city.session, now=city.clock.now(), community_codes=[NE])
    after = places_index(city.session)
    assert after is not before
    assert after.has_grids
    assert locate(city.session, *point).grid.code.startswith(NE)  # type: ignore[union-attr]


def test_zones_give_the_grid_leader_and_the_road_chief(city: City) -> None:
    city.build()
    city.zone(
        "leader_grid",
        "WG-W",
        rect(-1000, -1000, 0, 1000),
        name="西区网格",
        person_name="网格长 王建国",
        person_phone="13900000001",
        username="leader",
    )
    road = shapely.LineString([lonlat(-1000, 0), lonlat(1000, 0)])
    city.zone("road_segment", "LZ-1", road, name="人民路", person_name="路长 何丽")
    city.zone("shopfront", "MQ-1", rect(-100, 20, 100, 40), name="超市门前", person_name="店主")
    on_road = locate(city.session, *lonlat(-300, 10))
    assert on_road.grid_leader is not None
    assert on_road.grid_leader.person_name == "网格长 王建国"
    assert on_road.grid_leader.username == "leader"
    assert on_road.road_chief is not None
    assert on_road.road_chief.code == "LZ-1"
    assert [z.kind for z in on_road.zones] == ["leader_grid", "road_segment"]
    off_road = locate(city.session, *lonlat(-300, 100))  # 100 m from the line: beyond 30 m
    assert off_road.road_chief is None
    shop = locate(city.session, *lonlat(0, 30))
    assert shop.grid_leader is not None  # on the west edge? x=0 is shared; west wins
    assert [z.code for z in shop.zones][-1] == "MQ-1"


# --------------------------------------------------------------------------- the API


def test_locate_api_converts_gcj02_and_bd09(city: City, api: Api) -> None:
    city.build()
    wgs = lonlat(-950, 950)
    expected = f"{NW}001"
    for crs in ("wgs84", "gcj02", "bd09"):
        lon, lat = from_wgs84(*wgs, crs)
        response = api.get("/locate", lat=lat, lon=lon, crs=crs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["grid"] == {"level": "grid", "code": expected, "name": "西北社区001号网格"}
        assert body["community"]["code"] == NW
        assert body["street"]["name"] == "西区街道"
        assert body["district"]["code"] == DISTRICT
        assert abs(body["lon"] - wgs[0]) < 1e-8
        assert abs(body["lat"] - wgs[1]) < 1e-8
        assert body["input"]["crs"] == crs
    # GCJ-02 read as if it were WGS84 lands ~550 m away, in another grid and street.
    lon, lat = from_wgs84(*wgs, "gcj02")
    wrong = api.get("/locate", lat=lat, lon=lon).json()
    assert wrong["grid"]["code"] != expected
    assert wrong["street"]["code"] == WEST
    assert wrong["grid"]["code"].startswith(NW)


def test_locate_api_answers_404_outside_and_422_for_bad_input(city: City, api: Api) -> None:
    city.build()
    lon, lat = lonlat(5000, 5000)
    error = error_of(api.get("/locate", lat=lat, lon=lon), 404)
    assert "outside every grid, community, street and district" in error["message"]
    error = error_of(api.get("/locate", lat=lat, lon=lon, crs="mars"), 422)
    assert "unknown coordinate system 'mars'" in error["message"]  # the API's English
    error_of(api.get("/locate", lat=123, lon=lon), 422)
    assert api.client.get("/api/v1/locate", params={"lat": lat, "lon": lon}).status_code == 401


def test_locate_api_shows_the_grid_leader(city: City, api: Api) -> None:
    city.build()
    city.zone(
        "leader_grid",
        "WG-E",
        rect(0, -1000, 1000, 1000),
        name="东区网格",
        person_name="网格长 李秀英",
        person_phone="13900000002",
    )
    lon, lat = lonlat(500, 500)
    body = api.get("/locate", by="dispatcher", lat=lat, lon=lon).json()
    assert body["grid_leader"]["name"] == "网格长 李秀英"
    assert body["grid_leader"]["phone"] == "13900000002"
    assert body["road_chief"] is None
    citizen = api.get("/locate", by="citizen", lat=lat, lon=lon).json()  # staff only
    assert citizen["grid_leader"]["zone"] == "WG-E"
    assert (citizen["grid_leader"]["name"], citizen["grid_leader"]["phone"]) == ("", None)
    assert citizen["zones"][0]["person_phone"] is None
    assert body["zones"][0]["kind_label"] == "网格分包"


def test_locate_api_against_published_reference_points(city: City, api: Api) -> None:
    """Published GCJ-02/BD-09 pairs (eviltransform's table, coordtransform's README)."""
    from duban.places.region_import import import_region_items
    from duban.places.regions import RegionInput

    beijing_wgs = (116.377817, 39.911954)
    beijing_gcj = (116.38404722455657, 39.91334545536069)
    tiananmen_bd = (116.41036949371029, 39.92133699351021)  # = GCJ (116.404, 39.915)
    tiananmen_wgs_one_step = (116.39775550083061, 39.91359571849836)  # published, ~1 m off
    box = shapely.box(116.30, 39.85, 116.45, 39.95)
    report = import_region_items(
        city.session,
        [RegionInput("110101", "东城区", "110100", box)],
        level="district",
        now=city.clock.now(),
        source="test",
    )
    assert report.written
    body = api.get("/locate", lat=beijing_gcj[1], lon=beijing_gcj[0], crs="gcj02").json()
    assert body["district"]["code"] == "110101"
    assert abs(body["lon"] - beijing_wgs[0]) < 1e-6  # ~0.1 m: the published table's rounding
    assert abs(body["lat"] - beijing_wgs[1]) < 1e-6
    body = api.get("/locate", lat=tiananmen_bd[1], lon=tiananmen_bd[0], crs="bd09").json()
    assert abs(body["lon"] - tiananmen_wgs_one_step[0]) < 2e-5
    assert abs(body["lat"] - tiananmen_wgs_one_step[1]) < 2e-5
