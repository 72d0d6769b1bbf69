"""Staff scoped to a territory (issue 15 item 1): staff of a district or street see and act
on the cases of their territory only, city staff on all — through the one visibility
filter, on the API, the web pages, the map and the dashboard. Forbidden paths answer 404
and leak nothing, as for other units' cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.accounts.directory import update_user
from duban.accounts.models import User
from duban.accounts.users import actor_of, create_user
from duban.cases.dashboard import dashboard
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from tests.commands import run
from tests.factories.accounts import make_user
from tests.http import signed_in
from tests.places.conftest import DISTRICT, EAST, NW, WEST, Api, City, error_of, lonlat

#: Staff of a territory: username → (role, region code).
TERRITORY_STAFF = {
    "west_dispatcher": (Role.DISPATCHER, WEST),
    "west_shift_lead": (Role.SHIFT_LEAD, WEST),
    "east_dispatcher": (Role.DISPATCHER, EAST),
    "district_leader": (Role.LEADER, DISTRICT),
}


def staffed(city: City) -> City:
    """The built city with staff of its streets and its district."""
    city.build()
    for name, (role, region) in TERRITORY_STAFF.items():
        user = make_user(city.session, name, role, clock=city.clock)
        user.region_code = region
        city.users[name] = user
    city.session.commit()
    return city


def report_in(api: Api, x: float, description: str) -> dict[str, Any]:
    """A hotline report at ``x`` metres east of the centre (west < 0 < east)."""
    lon, lat = lonlat(x, 500)
    response = api.report(lat=lat, lon=lon, description=description)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def two_streets(city: City, api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case in the west street and one in the east street."""
    staffed(city)
    west = report_in(api, -500, "西区：人行道破损")
    east = report_in(api, 500, "东区：垃圾满溢")
    assert (west["street_code"], east["street_code"]) == (WEST, EAST)
    return west, east


def codes(api: Api, by: str) -> set[str]:
    response = api.get("/cases", by)
    assert response.status_code == 200, response.text
    return {item["code"] for item in response.json()["items"]}


