"""Drawing a collector's beat (责任区): the admin API, ``duban user beat`` and the admin
users page — each resolves the unit grids the beat covers (what 漏报 joins on), and each
refuses a beat that is not one valid area inside the city with a catalogue message.

The city: three grids in a row, G1 | G2 | G3 (:data:`GRIDS`), around the demo point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping
from sqlalchemy import Engine, select

from duban.accounts import CollectorBeatGrid, create_user
from duban.accounts.models import User
from duban.kernel.errors import InvalidInput
from tests.commands import run
from tests.factories.places import LAT, LON, add_grids
from tests.factories.world import World
from tests.fakes import local
from tests.http import API, Api, signed_in

W = 0.002  # a grid's width in degrees
GRIDS = {f"G{n}": box(LON + (n - 2) * W, LAT - W, LON + (n - 1) * W, LAT + W) for n in (1, 2, 3)}
#: G1 and G2 (and a sliver of G3: not covered)
TWO_GRIDS = dict(mapping(box(LON - W, LAT - W, LON + W + W / 4, LAT + W)))
#: A bow tie: its boundary crosses itself.
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [
        [
            [LON - W, LAT - W],
            [LON + W, LAT + W],
            [LON + W, LAT - W],
            [LON - W, LAT + W],
            [LON - W, LAT - W],
        ]
    ],
}
#: Far from the city (Beijing).
OUTSIDE = dict(mapping(box(116.3, 39.9, 116.4, 40.0)))


@pytest.fixture
def city(world: World) -> World:
    add_grids(world.session, GRIDS, valid_from=local(2020, 1, 1))
    return world


def grids_of(world: World, username: str) -> list[str]:
    world.session.commit()  # end the read transaction: see what the others wrote
    uid = world.user(username).id
    return list(
        world.session.scalars(
            select(CollectorBeatGrid.grid_code)
            .where(CollectorBeatGrid.user_id == uid)
            .order_by(CollectorBeatGrid.grid_code)
        )
    )


def put_beat(api: Api, username: str, body: Any, by: str = "admin", **headers: str) -> Any:
    return api.client.put(
        f"{API}/admin/users/{username}/beat", headers={**api.headers(by), **headers}, json=body
    )


def test_the_api_draws_a_beat_as_a_geometry_or_a_feature(api: Api, city: World) -> None:
    drawn = put_beat(api, "collector2", TWO_GRIDS)
    assert drawn.status_code == 200, drawn.text
    assert (drawn.json()["grids"], drawn.json()["beat"]["type"]) == (2, "Polygon")
    assert grids_of(city, "collector2") == ["G1", "G2"]
    g3 = {"type": "Feature", "properties": {"name": "东段"}, "geometry": mapping(GRIDS["G3"])}
    moved = put_beat(api, "collector2", g3)
    assert moved.status_code == 200, moved.text
    assert moved.json()["grids"] == 1
    assert grids_of(city, "collector2") == ["G3"]
    cleared = api.client.delete(f"{API}/admin/users/collector2/beat", headers=api.headers("admin"))
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["grids"], cleared.json()["beat"]) == (0, None)
    assert grids_of(city, "collector2") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "Point", "coordinates": [LON, LAT]}, "a Polygon or MultiPolygon, not Point"),
        (BOW_TIE, "boundary crosses itself"),
        (OUTSIDE, "outside the city"),
        ({"type": "Polygon", "coordinates": "nonsense"}, "not a GeoJSON geometry"),
        ({"type": "Feature", "geometry": None}, "not a GeoJSON geometry or Feature"),
        ({"type": "FeatureCollection", "features": []}, "the beat as one area"),
        ([1, 2, 3], None),  # not an object: the request's shape is refused
    ],
)
def test_the_api_refuses_a_beat_that_is_not_one_area_in_the_city(
    api: Api, city: World, body: Any, message: str | None
) -> None:
    refused = put_beat(api, "collector2", body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    if message is not None:
        assert message in error["message"]
    assert grids_of(city, "collector2") == []


def test_the_api_refuses_others_and_non_collectors(api: Api, city: World) -> None:
    assert put_beat(api, "collector2", TWO_GRIDS, by="dispatcher").status_code == 403
    assert put_beat(api, "nobody", TWO_GRIDS).status_code == 404
    operator = put_beat(api, "operator", TWO_GRIDS)
    assert operator.status_code == 422
    assert "only a collector has a beat" in operator.json()["error"]["message"]
    chinese = put_beat(api, "collector2", BOW_TIE, **{"Accept-Language": "zh-CN"})
    assert chinese.status_code == 422
    assert chinese.json()["error"]["message"] == "责任区边界自相交"


def test_malformed_json_is_a_4xx(api: Api, city: World) -> None:
    broken = api.client.put(
        f"{API}/admin/users/collector2/beat",
        headers={**api.headers("admin"), "Content-Type": "application/json"},
        content=b'{"type": "Polygon",',
    )
    assert broken.status_code == 422, broken.text
    assert broken.json()["error"]["message"]


def new_user(city: World, username: str, role: str, beat: Any) -> User:
    return create_user(
        city.session,
        clock=city.clock,
        username=username,
        password="long-enough-pw",
        role=role,
        beat=beat,
    )


@pytest.mark.parametrize(
    ("username", "role", "beat", "message"),
    [
        ("far", "collector", OUTSIDE, "outside the city"),
        ("op2", "operator", TWO_GRIDS, "only a collector"),
    ],
)
def test_create_user_checks_its_beat_the_same_way(
    city: World, username: str, role: str, beat: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        new_user(city, username, role, beat)


def test_create_user_keeps_the_geometry_of_a_feature(city: World) -> None:
    made = new_user(
        city, "near", "collector", {"type": "Feature", "properties": {}, "geometry": TWO_GRIDS}
    )
    assert made.beat == TWO_GRIDS  # the geometry is kept, not the Feature around it
    assert city.session.scalars(
        select(CollectorBeatGrid.grid_code).where(CollectorBeatGrid.user_id == made.id)
    ).all() == ["G1", "G2"]


def test_the_command_draws_and_clears_a_beat(
    city: World, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    geojson = tmp_path / "beat.geojson"
    feature = {"type": "Feature", "properties": {}, "geometry": TWO_GRIDS}
    collection = {"type": "FeatureCollection", "features": [feature]}
    geojson.write_text(json.dumps(collection), encoding="utf-8")
    drawn = run(db_url, tmp_path, "user", "beat", "collector2", str(geojson))
    assert drawn.exit_code == 0, drawn.output
    assert "drew the beat of 'collector2': 2 unit grids" in drawn.output
    assert grids_of(city, "collector2") == ["G1", "G2"]
    cleared = run(db_url, tmp_path, "user", "beat", "collector2", "--clear")
    assert cleared.exit_code == 0, cleared.output
    assert grids_of(city, "collector2") == []


@pytest.mark.parametrize(
    ("file", "content", "code", "message"),
    [
        ("bad.geojson", json.dumps(OUTSIDE), 2, "outside the city"),
        ("bad.geojson", "{not json", None, "not GeoJSON"),
        (None, None, 2, "--clear"),  # neither a file nor --clear
        ("none.json", None, 2, "cannot read"),  # a file that is not there
    ],
    ids=["outside", "not_json", "neither", "missing"],
)
def test_the_command_refuses_a_beat_it_cannot_draw(
    city: World,
    db_url: str,
    tmp_path: Path,
    file: str | None,
    content: str | None,
    code: int | None,
    message: str,
) -> None:
    args = []
    if file is not None:
        if content is not None:
            (tmp_path / file).write_text(content, encoding="utf-8")
        args.append(str(tmp_path / file))
    refused = run(db_url, tmp_path, "user", "beat", "collector2", *args)
    if code is not None:
        assert refused.exit_code == code, refused.output
    assert message in refused.output
    assert grids_of(city, "collector2") == []


def test_the_admin_page_shows_and_uploads_a_beat(city: World, app: FastAPI) -> None:
    now = int(city.clock.now().timestamp())
    admin = city.session.scalars(select(User).where(User.username == "admin")).one()
    with TestClient(app, base_url="http://testserver") as client:
        token = signed_in(client, app, admin, now)
        page = client.get("/admin/users")
        assert page.status_code == 200
        assert 'action="/admin/users/collector2/beat"' in page.text
        assert 'action="/admin/users/operator/beat"' not in page.text  # collectors only
        uploaded = client.post(
            "/admin/users/collector2/beat",
            data={"csrf_token": token},
            files={"beat": ("beat.geojson", json.dumps(TWO_GRIDS), "application/geo+json")},
            follow_redirects=False,
        )
        assert uploaded.status_code == 303, uploaded.text
        assert grids_of(city, "collector2") == ["G1", "G2"]
        assert "2 个单元网格" in client.get("/admin/users").text
        refused = client.post(
            "/admin/users/collector2/beat",
            data={"csrf_token": token},
            files={"beat": ("beat.geojson", json.dumps(BOW_TIE), "application/geo+json")},
        )
        assert refused.status_code == 422
        assert "责任区边界自相交" in refused.text
        assert grids_of(city, "collector2") == ["G1", "G2"]  # the old beat stays
        cleared = client.post(
            "/admin/users/collector2/beat",
            data={"csrf_token": token, "clear": "1"},
            follow_redirects=False,
        )
        assert cleared.status_code == 303, cleared.text
    assert grids_of(city, "collector2") == []
