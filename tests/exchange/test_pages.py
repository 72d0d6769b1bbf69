"""The admin page of the exchange: links set as data, in both languages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.exchange.models import ExchangeLink, ExchangeProblem, ExchangePush
from duban.exchange.rules import STAFF_CREDENTIAL_REFUSED
from tests.factories.evidence import jpeg
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
        listed = client.get("/admin/exchange", headers={"Accept-Language": "zh-CN"})
        assert "city.example" in listed.text
        assert "o311_secret" not in listed.text
        assert "<td data-staff-token>未设置</td>" in listed.text
        client.post(
            "/admin/exchange",
            data={"csrf_token": csrf, **FORM, "staff_token": "staff_tok_secret"},
            follow_redirects=False,
        )
        listed = client.get("/admin/exchange", headers={"Accept-Language": "zh-CN"})
        assert "staff_tok_secret" not in listed.text
        assert "<td data-staff-token>已设置</td>" in listed.text
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


def test_an_admin_answers_a_problem_of_the_higher_platform_on_the_page(
    app: FastAPI, world: World
) -> None:
    """The page lists the problems taken and answers one; the answer waits to go up."""
    with TestClient(app, base_url="http://testserver") as client:
        csrf = sign_in(client, app, world, "admin")
        client.post(
            "/admin/exchange",
            data={"csrf_token": csrf, **FORM, "staff_token": "tok_secret"},
            follow_redirects=False,
        )
        link = world.session.scalars(select(ExchangeLink)).one()
        assert link.staff_token == "tok_secret"
        problem = ExchangeProblem(
            link_id=link.id, external_order_id=7, order_number="督查通知单〔2026〕第3期",
            order_title="关于督促整改的通知", external_problem_id=11, description="占道堆物",
            external_status="open", answer_count=0, created_at=world.clock.now(),
            updated_at=world.clock.now(),
        )  # fmt: skip
        world.session.add(problem)
        world.session.commit()
        for language in ("zh-CN", "en"):
            page = client.get("/admin/exchange", headers={"Accept-Language": language})
            assert "督查通知单〔2026〕第3期" in page.text
            assert "tok_secret" not in page.text
        empty = client.post(
            f"/admin/exchange/problems/{problem.id}/answer",
            data={"csrf_token": csrf, "measures": " ", "done": "1"},
        )
        assert empty.status_code == 422
        done = client.post(
            f"/admin/exchange/problems/{problem.id}/answer",
            data={"csrf_token": csrf, "measures": "已清理", "done": "1"},
            files=[
                ("photos", ("a.jpg", jpeg((10, 200, 10)), "image/jpeg")),
                ("photos", ("b.jpg", jpeg((10, 10, 200)), "image/jpeg")),
            ],
            follow_redirects=False,
        )
        assert done.status_code == 303
        listed = client.get("/admin/exchange")
        assert f'action="/admin/exchange/problems/{problem.id}/answer"' not in listed.text
    world.session.expire_all()
    push = world.session.scalars(select(ExchangePush)).one()
    assert (push.problem_id, push.description, push.extra) == (problem.id, "已清理", {"done": True})
    assert len(push.photo_ids) == 2  # uploaded with the answer, to go up with it


def test_a_refused_staff_credential_reads_in_both_languages(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        csrf = sign_in(client, app, world, "admin")
        client.post("/admin/exchange", data={"csrf_token": csrf, **FORM}, follow_redirects=False)
        link = world.session.scalars(select(ExchangeLink)).one()
        link.last_error = STAFF_CREDENTIAL_REFUSED
        world.session.commit()
        zh = client.get("/admin/exchange")
        assert "上级平台拒绝了本级的业务接口凭据" in zh.text
        en = client.get("/lang/en", params={"next": "/admin/exchange"})
        assert "refused our staff credential" in en.text
