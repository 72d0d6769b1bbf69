"""The admin pages declared with :class:`~duban.web.admin.AdminPage`, over HTTP without a
browser: the list, create with its problems beside the field, and every row form."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.accounts.models import Unit, User
from duban.open311.apikeys import list_api_keys
from duban.places.index import forget_places_index
from duban.places.models import RoutingRule
from duban.reference import policy as policy_module
from tests.factories import World
from tests.factories.platforms import WEST, two_level_city
from tests.web.test_server import sign_in


def fresh(world: World) -> None:
    """See what the app wrote: end the test session's read and forget what it loaded."""
    world.session.commit()
    world.session.expire_all()


@pytest.fixture
def admin(app: FastAPI, world: World) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client, sign_in(client, app, world, "admin")


def test_every_admin_page_is_for_administrators_only(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, app, world, "dispatcher")
        for path in ("/admin/units", "/admin/users", "/admin/apikeys", "/admin/routing"):
            assert client.get(path).status_code == 403, path


def test_a_unit_is_added_refused_as_a_duplicate_and_switched_off(
    admin: tuple[TestClient, str], world: World
) -> None:
    client, csrf = admin
    duplicate = client.post(
        "/admin/units", data={"csrf_token": csrf, "code": "SZGC", "name": "重复的名字"}
    )
    assert duplicate.status_code == 409
    assert "重复的名字" in duplicate.text  # what was typed is kept
    added = client.post(
        "/admin/units",
        data={"csrf_token": csrf, "code": "YLC", "name": "园林绿化管理处"},
        follow_redirects=False,
    )
    assert (added.status_code, added.headers["location"]) == (303, "/admin/units")
    off = client.post(
        "/admin/units/YLC/active", data={"csrf_token": csrf, "active": "0"}, follow_redirects=False
    )
    assert (off.status_code, off.headers["location"]) == (303, "/admin/units")
    fresh(world)
    unit = world.session.scalars(select(Unit).where(Unit.code == "YLC")).one()
    assert unit.is_active is False


def test_a_units_english_name_is_drafted_and_corrected_by_the_admin(
    admin: tuple[TestClient, str], world: World
) -> None:
    client, csrf = admin
    added = client.post(
        "/admin/units",
        data={"csrf_token": csrf, "code": "HWZX", "name": "魏都区环卫处"},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    fresh(world)
    unit = world.session.scalars(select(Unit).where(Unit.code == "HWZX")).one()
    assert unit.name_en == "Weidu District Sanitation Office"  # drafted from the name
    corrected = client.post(
        "/admin/units/HWZX/name_en",
        data={"csrf_token": csrf, "name_en": "Weidu Sanitation Centre"},
        follow_redirects=False,
    )
    assert (corrected.status_code, corrected.headers["location"]) == (303, "/admin/units")
    fresh(world)
    assert world.session.get(Unit, unit.id).name_en == "Weidu Sanitation Centre"  # type: ignore[union-attr]
    assert 'value="Weidu Sanitation Centre"' in client.get("/admin/units").text
    # Emptied: the draft again, never no English name.
    client.post("/admin/units/HWZX/name_en", data={"csrf_token": csrf, "name_en": " "})
    fresh(world)
    assert world.session.get(Unit, unit.id).name_en == "Weidu District Sanitation Office"  # type: ignore[union-attr]


def test_a_refused_change_of_a_user_is_shown_on_that_users_row(
    admin: tuple[TestClient, str], world: World
) -> None:
    client, csrf = admin
    refused = client.post("/admin/users/admin", data={"csrf_token": csrf, "role": "leader"})
    assert refused.status_code == 422
    assert 'data-user="admin"' in refused.text or "data-user=admin" in refused.text
    changed = client.post(
        "/admin/users/collector",
        data={"csrf_token": csrf, "active": "0"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    fresh(world)
    user = world.session.scalars(select(User).where(User.username == "collector")).one()
    assert user.is_active is False


def test_a_key_is_shown_once_and_revoking_it_twice_is_no_error(
    admin: tuple[TestClient, str], world: World
) -> None:
    client, csrf = admin
    issued = client.post("/admin/apikeys", data={"csrf_token": csrf, "name": "fixmystreet"})
    assert issued.status_code == 200
    assert "fixmystreet" in issued.text
    bad = client.post("/admin/apikeys", data={"csrf_token": csrf, "name": "x"})
    assert bad.status_code == 422
    for _ in range(2):
        gone = client.post(
            "/admin/apikeys/fixmystreet/revoke", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert (gone.status_code, gone.headers["location"]) == (303, "/admin/apikeys")
    missing = client.post(
        "/admin/apikeys/nobody/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert missing.status_code == 303
    fresh(world)
    assert [k.is_active for k in list_api_keys(world.session)] == [False]


def test_a_routing_rule_is_added_refused_with_its_problem_and_switched_off(
    admin: tuple[TestClient, str], world: World
) -> None:
    client, csrf = admin
    refused = client.post(
        "/admin/routing", data={"csrf_token": csrf, "unit": "NOPE", "note": "备注"}
    )
    assert refused.status_code == 422
    assert "备注" in refused.text
    added = client.post(
        "/admin/routing",
        data={"csrf_token": csrf, "unit": "SZGC", "category": "E01", "note": "市政"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    fresh(world)
    rule = world.session.scalars(select(RoutingRule)).one()
    assert (
        client.post("/admin/routing/not-a-number/off", data={"csrf_token": csrf}).status_code == 422
    )
    off = client.post(
        f"/admin/routing/{rule.id}/off", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert (off.status_code, off.headers["location"]) == (303, "/admin/routing")
    fresh(world)
    assert world.session.get(RoutingRule, rule.id).is_active is False  # type: ignore[union-attr]


def test_a_malformed_date_filter_is_said_not_silently_dropped(app: FastAPI, world: World) -> None:
    """The case list and the map say a date was not used instead of listing everything."""
    notice = "日期应写作 YYYY-MM-DD"
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, app, world, "leader")
        for path in ("/cases", "/map"):
            bad = client.get(path, params={"from": "2026-13-45", "to": "2026-11-30"})
            assert bad.status_code == 200, path
            assert notice in bad.text, path
            good = client.get(path, params={"from": "2026-11-01", "to": "2026-11-30"})
            assert notice not in good.text, path


@pytest.fixture
def platforms(world: World) -> Iterator[World]:
    """The world with a district's streets and platforms; the caches of the map and the
    policy forgotten after (PostgreSQL tests share one database URL)."""
    yield two_level_city(world, levels=1)
    policy_module._cache.clear()
    forget_places_index()


def test_a_platform_unit_and_a_territory_key_are_added(
    admin: tuple[TestClient, str], platforms: World
) -> None:
    """二级派遣 and territory keys (issue 15): the admin gives a unit its platform and a
    key its territory; an unknown territory is refused beside its field."""
    world = platforms
    client, csrf = admin
    added = client.post(
        "/admin/units",
        data={"csrf_token": csrf, "code": "JD009", "name": "西区二中队", "region": WEST},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    wrong = client.post(
        "/admin/apikeys", data={"csrf_token": csrf, "name": "west-app", "region": "999999"}
    )
    assert wrong.status_code == 422
    issued = client.post(
        "/admin/apikeys", data={"csrf_token": csrf, "name": "west-app", "region": WEST}
    )
    assert issued.status_code == 200, issued.text
    assert f"data-key-region>{WEST}" in issued.text
    fresh(world)
    unit = world.session.scalars(select(Unit).where(Unit.code == "JD009")).one()
    assert unit.region_code == WEST
    assert [k.region_code for k in list_api_keys(world.session)] == [WEST]
