"""Credentials we send are sealed at rest: the exchange link's api_key and staff token,
a webhook's secret and a citizen's tracking link read back in clear through the models,
but the database holds neither them nor anything that shows them; migration 0029 seals
the values already there, so old links and keys keep working."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from duban import notify
from duban.cases.actions import NewCase
from duban.cases.public import report_as_citizen, tracked_case
from duban.cases.workflow import Source
from duban.exchange.models import ExchangeLink
from duban.exchange.service import LinkSpec, save_link
from duban.kernel.db.migrate import alembic_config, upgrade
from duban.kernel.db.sealed import SealingKeyError, seal, unseal, use_secret_source
from duban.kernel.db.session import make_session_factory
from duban.notify.models import CaseContact, WebhookSubscription
from tests.factories.cases import LAT, LON
from tests.factories.world import World
from tests.http import SECRET

API_KEY = "city-issued-api-key-0123456789"
STAFF_TOKEN = "staff-bearer-token-abcdefghij"
HOOK_SECRET = "hook-secret-0123456789abcdef"


def _raw(session: Session, sql: str) -> str:
    value = session.execute(text(sql)).scalar_one()
    assert isinstance(value, str)
    return value


def _citizen_report(world: World) -> str:
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN,
            category_code="E0102",
            lat=LAT,
            lon=LON,
            description="门口垃圾",
            reporter_phone="13812345678",
        ),
    )
    assert receipt.tracking_code is not None
    return receipt.tracking_code


def _write_credentials(world: World) -> str:
    save_link(
        world.session,
        spec=LinkSpec(
            name="city",
            base_url="https://city.example/open311/v2",
            api_key=API_KEY,
            agency="SZGC",
            staff_token=STAFF_TOKEN,
        ),
        clock=world.clock,
    )
    notify.add_subscription(
        world.session,
        name="hook",
        url="https://hook.example/in",
        events=["case.*"],
        now=world.clock.now(),
        secret=HOOK_SECRET,
    )
    world.session.commit()
    return _citizen_report(world)


def _assert_sealed(session: Session, code: str) -> None:
    raw = {
        "api_key": _raw(session, "SELECT api_key FROM exchange_links"),
        "staff_token": _raw(session, "SELECT staff_token FROM exchange_links"),
        "secret": _raw(session, "SELECT secret FROM webhook_subscriptions"),
        "link": _raw(session, "SELECT link FROM case_contacts"),
    }
    for plain in (API_KEY, STAFF_TOKEN, HOOK_SECRET, code):
        assert all(plain not in value for value in raw.values())
    assert unseal(raw["api_key"]) == API_KEY
    session.expire_all()
    link = session.query(ExchangeLink).one()
    assert (link.api_key, link.staff_token) == (API_KEY, STAFF_TOKEN)
    assert session.query(WebhookSubscription).one().secret == HOOK_SECRET
    assert session.query(CaseContact).one().link == f"/track/{code}"
    assert tracked_case(session, code).id > 0


def test_credentials_are_sealed_at_rest_and_open_in_clear(world: World) -> None:
    code = _write_credentials(world)
    _assert_sealed(world.session, code)


def test_a_value_sealed_under_another_key_does_not_open() -> None:
    sealed = seal(API_KEY)
    use_secret_source(lambda: "another-secret-of-at-least-32-characters")
    try:
        with pytest.raises(SealingKeyError, match="DUBAN_SECRET_KEY"):
            unseal(sealed)
    finally:
        use_secret_source(lambda: SECRET)
    assert unseal(sealed) == API_KEY
    assert seal(API_KEY) != sealed  # a fresh IV each time: equal values look different


def test_migration_0029_seals_the_values_already_there(world: World, engine: Engine) -> None:
    code = _write_credentials(world)
    world.session.close()
    url = engine.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), "0028_orderx")
    with make_session_factory(engine)() as session:
        # Before 0029: in clear, as an instance upgraded from 0028 holds them.
        assert _raw(session, "SELECT api_key FROM exchange_links") == API_KEY
        assert _raw(session, "SELECT staff_token FROM exchange_links") == STAFF_TOKEN
        assert _raw(session, "SELECT secret FROM webhook_subscriptions") == HOOK_SECRET
        assert _raw(session, "SELECT link FROM case_contacts") == f"/track/{code}"
    upgrade(engine)
    with make_session_factory(engine)() as session:
        _assert_sealed(session, code)
