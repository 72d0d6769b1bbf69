"""Credentials we send are sealed at rest: the exchange link's api_key and staff token,
a webhook's secret and a citizen's tracking link read back in clear through the models,
but the database holds neither them nor anything that shows them; migration 0029 seals
the values already there, so old links and keys keep working. The key rotates: values
sealed under an old key (``DUBAN_SECRET_KEY_OLD``) open, and ``duban secrets rotate``
seals them again with the current one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import duban.config
from duban import notify
from duban.cases.actions import NewCase
from duban.cases.public import report_as_citizen, tracked_case
from duban.cases.workflow import Source
from duban.exchange.models import ExchangeLink
from duban.exchange.service import LinkSpec, save_link
from duban.kernel.db.migrate import alembic_config, upgrade
from duban.kernel.db.sealed import (
    SealingKeyError,
    is_current,
    seal,
    unseal,
    use_secret_source,
)
from duban.kernel.db.session import make_session_factory
from duban.notify.models import CaseContact, WebhookSubscription
from tests.commands import run
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


NEW_SECRET = "the-new-secret-key-of-the-city-0123456789"
WRONG_SECRET = "a-secret-nothing-was-ever-sealed-with-0123"
Keys = Callable[..., None]


@pytest.fixture
def keys() -> Iterator[Keys]:
    """Seal and open with the given secrets (the current one first), as
    ``DUBAN_SECRET_KEY`` and ``DUBAN_SECRET_KEY_OLD`` give them; the tests' key after."""
    yield lambda *secrets: use_secret_source(lambda: list(secrets))
    use_secret_source(lambda: SECRET)


def _rotate(engine: Engine, tmp_path: Path) -> tuple[int, str]:
    result = run(engine.url.render_as_string(hide_password=False), tmp_path, "secrets", "rotate")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_the_old_key_and_the_new_one_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUBAN_SECRET_KEY", NEW_SECRET)
    monkeypatch.setenv("DUBAN_SECRET_KEY_OLD", f" {SECRET}, {WRONG_SECRET} ,")
    assert duban.config._environment_sealing_keys() == [NEW_SECRET, SECRET, WRONG_SECRET]
    monkeypatch.delenv("DUBAN_SECRET_KEY_OLD")
    assert duban.config._environment_sealing_keys() == [NEW_SECRET]


def test_values_sealed_with_the_old_key_open_once_it_is_an_old_key(
    world: World, keys: Keys
) -> None:
    code = _write_credentials(world)  # sealed with the tests' key, SECRET
    keys(NEW_SECRET, SECRET)  # the key changed; the old one kept as DUBAN_SECRET_KEY_OLD
    _assert_sealed(world.session, code)
    fresh = seal(API_KEY)  # new values are sealed with the new key
    assert is_current(fresh)
    assert not is_current(_raw(world.session, "SELECT api_key FROM exchange_links"))
    keys(NEW_SECRET)
    assert unseal(fresh) == API_KEY
    with pytest.raises(SealingKeyError, match="DUBAN_SECRET_KEY_OLD"):
        unseal(_raw(world.session, "SELECT api_key FROM exchange_links"))


def test_rotate_seals_every_value_again_with_the_current_key(
    world: World, engine: Engine, tmp_path: Path, keys: Keys
) -> None:
    code = _write_credentials(world)
    world.session.close()
    keys(NEW_SECRET, SECRET)
    status, output = _rotate(engine, tmp_path)
    assert status == 0, output
    assert output.splitlines() == [
        "case_contacts: 1 sealed again with the current key, 0 already sealed with it",
        "exchange_links: 2 sealed again with the current key, 0 already sealed with it",
        "webhook_subscriptions: 1 sealed again with the current key, 0 already sealed with it",
    ]
    status, output = _rotate(engine, tmp_path)  # idempotent: nothing left to do
    assert status == 0, output
    assert "exchange_links: 0 sealed again with the current key, 2 already sealed with it" in (
        output.splitlines()
    )
    keys(NEW_SECRET)  # the old key removed: everything opens, in clear through the models
    with make_session_factory(engine)() as session:
        _assert_sealed(session, code)


def test_rotate_under_a_wrong_key_says_so_and_changes_nothing(
    world: World, engine: Engine, tmp_path: Path, keys: Keys
) -> None:
    code = _write_credentials(world)
    world.session.close()
    with make_session_factory(engine)() as session:
        before = _raw(session, "SELECT api_key FROM exchange_links")
    keys(NEW_SECRET, WRONG_SECRET)  # the key that sealed them is not given
    status, output = _rotate(engine, tmp_path)
    assert status == 1
    assert re.search(
        r"error: case_contacts\.link of row \d+ does not open with DUBAN_SECRET_KEY", output
    )
    assert "Traceback" not in output
    keys(SECRET)
    with make_session_factory(engine)() as session:
        assert _raw(session, "SELECT api_key FROM exchange_links") == before
        _assert_sealed(session, code)
