"""Web rules checked without a browser (fast): CSRF on every form, escaping, sessions,
redirects, privacy of the public pages, every page of every role renders, translations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.accounts.models import User
from duban.accounts.users import hash_password
from duban.app import PAGES
from duban.cases import mapdata
from duban.cases.actions import NewCase
from duban.cases.models import Case
from duban.cases.public import report_as_citizen
from duban.cases.workflow import Action, CaseStatus, Source
from duban.web import sessions
from duban.web.messages_zh import ZH
from duban.web.routes import router as web_router
from tests.factories.accounts import PASSWORD
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import FixedClock

WEB = Path(__file__).resolve().parents[2] / "src" / "duban" / "web"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def sign_in(client: TestClient, app: FastAPI, world: World, username: str) -> str:
    """Give ``client`` a signed-in session cookie; returns its CSRF token."""
    user = world.users[username]
    now = int(world.clock.now().timestamp())
    session = sessions.WebSession.fresh(now=now).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))
    return session.csrf


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_every_web_form_route_refuses_a_post_without_the_csrf_token(
    client: TestClient, app: FastAPI, world: World
) -> None:
    sign_in(client, app, world, "admin")
    case = world.case_in(CaseStatus.REPORTED)
    posts = [
        r
        for router in (web_router, *PAGES)
        for r in router.routes
        if isinstance(r, APIRoute) and "POST" in r.methods
    ]
    assert len(posts) >= 15
    for route in posts:
        path = (
            route.path.replace("{case_id}", str(case.id))
            .replace("{action}", "reject")
            .replace("{code}", "AAAAA-AAAAA")
            .replace("{username}", "admin")
            .replace("{name}", "x")
        )
        for token in (None, "forged"):
            data = {"reason": "x"} if token is None else {"csrf_token": token, "reason": "x"}
            response = client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, token, response.status_code)
    assert world.session.get(type(case), case.id).status == CaseStatus.REPORTED  # type: ignore[union-attr]


def test_user_text_is_escaped_on_every_page_that_shows_it(
    client: TestClient, app: FastAPI, world: World
) -> None:
    case = world.case_in(CaseStatus.FILED, description=XSS, address=XSS)
    sign_in(client, app, world, "dispatcher")
    for path in (f"/cases/{case.id}", "/cases", "/work", f"/public/{case.code}"):
        html = client.get(path).text
        assert "<script>alert(1)" not in html, path
        assert "&lt;script&gt;alert(1)" in html, path


def test_a_tampered_or_foreign_cookie_is_an_anonymous_session(
    client: TestClient, app: FastAPI, world: World
) -> None:
    sign_in(client, app, world, "dispatcher")
    assert client.get("/work").status_code == 200
    value = client.cookies[sessions.COOKIE_NAME]
    payload, sig = value.rsplit(".", 1)
    client.cookies.set(sessions.COOKIE_NAME, payload + "." + sig[::-1])
    response = client.get("/work", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/work"
    other = sessions.encode(sessions.WebSession.fresh().signed_in(1, "x", 0), "another-secret")
    client.cookies.set(sessions.COOKIE_NAME, other)
    assert client.get("/work", follow_redirects=False).status_code == 303


@pytest.mark.slow
def test_sign_in_out_and_a_new_password_ends_other_sessions(
    client: TestClient, app: FastAPI, world: World
) -> None:
    token = csrf_of(client.get("/login").text)
    bad = client.post(
        "/login", data={"csrf_token": token, "username": "dispatcher", "password": "nope"}
    )
    assert bad.status_code == 401
    assert "用户名或密码错误" in bad.text
    good = client.post(
        "/login",
        data={"csrf_token": token, "username": "dispatcher", "password": PASSWORD},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/work"
    page = client.get("/work").text
    new_token = csrf_of(page)
    assert new_token != token  # a new token after signing in: no fixation
    out = client.post("/logout", data={"csrf_token": new_token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/work", follow_redirects=False).status_code == 303
    # Another browser stays signed in until the password changes.
    other = TestClient(app)
    sign_in(other, app, world, "dispatcher")
    assert other.get("/work").status_code == 200
    user = world.session.scalars(select(User).where(User.username == "dispatcher")).one()
    user.password_hash = hash_password("a-brand-new-password")
    world.session.commit()
    assert other.get("/work", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_redirects_stay_on_the_site(client: TestClient, target: str) -> None:
    response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.headers["location"] == "/"
    html = client.get("/login", params={"next": target}).text
    assert 'name="next" value="/"' in html


def test_public_pages_never_show_contact_details(
    client: TestClient, app: FastAPI, world: World
) -> None:
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN,
            category_code="E0102",
            lat=LAT,
            lon=LON,
            description="门口垃圾",
            reporter_name="张三丰",
            reporter_phone="13812345678",
        ),
    )
    for path in (f"/track/{receipt.tracking_code}", f"/public/{receipt.case.code}"):
        html = client.get(path).text
        assert "门口垃圾" in html
        assert "13812345678" not in html
        assert "张三丰" not in html
    assert client.get("/track/ZZZZZ-ZZZZZ").status_code == 404
    # The code opens only its own case: another case's photos or actions stay closed.
    other = world.case_in(CaseStatus.CLOSED)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        f"/cases/{other.id}/act/rate",
        data={"csrf_token": token, "rating": "satisfied"},
        follow_redirects=False,
    )
    assert response.status_code == 303  # to sign in: no account, no case page
    assert response.headers["location"].startswith("/login")


def test_every_page_of_every_role_renders(client: TestClient, app: FastAPI, world: World) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    pages = {
        "citizen": ["/", "/report", "/my", "/track"],
        "collector": ["/tasks", f"/tasks?lat={LAT}&lon={LON}", "/report", "/map"],
        "operator": ["/work", "/report", "/cases", f"/cases/{case.id}", "/map", "/dashboard"],
        "shift_lead": ["/work", "/report", "/cases?open=1&overdue=1", "/dashboard"],
        "dispatcher": ["/work", "/work?category=E01&source=hotline&overdue=0", "/map"],
        "handler": ["/work", f"/cases/{case.id}", "/cases"],
        "supervisor": ["/work", "/dashboard", "/cases?supervised=1", "/evaluation"],
        "leader": [
            "/dashboard",
            "/map",
            "/cases?from=2026-11-01&to=2026-11-30",
            "/evaluation",
            "/evaluation/bulletins",
        ],
        "admin": [
            "/admin",
            "/admin/units",
            "/admin/users",
            "/admin/taxonomy",
            "/admin/taxonomy?q=井盖",
            "/admin/calendar",
            "/admin/apikeys",
        ],
    }
    for role, paths in pages.items():
        client.cookies.clear()
        sign_in(client, app, world, role)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (role, path, response.text[:500])
            assert "text/html" in response.headers["content-type"]
        for lang in ("en", "zh"):
            assert client.get(f"/lang/{lang}", params={"next": paths[0]}).status_code == 200
    # Wrong roles are turned away with a page, not data.
    client.cookies.clear()
    sign_in(client, app, world, "handler2")
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert client.get("/admin/users").status_code == 403
    assert client.get("/dashboard").status_code == 403
    client.cookies.clear()
    assert client.get("/map/data.json", follow_redirects=False).status_code == 303


def test_map_data_is_points_close_up_and_cells_far_away(
    client: TestClient, app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mapdata, "POINTS_ALWAYS", 2)  # as if the city had many cases
    for i in range(3):
        world.case_in(CaseStatus.DISPATCHED, lat=LAT + i * 0.01, lon=LON)
    sign_in(client, app, world, "leader")
    near = client.get("/map/data.json", params={"zoom": 15}).json()
    assert near["mode"] == "points"
    assert near["total"] == 3
    far = client.get("/map/data.json", params={"zoom": 6}).json()
    assert far["mode"] == "cells"
    assert far["total"] == 3
    box = f"{LON - 0.001},{LAT - 0.001},{LON + 0.001},{LAT + 0.001}"
    assert client.get("/map/data.json", params={"zoom": 15, "bbox": box}).json()["total"] == 1
    assert client.get("/map/data.json", params={"bbox": "1,2,3"}).status_code == 422
    handler = TestClient(app)
    sign_in(handler, app, world, "handler2")
    assert handler.get("/map/data.json", params={"zoom": 15}).json()["total"] == 0


def test_every_text_of_the_pages_has_its_chinese() -> None:
    patterns = [
        re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]"""),
        re.compile(r"""_\(\s*'((?:[^'\\]|\\.)*)'\s*[,)]"""),
        re.compile(r"""\.t\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]"""),
        re.compile(r"""translate\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]"""),
        re.compile(r"""notice\(\s*"((?:[^"\\]|\\.)*)"\s*\)"""),
        re.compile(r""""((?:[^"\\]|\\.)*)"\s*\|\s*tr\b"""),
        # queue titles and menu entries kept in mappings
        re.compile(r""""\w+":\s*"([A-Z][^"]+)",?$""", re.MULTILINE),
        re.compile(r"""\("/[\w/]*",\s*"([^"]+)"\)"""),
    ]
    texts: set[str] = set()
    for path in [*WEB.rglob("*.html"), *WEB.glob("*.py")]:
        if path.name == "messages_zh.py":
            continue
        source = re.sub(r'"\s*\n\s*"', "", path.read_text(encoding="utf-8"))
        for pattern in patterns:
            texts.update(m.group(1) for m in pattern.finditer(source))
    texts.update(t for t, _ in [("verify", 0), ("check", 0), ("file", 0)])
    missing = sorted(t for t in texts if t not in ZH and not t.startswith("/"))
    assert not missing, f"texts without Chinese in messages_zh.py: {missing}"


