"""Admin endpoints for people: units and users."""

from __future__ import annotations

from typing import Any

from tests.http import API, Api


def _post(api: Api, path: str, by: str, body: Any) -> Any:
    return api.client.post(f"{API}{path}", headers=api.headers(by), json=body)


def test_only_admins_reach_admin_endpoints(api: Api) -> None:
    for role in ("dispatcher", "handler", "citizen", "supervisor"):
        response = api.get("/admin/units", role)
        assert response.status_code == 403, role
        assert response.json()["error"]["code"] == "forbidden"
        assert "administrator" in response.json()["error"]["message"]


def test_admin_adds_a_unit_and_a_handler_who_can_sign_in(api: Api) -> None:
    created = _post(api, "/admin/units", "admin", {"code": "YLC", "name": "园林绿化管理处"})
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "YLC"
    assert {u["code"] for u in api.get("/admin/units", "admin").json()} >= {"SZGC", "YLC"}
    user = _post(
        api,
        "/admin/users",
        "admin",
        {"username": "ylc1", "password": "long-enough-1", "role": "handler", "unit": "YLC"},
    )
    assert user.status_code == 201, user.text
    assert user.json()["unit"] == "YLC"
    token = api.client.post(
        f"{API}/auth/token", data={"username": "ylc1", "password": "long-enough-1"}
    )
    assert token.status_code == 200


def test_a_unit_may_have_an_english_name(api: Api) -> None:
    body = {"code": "YLC", "name": "园林绿化管理处", "name_en": "Parks and Greening Office"}
    created = _post(api, "/admin/units", "admin", body)
    assert created.status_code == 201, created.text
    assert created.json()["name_en"] == "Parks and Greening Office"
    units = {u["code"]: u for u in api.get("/admin/units", "admin").json()}
    assert units["YLC"]["name_en"] == "Parks and Greening Office"
    assert units["SZGC"]["name_en"] is None or isinstance(units["SZGC"]["name_en"], str)


def test_bad_users_and_units_are_refused_with_the_field_named(api: Api) -> None:
    dup = _post(api, "/admin/units", "admin", {"code": "SZGC", "name": "again"})
    assert dup.status_code == 409
    no_unit = _post(
        api,
        "/admin/users",
        "admin",
        {"username": "h9", "password": "long-enough-1", "role": "handler"},
    )
    assert no_unit.status_code == 422
    assert no_unit.json()["error"]["detail"]["field"] == "unit"
    short = _post(
        api, "/admin/users", "admin", {"username": "x9", "password": "short", "role": "operator"}
    )
    assert short.status_code == 422
