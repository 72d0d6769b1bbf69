"""Open311 keys and the bulk export scoped to a territory (issue 15 item 1): a key bound to
a street reads, follows and exports only that street's requests and reports only inside
it; a key of the whole city and reads without a key are as before."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from duban.cases.models import Case
from duban.cases.workflow import Action
from duban.cli import app
from duban.kernel.errors import InvalidInput
from duban.open311.apikeys import create_api_key, list_api_keys
from duban.places.index import forget_places_index
from duban.reference import policy as policy_module
from tests.factories.platforms import EAST, WEST, two_level_city
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.open311.conftest import LAT, LON


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    policy_module._cache.clear()
    forget_places_index()
    yield
    policy_module._cache.clear()
    forget_places_index()


@pytest.fixture
def streets(world: World) -> tuple[Case, Case]:
    """A case in each street, each verified (a status change Open311 lists)."""
    two_level_city(world, levels=1)
    west = world.report(description="西区：暴露垃圾")
    east = world.report(lon=LON + 0.01, description="东区：暴露垃圾")
    assert (west.street_code, east.street_code) == (WEST, EAST)
    for case in (west, east):
        world.act(case, Action.ASSIGN, "operator", collector="collector")
        world.act(case, Action.VERIFY, "collector")
    return west, east


@pytest.fixture
def west_key(session: Session, clock: FixedClock, streets: tuple[Case, Case]) -> str:
    return create_api_key(session, name="west-app", clock=clock, region_code=WEST).key


def codes(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["service_request_id"] for item in response.json()}


def test_a_streets_key_reads_only_its_streets_requests(
    http: httpx.Client, streets: tuple[Case, Case], west_key: str, api_key: str
) -> None:
    west, east = streets
    assert codes(http.get("requests.json", params={"api_key": west_key})) == {west.code}
    # Not even by its id: as if it did not exist.
    asked = {"api_key": west_key, "service_request_id": east.code}
    assert codes(http.get("requests.json", params=asked)) == set()
    assert http.get(f"requests/{east.code}.json", params={"api_key": west_key}).status_code == 404
    assert http.get(f"requests/{west.code}.json", params={"api_key": west_key}).status_code == 200
    # A city key and a read without a key cover the city.
    assert codes(http.get("requests.json", params={"api_key": api_key})) == {west.code, east.code}
    assert codes(http.get("requests.json")) == {west.code, east.code}
    # A wrong key is refused, not read as "no key".
    assert http.get("requests.json", params={"api_key": "o311_nonsense"}).status_code == 403


def test_a_streets_key_follows_only_its_streets_updates(
    http: httpx.Client, streets: tuple[Case, Case], west_key: str
) -> None:
    west, east = streets
    response = http.get("servicerequestupdates.json", params={"api_key": west_key})
    assert response.status_code == 200, response.text
    seen = {u["service_request_id"] for u in response.json()}
    assert seen == {west.code}
    everything = http.get("servicerequestupdates.json").json()
    assert {u["service_request_id"] for u in everything} == {west.code, east.code}


def test_a_streets_key_reports_only_inside_its_street(
    http: httpx.Client, session: Session, streets: tuple[Case, Case], west_key: str
) -> None:
    def count() -> int:
        session.rollback()
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)

    before = count()
    data: dict[str, Any] = {
        "api_key": west_key,
        "service_code": "E0102",
        "lat": str(LAT),
        "long": str(LON + 0.01),
        "description": "东区的问题",
    }
    outside = http.post("requests.json", data=data)
    assert outside.status_code == 403, outside.text
    assert count() == before
    inside = http.post("requests.json", data={**data, "long": str(LON), "description": "西区"})
    assert inside.status_code == 200, inside.text
    assert count() == before + 1


def test_a_key_needs_a_real_territory(
    session: Session, clock: FixedClock, streets: tuple[Case, Case]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_api_key(session, name="nowhere", clock=clock, region_code="999999")
    assert caught.value.detail["field"] == "region"
    create_api_key(session, name="west-app", clock=clock, region_code=WEST)
    assert [(k.name, k.region_code) for k in list_api_keys(session)] == [("west-app", WEST)]


def test_the_export_covers_a_territory_or_a_keys_territory(
    cli: CliRunner, streets: tuple[Case, Case], west_key: str, tmp_path: Path
) -> None:
    west, east = streets

    def exported(*args: str) -> set[str]:
        out = tmp_path / "cases.csv"
        result = cli.invoke(app, ["export", "open311", *args, str(out)])
        assert result.exit_code == 0, result.output
        rows = csv.DictReader(out.read_text(encoding="utf-8").splitlines())
        return {row["service_request_id"] for row in rows}

    assert exported() == {west.code, east.code}
    assert exported("--region", EAST) == {east.code}
    assert exported("--for-key", "west-app") == {west.code}
    clash = cli.invoke(app, ["export", "open311", "--for-key", "west-app", "--region", EAST, "-"])
    assert clash.exit_code == 2
    listed = cli.invoke(app, ["apikey", "list"])
    assert f"territory {WEST}" in listed.stdout
