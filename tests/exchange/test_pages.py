"""The admin page of the exchange: links set as data, in both languages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.exchange.models import ExchangeLink
from tests.factories.world import World
from tests.web.test_server import sign_in

FORM = {
    "name": "city",
    "base_url": "http://city.example/open311/v2",
    "api_key": "o311_secret",
    "agency": "QJPT",
    "service_codes": "E0102, E0103",
    "code_map": "A01=E0102",
    "source": "supervision",
    "is_active": "1",
}


def test_an_admin_sets_a_link_and_sees_it_without_its_key(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        csrf = sign_in(client, app, world, "admin")
        page = client.get("/admin/exchange")
        assert page.status_code == 200
        assert "上级平台" in page.text or "Higher platform" in page.text
        saved = client.post(
            "/admin/exchange", data={"csrf_token": csrf, **FORM}, follow_redirects=False
        )
        assert (saved.status_code, saved.headers["location"]) == (303, "/admin/exchange")
        listed = client.get("/admin/exchange")
        assert "city.example" in listed.text
        assert "o311_secret" not in listed.text
        bad = client.post(
            "/admin/exchange",
            data={"csrf_token": csrf, **FORM, "base_url": "ftp://x", "name": "other"},
            headers={"Accept-Language": "zh-CN"},
        )
        assert bad.status_code == 422
        retry = client.post(
            "/admin/exchange/city/retry", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert retry.status_code == 303
    world.session.expire_all()
    link = world.session.scalars(select(ExchangeLink)).one()
    assert (link.service_codes, link.code_map) == (["E0102", "E0103"], {"A01": "E0102"})


def test_the_page_is_for_administrators_only(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, app, world, "dispatcher")
        assert client.get("/admin/exchange").status_code == 403
