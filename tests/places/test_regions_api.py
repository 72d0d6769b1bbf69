"""The map's API: regions and zones as GeoJSON, history, and the admin import."""

from __future__ import annotations

import json
from pathlib import Path

import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient

from duban.places.coords import from_wgs84
from duban.web import sessions
from tests.places.conftest import (
    DISTRICT,
    EAST,
    NE,
    NW,
    WEST,
    Api,
    City,
    error_of,
    lonlat,
    rect,
    region_count,
)


def test_regions_by_level_and_parent(city: City, api: Api) -> None:
    city.build()
    response = api.get("/regions", "citizen", level="street")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in body["features"]] == [WEST, EAST]
    west = body["features"][0]
    assert west["id"] == WEST
    assert west["properties"]["name"] == "西区街道"
    assert west["properties"]["parent_code"] == DISTRICT
    assert west["properties"]["level_label"] == "街道"
    shape = shapely.geometry.shape(west["geometry"])
    assert shapely.hausdorff_distance(shape, rect(-1000, -1000, 0, 1000)) < 1e-7  # ~1 cm
    grids = api.get("/regions", level="grid", parent=NE).json()["features"]
    assert len(grids) == 100
    assert {g["properties"]["parent_code"] for g in grids} == {NE}


def test_regions_in_a_box_and_in_gcj02(city: City, api: Api) -> None:
    city.build()
    lo, hi = lonlat(-990, 910), lonlat(-910, 990)
    bbox = f"{lo[0]},{lo[1]},{hi[0]},{hi[1]}"
    inside = api.get("/regions", level="grid", bbox=bbox).json()["features"]
    assert [f["properties"]["code"] for f in inside] == [f"{NW}001"]
    wgs = api.get("/regions", level="district").json()["features"][0]["geometry"]
    gcj = api.get("/regions", level="district", crs="gcj02").json()
    corner = shapely.geometry.shape(wgs).exterior.coords[0]
    expected = from_wgs84(corner[0], corner[1], "gcj02")
    got = shapely.geometry.shape(gcj["features"][0]["geometry"]).exterior.coords[0]
    assert abs(got[0] - expected[0]) < 1e-6
    assert abs(got[1] - expected[1]) < 1e-6
    assert gcj["crs_name"] == "gcj02"
    error_of(api.get("/regions", bbox="1,2,3"), 422)
    error_of(api.get("/regions", level="planet"), 422)


def test_a_regions_history_lists_its_versions(city: City, api: Api) -> None:
    city.build()
    from duban.places.grids import generate_grids_for

    generate_grids_for(
        city.session, now=city.clock.advance(days=1), community_codes=[NE], target_area_m2=40_000
    )
    history = api.get(f"/regions/{NE}001/history").json()
    assert len(history) == 2
    assert history[0]["valid_to"] == history[1]["valid_from"]
    error_of(api.get("/regions/999/history"), 404)


def test_zones_as_geojson(city: City, api: Api) -> None:
    city.build()
    road = shapely.LineString([lonlat(-1000, 0), lonlat(1000, 0)])
    city.zone("road_segment", "LZ-1", road, name="人民路", person_name="路长 何丽")
    city.zone("leader_grid", "WG-1", rect(-1000, -1000, 0, 1000), person_name="网格长")
    body = api.get("/zones", kind="road_segment").json()
    assert [f["properties"]["code"] for f in body["features"]] == ["LZ-1"]
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "LineString"  # as drawn, not the buffer
    assert feature["properties"]["buffer_m"] == 30
    assert feature["properties"]["person_name"] == "路长 何丽"
    assert len(api.get("/zones").json()["features"]) == 2
    error_of(api.get("/zones", kind="lake"), 422)