def test_rating_twice_is_refused_with_a_message(
    client: TestClient, app: FastAPI, world: World
) -> None:
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN, category_code="E0102", lat=LAT, lon=LON, description="垃圾"
        ),
    )
    case = receipt.case
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    for action, by, params in [
        (Action.VERIFY, "collector", {}),
        (Action.FILE, "shift_lead", {}),
        (Action.DISPATCH, "dispatcher", {"unit": "SZGC"}),
        (Action.ACCEPT, "handler", {}),
        (Action.FEEDBACK, "handler", {"photo_ids": [world.photo()]}),
    ]:
        world.act(case, action, by, **params)
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=True)
    world.act(case, Action.CLOSE, "shift_lead")
    url = f"/track/{receipt.tracking_code}"
    token = csrf_of(client.get(url).text)
    missing = client.post(f"{url}/rate", data={"csrf_token": token})
    assert missing.status_code == 422
    assert "请选择评价。" in missing.text
    first = client.post(f"{url}/rate", data={"csrf_token": token, "rating": "unsatisfied"})
    assert first.status_code == 200
    assert "不满意" in first.text
    again = client.post(f"{url}/rate", data={"csrf_token": token, "rating": "satisfied"})
    assert again.status_code == 409
    assert "已经评价过了" in again.text


def test_a_sign_in_expires_with_the_token_lifetime(
    client: TestClient, app: FastAPI, world: World, clock: FixedClock
) -> None:
    sign_in(client, app, world, "dispatcher")
    assert client.get("/work").status_code == 200
    clock.advance(hours=12, minutes=1)
    response = client.get("/work", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/work"
    # The anonymous session that replaced it has a working CSRF token of its own.
    token = csrf_of(client.get("/login").text)
    assert client.post("/lang/en", data={"csrf_token": token}).status_code == 405
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )


def test_a_control_character_in_a_form_field_or_a_filter_is_a_422(
    client: TestClient, app: FastAPI, world: World
) -> None:
    token = sign_in(client, app, world, "operator")
    response = client.post(
        "/report",
        data={
            "csrf_token": token,
            "source": "hotline",
            "category": "E0102",
            "lat": str(LAT),
            "lon": str(LON),
            "description": "井盖\x00缺失",
        },
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text
    assert "control character" in response.text
    assert client.get("/cases", params={"grid": "41\x00"}).status_code == 422
    assert world.session.scalars(select(Case)).first() is None
