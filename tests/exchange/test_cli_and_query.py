"""``duban apikey create --unit`` and ``duban exchange …`` on two databases, and the
GET requests extensions the pull reads (``agency_responsible``, ``updated_after``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from duban.accounts.users import create_unit
from duban.cases.models import Case
from duban.cases.workflow import Action
from duban.exchange.models import ExchangeCase
from tests.commands import count, run
from tests.factories.cases import filed_case
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import serving


def test_the_command_line_sets_up_both_sides_and_runs_the_exchange(
    app: FastAPI, world: World, db_url: str, district_engine: Engine, tmp_path: Path
) -> None:
    created = run(db_url, tmp_path, "unit", "create", "QJPT", "某区数字化城管平台")
    assert created.exit_code == 0, created.output
    bad = run(db_url, tmp_path, "apikey", "create", "nobody", "--unit", "NOPE")
    assert bad.exit_code == 2
    assert "there is no unit 'NOPE'" in bad.output
    issued = run(db_url, tmp_path, "apikey", "create", "district-a", "--unit", "QJPT")
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.splitlines()[0].strip()
    world.act(filed_case(world), Action.DISPATCH, "dispatcher", unit="QJPT")

    district_url = district_engine.url.render_as_string(hide_password=False)
    with serving(app) as base:
        result = run(
            district_url, tmp_path, "exchange", "link", "set", "city",
            "--url", f"{base}/open311/v2", "--api-key", key, "--agency", "QJPT",
            "--map", "E0102=E0102",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        listed = run(district_url, tmp_path, "exchange", "link", "list")
        assert "city" in listed.output
        assert key not in listed.output
        first = run(district_url, tmp_path, "exchange", "run")
        assert first.exit_code == 0, first.output
        assert "pulled 1 new" in first.output
        again = run(district_url, tmp_path, "exchange", "pull", "--link", "city")
        assert "pulled 0 new" in again.output
    assert count(district_engine, ExchangeCase) == 1
    assert count(district_engine, Case) == 1
    bad_map = run(district_url, tmp_path, "exchange", "link", "set", "city", "--url", "http://x",
                  "--api-key", "k", "--agency", "A", "--map", "nothing")  # fmt: skip
    assert bad_map.exit_code == 2


def test_get_requests_filters_by_agency_and_by_change_time(
    client: TestClient, world: World, session: Session, clock: FixedClock
) -> None:
    create_unit(session, code="QJPT", name="某区数字化城管平台")
    ours = world.act(filed_case(world), Action.DISPATCH, "dispatcher", unit="QJPT")
    world.act(filed_case(world), Action.DISPATCH, "dispatcher", unit="SZGC")
    since = (clock.now() - timedelta(minutes=1)).isoformat()
    url = "/open311/v2/requests.json"
    found = client.get(url, params={"agency_responsible": "QJPT", "updated_after": since})
    assert found.status_code == 200, found.text
    assert [r["service_request_id"] for r in found.json()] == [ours.code]
    later = (clock.now() + timedelta(minutes=1)).isoformat()
    none = client.get(url, params={"agency_responsible": "QJPT", "updated_after": later})
    assert none.json() == []
    bad = client.get(url, params={"updated_after": "yesterday"})
    assert bad.status_code == 400