def test_admins_import_a_file_over_the_api(city: City, api: Api, tmp_path: Path) -> None:
    city.build(grids=False)
    good = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"gid": f"{NW}001", "gname": "一号"},
                "geometry": json.loads(shapely.to_geojson(rect(-1000, 0, 0, 1000))),
            },
        ],
    }
    form = {"level": "grid", "code_field": "gid", "name_field": "gname"}
    files = {"file": ("grids.geojson", json.dumps(good).encode(), "application/geo+json")}
    error_of(api.post("/regions/import", "dispatcher", data=form, files=files), 403)
    response = api.post("/regions/import", "admin", data=form, files=files)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    assert response.json()["source"] == "grids.geojson"
    # A bad file (a grid sticking out of its community): 422 with the problems, nothing written.
    bad = json.loads(json.dumps(good))
    bad["features"][0]["properties"]["gid"] = f"{NE}001"
    bad["features"][0]["geometry"] = json.loads(shapely.to_geojson(rect(0, 0, 1000, 1200)))
    before = region_count(city.factory)
    files = {"file": ("bad.geojson", json.dumps(bad).encode(), "application/geo+json")}
    error = error_of(api.post("/regions/import", "admin", data=form, files=files), 422)
    assert error["code"] == "import_refused"
    assert [p["kind"] for p in error["detail"]["problems"]] == ["outside_parent"]
    (problem,) = error["detail"]["problems"]
    assert problem["code"] == f"{NE}001"
    assert problem["detail"]["parent_code"] == NE
    assert "reaches" in problem["message"]
    assert "outside its community" in problem["message"]
    assert region_count(city.factory) == before
    # The same problem for a caller who reads Chinese.
    headers = {**api.headers("admin"), "Accept-Language": "zh-CN,zh;q=0.9"}
    answer = api.client.post("/api/v1/regions/import", headers=headers, data=form, files=files)
    (problem,) = error_of(answer, 422)["detail"]["problems"]
    assert problem["kind"] == "outside_parent"
    assert f"单元网格“一号”（{NE}001）" in problem["message"]
    assert f"超出所属社区 {NE}" in problem["message"]


def _page_client(app: FastAPI, city: City, lang: str) -> tuple[TestClient, str]:
    """A browserless client signed in to the pages as the admin, reading ``lang``."""
    client = TestClient(app, base_url="http://testserver")
    user = city.users["admin"]
    now = int(city.clock.now().timestamp())
    session = sessions.WebSession.fresh(lang=lang, now=now).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))
    return client, session.csrf


def test_the_import_page_shows_a_bad_files_problems_in_the_readers_language(
    city: City, app: FastAPI, tmp_path: Path
) -> None:
    city.build(grids=False)
    square = rect(-1000, 0, 0, 1000)
    features = [
        {
            "type": "Feature",
            "properties": {"gid": f"{NW}001", "gname": name},
            "geometry": json.loads(shapely.to_geojson(square)),
        }
        for name in ("一号", "二号")
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    before = region_count(city.factory)
    pages = {}
    for lang in ("zh", "en"):
        client, csrf = _page_client(app, city, lang)
        with client:
            answer = client.post(
                "/admin/regions",
                data={
                    "csrf_token": csrf,
                    "level": "grid",
                    "code_field": "gid",
                    "name_field": "gname",
                },
                files={"file": ("grids.geojson", data.encode(), "application/geo+json")},
            )
        assert answer.status_code == 422, answer.text
        pages[lang] = answer.text
    assert region_count(city.factory) == before
    chinese, english = pages["zh"], pages["en"]
    # The kind as a label, the problem as a sentence, the level by its name.
    assert 'data-problem="duplicate_code"' in chinese
    assert "<td>编码重复</td>" in chinese
    assert "<td>区域重叠</td>" in chinese
    assert f"单元网格编码 {NW}001 被使用了 2 次（一号、二号）" in chinese
    assert "每个区域须有自己的编码" in chinese
    assert "已拒收：grids.geojson 的 2 个单元网格要素中有 2 处问题" in chinese
    assert "<td>duplicate_code</td>" not in chinese
    for word in ("is used", "overlap by", "unit grid", "duplicate code"):
        assert word not in chinese, word
    assert "<td>duplicate code</td>" in english
    assert "<td>overlap</td>" in english
    assert f"unit grid code {NW}001 is used 2 times" in english
    assert "refused: 2 problem(s) in 2 unit grid feature(s) of grids.geojson" in english
    assert "Yihao (" in english
    assert ") overlap by 1000000" in english
    assert "编码重复" not in english
    assert "单元网格" not in english


def test_admins_generate_grids_over_the_api(city: City, api: Api) -> None:
    city.build(grids=False)
    response = api.post("/grids/generate", "admin", json={"communities": [NE]})
    assert response.status_code == 200, response.text
    assert response.json()["grids"] == 100
    error_of(api.post("/grids/generate", "operator", json={}), 403)