def test_street_staff_list_only_their_streets_cases(
    api: Api, two_streets: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    west, east = two_streets
    assert codes(api, "west_dispatcher") == {west["code"]}
    assert codes(api, "east_dispatcher") == {east["code"]}
    # The district's staff see both of its streets; city staff see everything.
    assert codes(api, "district_leader") == {west["code"], east["code"]}
    assert codes(api, "dispatcher") == {west["code"], east["code"]}


def test_another_streets_case_is_not_found_and_leaks_nothing(
    api: Api, two_streets: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    west, east = two_streets
    response = api.get(f"/cases/{east['id']}", "west_dispatcher")
    error = error_of(response, 404)
    assert error["code"] == "not_found"
    assert east["code"] not in response.text
    assert east["description"] not in response.text
    # The same answer as a case that does not exist.
    assert error_of(api.get("/cases/99999", "west_dispatcher"), 404)["code"] == "not_found"
    assert api.get(f"/cases/{west['id']}", "west_dispatcher").status_code == 200


def test_staff_cannot_act_on_another_streets_case(
    api: Api, two_streets: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    west, east = two_streets
    for action, body in (
        ("supervise", {"note": "请尽快处置"}),
        ("reject", {"reason": "不属实"}),
        ("assign", {"collector": "collector"}),
    ):
        by = "west_dispatcher" if action == "supervise" else "west_shift_lead"
        response = api.act(east["id"], action, by, **body)
        assert error_of(response, 404)["code"] == "not_found", action
        assert east["description"] not in response.text
    after = api.get(f"/cases/{east['id']}", "dispatcher").json()
    assert after["version"] == east["version"]
    assert after["is_supervised"] is False
    # In its own street the same staff act as usual.
    done = api.act(west["id"], "supervise", "west_dispatcher", note="请尽快处置")
    assert done.status_code == 200, done.text
    assert done.json()["is_supervised"] is True


def test_a_streets_handler_sees_only_its_units_cases_in_its_street(
    city: City, api: Api, two_streets: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    west, east = two_streets
    for case in (west, east):
        city.act(case["id"], "assign", "operator", collector="collector")
        city.act(case["id"], "verify", "collector")
        city.act(case["id"], "file", "shift_lead")
        city.act(case["id"], "dispatch", "dispatcher", unit="SZGC", reason="测试")
    assert codes(api, "handler") == {west["code"], east["code"]}
    handler = city.users["handler"]
    handler.region_code = EAST
    city.session.commit()
    assert codes(api, "handler") == {east["code"]}
    assert error_of(api.act(west["id"], "accept", "handler"), 404)["code"] == "not_found"


def test_the_dashboard_counts_only_the_territorys_cases(
    city: City, two_streets: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    now, shanghai = city.clock.now(), ZoneInfo("Asia/Shanghai")
    city_wide = dashboard(city.session, now=now, tz=shanghai)
    west = dashboard(city.session, now=now, tz=shanghai, actor=city.actor("west_dispatcher"))
    district = dashboard(city.session, now=now, tz=shanghai, actor=city.actor("district_leader"))
    assert (city_wide.open, city_wide.intake_total) == (2, 2)
    assert (west.open, west.intake_total) == (1, 1)
    assert (district.open, district.intake_total) == (2, 2)
    assert sum(day.reported for day in west.trend) == 1
    assert [(d.code, d.open) for d in west.districts] == [(DISTRICT, 1)]


def test_web_pages_map_and_dashboard_show_only_the_territory(
    city: City, app: FastAPI, two_streets: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    west, east = two_streets
    now = int(city.clock.now().timestamp())
    with TestClient(app, base_url="http://testserver") as client:
        signed_in(client, app, city.users["west_dispatcher"], now)
        listing = client.get("/cases")
        assert listing.status_code == 200
        assert west["code"] in listing.text
        assert east["code"] not in listing.text
        page = client.get(f"/cases/{east['id']}")
        assert page.status_code == 404
        assert east["description"] not in page.text
        assert client.get(f"/cases/{west['id']}").status_code == 200
        points = client.get("/map/data.json", params={"zoom": 18}).json()
        assert (points["total"], [p[0] for p in points["points"]]) == (1, [west["id"]])
        board = client.get("/dashboard")
        assert board.status_code == 200
        assert 'data-figure="open"><span class="big">1<' in board.text


# --------------------------------------------------------------------------- scope is data


@pytest.mark.usefixtures("fast_hashing")
def test_a_user_is_created_with_a_district_or_street_and_nothing_else(city: City) -> None:
    city.build()
    user = create_user(
        city.session,
        clock=city.clock,
        username="wei_dispatch",
        password="long-enough-pw",
        role="dispatcher",
        region_code=DISTRICT,
    )
    assert actor_of(user).region_code == DISTRICT
    refused = [
        ("community", "dispatcher", NW, "unknown territory"),
        ("nowhere", "dispatcher", "999999", "unknown territory"),
        ("a_citizen", "citizen", WEST, "a citizen does not belong to a territory"),
    ]
    for username, role, region, message in refused:
        with pytest.raises(InvalidInput, match=message) as caught:
            create_user(
                city.session,
                clock=city.clock,
                username=username,
                password="long-enough-pw",
                role=role,
                region_code=region,
            )
        assert caught.value.detail["field"] == "region"
    assert city.session.scalars(select(User).where(User.username == "a_citizen")).first() is None


def test_the_admin_moves_a_user_to_a_street_and_back_to_the_city(city: City) -> None:
    staffed(city)
    admin = city.actor("admin")
    update_user(city.session, actor=admin, username="dispatcher", region_code=EAST)
    assert city.users["dispatcher"].region_code == EAST
    update_user(city.session, actor=admin, username="dispatcher", role="dispatcher")
    assert city.users["dispatcher"].region_code == EAST  # a role change keeps the territory
    update_user(city.session, actor=admin, username="dispatcher", region_code="")
    assert city.users["dispatcher"].region_code is None
    with pytest.raises(InvalidInput, match="unknown territory"):
        update_user(city.session, actor=admin, username="dispatcher", region_code=NW)


def test_the_admin_page_sets_a_users_territory(city: City, app: FastAPI) -> None:
    staffed(city)
    now = int(city.clock.now().timestamp())
    with TestClient(app, base_url="http://testserver") as client:
        token = signed_in(client, app, city.users["admin"], now)
        page = client.get("/admin/users")
        assert page.status_code == 200
        assert "西区街道" in page.text
        assert 'name="region"' in page.text
        moved = client.post(
            "/admin/users/operator",
            data={"csrf_token": token, "role": "operator", "unit": "", "region": WEST},
            follow_redirects=False,
        )
        assert moved.status_code == 303, moved.text
        refused = client.post(
            "/admin/users/operator",
            data={"csrf_token": token, "role": "operator", "unit": "", "region": NW},
        )
        assert refused.status_code == 422
        assert "请从列表中选择区或街道" in refused.text
    city.session.expire_all()
    assert city.users["operator"].region_code == WEST


@pytest.mark.usefixtures("fast_hashing")
def test_user_create_takes_a_region(city: City, db_url: str, tmp_path: Path) -> None:
    city.build()
    env = {"DUBAN_NEW_PASSWORD": "long-enough-pw"}
    args = ("user", "create", "xi_dispatch", "--role", "dispatcher", "--region", WEST)
    done = run(db_url, tmp_path, *args, **env)
    assert done.exit_code == 0, done.output
    assert f"territory {WEST}" in done.output
    bad = run(
        db_url, tmp_path, "user", "create", "bad", "--role", "dispatcher", "--region", NW, **env
    )
    assert bad.exit_code != 0
    assert "unknown territory" in bad.output
    city.session.expire_all()
    made = city.session.scalars(select(User).where(User.username == "xi_dispatch")).one()
    assert made.region_code == WEST


@pytest.mark.usefixtures("fast_hashing")
def test_the_admin_api_creates_territory_staff_who_see_their_territory(
    city: City, api: Api
) -> None:
    staffed(city)
    body = {"username": "xi_lead", "password": "long-enough-pw", "role": "shift_lead"}
    refused = api.post("/admin/users", "admin", json={**body, "region": NW})
    assert "give the code of a district or a street" in error_of(refused, 422)["message"]
    made = api.post("/admin/users", "admin", json={**body, "region": WEST})
    assert made.status_code == 201, made.text
    assert made.json()["region"] == WEST
    city.session.expire_all()
    city.users["xi_lead"] = city.session.scalars(
        select(User).where(User.username == "xi_lead")
    ).one()
    me = api.get("/me", "xi_lead").json()
    assert me["region"] == WEST
    assert api.get("/me", "dispatcher").json()["region"] is None
