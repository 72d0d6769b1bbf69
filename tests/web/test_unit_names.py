"""Units have an optional English name: English pages show it, Chinese pages the name
(checked without a browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from duban.cases.workflow import Action, CaseStatus
from duban.web import sessions
from tests.factories.world import World


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _sign_in(client: TestClient, app: FastAPI, world: World, username: str, lang: str) -> None:
    user = world.users[username]
    now = int(world.clock.now().timestamp())
    session = sessions.WebSession.fresh(lang=lang, now=now).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))


def test_english_pages_show_a_units_english_name(
    client: TestClient, app: FastAPI, world: World
) -> None:
    from duban.accounts.models import Unit

    unit = world.session.query(Unit).filter_by(code="HWC").one()
    unit.name_en = "Sanitation Office"
    world.session.commit()
    case = world.case_in(CaseStatus.FILED)
    world.act(case, Action.DISPATCH, "dispatcher", unit="HWC")

    _sign_in(client, app, world, "dispatcher", "en")
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200, page.text
    assert "Sanitation Office" in page.text  # the lead unit and the timeline
    assert unit.name not in page.text
    listed = client.get("/cases")
    assert "Sanitation Office" in listed.text

    _sign_in(client, app, world, "dispatcher", "zh")
    page = client.get(f"/cases/{case.id}")
    assert unit.name in page.text
    assert "Sanitation Office" not in page.text
