"""Sign-in, bearer tokens and ``GET /api/v1/me``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.factories.accounts import PASSWORD
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import API, SECRET, Api, assert_error, login, make_settings


def test_token_endpoint_signs_in_with_form_fields(client: TestClient, world: World) -> None:
    response = client.post(f"{API}/auth/token", data={"username": "handler", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["access_token"], str)
    assert body["access_token"].count(".") == 2  # a JWT
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "handler"


def test_token_endpoint_refuses_json_body(client: TestClient, world: World) -> None:
    response = client.post(f"{API}/auth/token", json={"username": "handler", "password": PASSWORD})
    error = assert_error(response, 422, "invalid_input")
    assert "username" in error["message"]


def test_wrong_password_is_401_json(client: TestClient, world: World) -> None:
    response = client.post(
        f"{API}/auth/token", data={"username": "handler", "password": "not-the-password"}
    )
    error = assert_error(response, 401, "unauthenticated")
    assert "password" in error["message"]
    assert "access_token" not in response.text
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    client: TestClient, world: World
) -> None:
    wrong_pw = client.post(f"{API}/auth/token", data={"username": "handler", "password": "x"})
    no_user = client.post(f"{API}/auth/token", data={"username": "nobody", "password": "x"})
    assert_error(no_user, 401, "unauthenticated")
    assert no_user.json() == wrong_pw.json()


def test_disabled_user_cannot_sign_in_nor_use_an_old_token(
    client: TestClient, world: World
) -> None:
    headers = login(client, "handler")
    world.users["handler"].is_active = False
    world.session.commit()
    assert_error(
        client.post(f"{API}/auth/token", data={"username": "handler", "password": PASSWORD}),
        401,
        "unauthenticated",
    )
    assert_error(client.get(f"{API}/me", headers=headers), 401, "unauthenticated")
    # Routes that read only the actor (not the user row) refuse it too.
    assert_error(client.get(f"{API}/cases", headers=headers), 401, "unauthenticated")
    report = {
        "source": "hotline",
        "category_code": "E0102",
        "lat": 34.03,
        "lon": 113.82,
        "description": "已停用账号的上报",
    }
    operator = login(client, "operator")
    world.users["operator"].is_active = False
    world.session.commit()
    assert_error(client.post(f"{API}/cases", json=report, headers=operator), 401, "unauthenticated")
    assert_error(
        client.post(f"{API}/cases/1/actions/verify", json={}, headers=operator),
        401,
        "unauthenticated",
    )


def test_missing_token_is_401(client: TestClient, world: World) -> None:
    for method, path in [
        ("GET", "/me"),
        ("GET", "/cases"),
        ("GET", "/cases/1"),
        ("POST", "/cases"),
        ("POST", "/cases/1/actions/verify"),
        ("GET", "/categories"),
        ("POST", "/photos"),
        ("GET", "/photos/abc"),
    ]:
        response = client.request(method, f"{API}{path}")
        error = assert_error(response, 401, "unauthenticated")
        assert "auth/token" in error["message"], (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


def test_garbage_token_is_401(client: TestClient, world: World) -> None:
    for value in ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic aGFuZGxlcjp4"]:
        response = client.get(f"{API}/me", headers={"Authorization": value})
        assert_error(response, 401, "unauthenticated")


def test_token_signed_with_another_key_is_401(
    client: TestClient, world: World, clock: FixedClock
) -> None:
    now = clock.now()
    claims = {
        "sub": str(world.users["admin"].id),
        "role": "admin",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    forged = jwt.encode(claims, "not-" + SECRET, algorithm="HS256")
    response = client.get(f"{API}/me", headers={"Authorization": f"Bearer {forged}"})
    assert_error(response, 401, "unauthenticated")
    unsigned = jwt.encode(claims, None, algorithm="none")
    response = client.get(f"{API}/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert_error(response, 401, "unauthenticated")


def test_token_expires_with_the_app_clock(
    client: TestClient, world: World, clock: FixedClock
) -> None:
    headers = login(client, "dispatcher")
    clock.advance(hours=11, minutes=59)
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    clock.advance(minutes=2)
    error = assert_error(client.get(f"{API}/me", headers=headers), 401, "unauthenticated")
    assert "expired" in error["message"]


def test_sign_in_works_whatever_day_the_app_clock_shows(
    client: TestClient, world: World, clock: FixedClock
) -> None:
    # The app's clock decides token lifetimes both when issuing and when checking,
    # so a clock moved days ahead (or a slow real clock) does not lock everybody out.
    for days in (3, 40):
        clock.advance(days=days)
        headers = login(client, "operator")
        assert client.get(f"{API}/me", headers=headers).status_code == 200


def test_me_describes_the_caller(client: TestClient, world: World, api: Api) -> None:
    me = client.get(f"{API}/me", headers=login(client, "handler")).json()
    assert me == {
        "id": world.users["handler"].id,
        "username": "handler",
        "display_name": "handler",
        "role": "handler",
        "role_label": "责任单位",
        "unit": "SZGC",
        "unit_name": "市政工程管理处",
        "region": None,
    }
    citizen = api.get("/me", "citizen").json()
    assert citizen["role"] == "citizen"
    assert citizen["unit"] is None
    assert citizen["unit_name"] is None
    handler2 = api.get("/me", "handler2").json()
    assert (handler2["role"], handler2["unit"]) == ("handler", "HWC")


def test_token_of_a_deleted_subject_is_401(
    client: TestClient, world: World, clock: FixedClock
) -> None:
    now = clock.now()
    token = jwt.encode(
        {"sub": "99999", "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 600},
        SECRET,
        algorithm="HS256",
    )
    response = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "unauthenticated")


def test_a_short_signing_key_is_refused_at_start(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        make_settings(db_url, tmp_path, secret_key="short-secret")
