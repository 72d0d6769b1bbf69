"""Secrets and sessions (issue 12, item 5): no signing key in the database, sign-outs
that end every token and web session, no Open311 api_key in the logs."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from duban.accounts.directory import update_user
from duban.api.middleware import RedactApiKeys, redact
from duban.app import create_app
from duban.config import MissingSecretKey, Settings, signing_key
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.models import Setting
from duban.kernel.db.session import make_engine
from duban.web import sessions
from tests.factories import PASSWORD, World
from tests.fakes import FixedClock
from tests.http import API, Api, login, make_settings

pytestmark = pytest.mark.attack


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", var_dir=tmp_path, env="production")
    with pytest.raises(MissingSecretKey, match="DUBAN_SECRET_KEY"):
        signing_key(settings)
    with pytest.raises(MissingSecretKey):
        create_app(settings, engine=make_engine("sqlite://"))
    assert not (tmp_path / "secret_key").exists()


def test_elsewhere_a_key_is_made_once_in_a_file_only_its_owner_reads(
    tmp_path: Path, db_url: str, engine: Engine, clock: FixedClock
) -> None:
    settings = make_settings(db_url, tmp_path, secret_key=None, var_dir=tmp_path / "var")
    first = create_app(settings, engine=engine, clock=clock).state.secret_key
    path = tmp_path / "var" / "secret_key"
    assert path.read_text().strip() == first
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert create_app(settings, engine=engine, clock=clock).state.secret_key == first
    with engine.connect() as conn:  # nothing of it in the database
        values = [str(v) for v in conn.execute(select(Setting.value)).scalars()]
    assert not any(first in v for v in values)


def test_the_migration_drops_a_key_kept_in_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO settings (key, value, updated_at) VALUES ('secret_key', :v, :t)"),
            {"v": '"a-key-anyone-with-a-copy-could-use-to-forge-tokens"', "t": "2026-01-01"},
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM settings WHERE key='secret_key'")).scalar() == 0
        )
        assert conn.execute(text("SELECT token_epoch FROM users")).all() == []
    engine.dispose()


def test_logout_ends_every_token_of_the_user(api: Api, client: TestClient) -> None:
    first = login(client, "dispatcher")
    second = api.headers("dispatcher")
    other = api.headers("operator")
    assert client.get(f"{API}/me", headers=second).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=first).status_code == 204
    for headers in (first, second):
        response = client.get(f"{API}/me", headers=headers)
        assert response.status_code == 401
        assert "signed out" in response.json()["error"]["message"]
    body = {"source": "hotline", "category_code": "E0102", "lat": 34.03, "lon": 113.82}
    refused = client.post(f"{API}/cases", json={**body, "description": "x"}, headers=second)
    assert refused.status_code == 401  # the batched write path checks the epoch too
    assert client.get(f"{API}/me", headers=other).status_code == 200  # others go on
    assert client.get(f"{API}/me", headers=login(client, "dispatcher")).status_code == 200


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_a_new_password_or_a_deactivation_ends_tokens_and_web_sessions(
    change: str, api: Api, app: FastAPI, client: TestClient, world: World, session: Session
) -> None:
    headers = api.headers("operator")
    user = world.users["operator"]
    now = int(world.clock.now().timestamp())
    web = sessions.WebSession.fresh(now=now).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(web, app.state.secret_key))
    assert client.get("/work", follow_redirects=False).status_code == 200
    if change == "password":
        update_user(session, actor=world.actor("admin"), username="operator", password="n" * 12)
    else:
        update_user(session, actor=world.actor("admin"), username="operator", active=False)
    assert client.get(f"{API}/me", headers=headers).status_code == 401
    page = client.get("/work", follow_redirects=False)
    assert page.status_code == 303
    assert "/login" in page.headers["location"]


def test_web_sign_out_ends_the_api_tokens_too(api: Api, client: TestClient) -> None:
    headers = api.headers("dispatcher")
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(
        "/login",
        data={"csrf_token": token, "username": "dispatcher", "password": PASSWORD},
        follow_redirects=False,
    )
    page = client.get("/work")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_an_open311_api_key_never_reaches_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    path = "/open311/v2/requests.json?jurisdiction_id=x&api_key=s3cr3t-KEY&lat=1"
    assert redact(path) == "/open311/v2/requests.json?jurisdiction_id=x&api_key=[REDACTED]&lat=1"
    assert redact("/x?API_KEY=abc") == "/x?API_KEY=[REDACTED]"
    logger = logging.getLogger("uvicorn.access.test")
    logger.addFilter(RedactApiKeys())
    with caplog.at_level(logging.INFO, logger="uvicorn.access.test"):
        logger.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4", "POST", path, "1.1", 200)
    assert "s3cr3t" not in caplog.text
    assert "[REDACTED]" in caplog.text
    assert any(isinstance(f, RedactApiKeys) for f in logging.getLogger("uvicorn.access").filters)
