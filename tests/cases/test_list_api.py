"""``GET /api/v1/cases``: filters and pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from duban.app import create_app
from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from tests.factories.world import World
from tests.fakes import FixedClock, local
from tests.http import API, Api, assert_error, make_settings


def ids(api: Api, by: str = "dispatcher", **params: Any) -> set[int]:
    response = api.get("/cases", by, **params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"])  # all on one page here
    return {c["id"] for c in page["items"]}


@pytest.fixture
def cases(api: Api, world: World) -> dict[str, int]:
    """A few cases in different statuses, units, categories and sources."""
    hwc = world.case_in(CaseStatus.FILED)
    world.act(hwc, "dispatch", "dispatcher", unit="HWC")
    world.act(hwc, "accept", "handler2")
    return {
        "szgc": api.given("dispatched")["id"],  # hotline E0102, dispatched to SZGC
        "hwc": hwc.id,  # hotline E0102, handling by HWC
        "citizen": api.report("citizen", source="citizen", category_code="E0101")["id"],
        "patrol": api.patrol(category_code="C0102")["id"],
    }


def test_no_filter_lists_everything_newest_first(api: Api, cases: dict[str, int]) -> None:
    page = api.get("/cases", "dispatcher").json()
    assert page["total"] == 4
    assert [c["id"] for c in page["items"]] == sorted(cases.values(), reverse=True)
    assert page["items"][0]["events"] is None  # the timeline is only in the detail


def test_filter_by_status_takes_a_comma_list(api: Api, cases: dict[str, int]) -> None:
    assert ids(api, status="dispatched") == {cases["szgc"]}
    assert ids(api, status="dispatched,handling") == {cases["szgc"], cases["hwc"]}
    assert ids(api, status="reported, verified") == {cases["citizen"], cases["patrol"]}
    assert ids(api, status="closed") == set()


def test_unknown_status_is_422(api: Api, cases: dict[str, int]) -> None:
    error = assert_error(api.get("/cases", "dispatcher", status="open"), 422, "invalid_input")
    assert error["detail"]["field"] == "status"
    assert "open" in error["message"]
    assert "reported" in error["message"]  # lists the real ones
    error = assert_error(api.get("/cases", "dispatcher", source="tv"), 422, "invalid_input")
    assert error["detail"]["field"] == "source"


def test_filter_by_unit(api: Api, cases: dict[str, int]) -> None:
    assert ids(api, unit="SZGC") == {cases["szgc"]}
    assert ids(api, unit="HWC") == {cases["hwc"]}
    assert ids(api, unit="NOPE") == set()


def test_filter_by_category_major_class_includes_subclasses(
    api: Api, cases: dict[str, int]
) -> None:
    assert ids(api, category="E0102") == {cases["szgc"], cases["hwc"]}
    assert ids(api, category="E0101") == {cases["citizen"]}
    assert ids(api, category="E01") == {cases["szgc"], cases["hwc"], cases["citizen"]}
    assert ids(api, category="C01") == {cases["patrol"]}
    assert ids(api, category="C0102") == {cases["patrol"]}  # 部件 0102, not 事件 0102
    assert ids(api, category="E02") == set()
    assert ids(api, category="E0%") == set()  # no SQL wildcards


def test_filter_by_source(api: Api, cases: dict[str, int]) -> None:
    assert ids(api, source="hotline") == {cases["szgc"], cases["hwc"]}
    assert ids(api, source="citizen,patrol") == {cases["citizen"], cases["patrol"]}


def test_filter_overdue_follows_the_clock(
    api: Api, cases: dict[str, int], clock: FixedClock
) -> None:
    assert ids(api, overdue="true") == set()
    assert ids(api, overdue="false") == set(cases.values())
    clock.advance(hours=6)  # 15:00: exactly at the deadline, not yet over
    assert ids(api, overdue="true") == set()
    clock.advance(minutes=1)
    assert ids(api, overdue="true") == {cases["szgc"], cases["hwc"]}
    assert ids(api, overdue="false") == {cases["citizen"], cases["patrol"]}
    detail = api.case(cases["szgc"])
    assert detail["overdue"] is True
    assert detail["light"] == "red"
    assert detail["seconds_left"] < 0


def test_a_fix_reported_late_stays_overdue(api: Api, clock: FixedClock) -> None:
    late = api.handling()
    on_time = api.awaiting_check()
    clock.advance(days=1)
    api.act(late["id"], "feedback", "handler", photo_ids=[api.photo()])
    assert ids(api, overdue="true") == {late["id"]}
    assert ids(api, overdue="false") == {on_time["id"]}
    assert api.case(late["id"])["overdue"] is True
    assert api.case(on_time["id"])["overdue"] is False


def test_filter_by_grid_code_prefix(api: Api, world: World, cases: dict[str, int]) -> None:
    # Cases get grid codes from the grid layer; here they are set directly.
    for key, grid in [("szgc", "411002001001001"), ("citizen", "411002001002003")]:
        world.session.execute(update(Case).where(Case.id == cases[key]).values(grid_code=grid))
    world.session.commit()
    assert ids(api, grid="411002001001001") == {cases["szgc"]}
    assert ids(api, grid="411002001001") == {cases["szgc"]}
    assert ids(api, grid="411002001") == {cases["szgc"], cases["citizen"]}
    assert ids(api, grid="411003") == set()
    assert api.case(cases["szgc"])["grid_code"] == "411002001001001"


def test_filter_by_creation_date_and_time(api: Api, clock: FixedClock) -> None:
    monday = api.report()["id"]  # 2026-11-23 09:00 +08:00
    clock.advance(days=1, hours=1)
    tuesday = api.report()["id"]  # 2026-11-24 10:00 +08:00
    assert ids(api, created_from="2026-11-24") == {tuesday}
    assert ids(api, created_to="2026-11-23") == {monday}  # a date is inclusive
    assert ids(api, created_from="2026-11-23", created_to="2026-11-24") == {monday, tuesday}
    assert ids(api, created_from="2026-11-25") == set()
    assert ids(api, created_from="2026-11-24T10:00:00+08:00") == {tuesday}
    assert ids(api, created_from="2026-11-24T10:00:01+08:00") == set()
    assert ids(api, created_to="2026-11-24T10:00:00+08:00") == {monday}  # exclusive
    assert ids(api, created_to="2026-11-24T02:00:01Z") == {monday, tuesday}
    assert ids(api, created_from="2026-11-24T10:00:00") == {tuesday}  # naive: city time
    assert ids(api, created_to="2026-11-22") == set()
    error = assert_error(
        api.get("/cases", "dispatcher", created_from="yesterday"), 422, "invalid_input"
    )
    assert error["detail"]["field"] == "created_from"


def test_dates_are_days_of_the_city(api: Api, clock: FixedClock) -> None:
    clock.set(local(2026, 11, 24, 0, 30))  # 2026-11-23 16:30 UTC: the 24th in Shanghai
    early = api.report()["id"]
    assert ids(api, created_from="2026-11-24", created_to="2026-11-24") == {early}
    assert ids(api, created_to="2026-11-23") == set()


def test_pages(api: Api, clock: FixedClock) -> None:
    made = []
    for _ in range(5):
        made.append(api.report()["id"])
        clock.advance(minutes=1)
    newest_first = made[::-1]
    first = api.get("/cases", "dispatcher", page_size=2).json()
    assert (first["total"], first["pages"], first["page"], first["page_size"]) == (5, 3, 1, 2)
    assert [c["id"] for c in first["items"]] == newest_first[:2]
    second = api.get("/cases", "dispatcher", page_size=2, page=2).json()
    assert [c["id"] for c in second["items"]] == newest_first[2:4]
    last = api.get("/cases", "dispatcher", page_size=2, page=3).json()
    assert [c["id"] for c in last["items"]] == newest_first[4:]
    beyond = api.get("/cases", "dispatcher", page_size=2, page=4).json()
    assert (beyond["items"], beyond["total"]) == ([], 5)
    whole = api.get("/cases", "dispatcher", page_size=200).json()
    assert (whole["total"], whole["pages"], len(whole["items"])) == (5, 1, 5)
    default = api.get("/cases", "dispatcher").json()
    assert default["page_size"] == 50
    empty = api.get("/cases", "dispatcher", status="closed").json()
    assert (empty["total"], empty["pages"], empty["items"]) == (0, 1, [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 500}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"overdue": "maybe"}, "overdue"),
    ],
)
def test_bad_paging_and_flags_are_422(api: Api, params: dict[str, Any], field: str) -> None:
    error = assert_error(api.get("/cases", "dispatcher", **params), 422, "invalid_input")
    assert field in {f["field"] for f in error["detail"]["fields"]}
    assert field in error["message"]


def test_filters_combine(api: Api, cases: dict[str, int]) -> None:
    assert ids(api, status="dispatched,handling", unit="HWC") == {cases["hwc"]}
    assert ids(api, category="E01", source="citizen") == {cases["citizen"]}
    assert ids(api, category="C01", source="hotline") == set()


def test_supervised_filter(api: Api, cases: dict[str, int]) -> None:
    api.act(cases["hwc"], "supervise", "supervisor", note="督办")
    assert ids(api, supervised="true") == {cases["hwc"]}
    assert cases["hwc"] not in ids(api, supervised="false")


def test_a_smaller_configured_page_limit_is_what_the_page_says(
    api: Api, db_url: str, tmp_path: Path, engine: Engine, clock: FixedClock
) -> None:
    for _ in range(5):
        api.report()
    small = create_app(make_settings(db_url, tmp_path, page_size_max=2), engine=engine, clock=clock)
    with TestClient(small) as client:
        response = client.get(
            f"{API}/cases", params={"page_size": 4}, headers=api.headers("dispatcher")
        )
    page = response.json()
    assert len(page["items"]) == 2
    assert (page["page_size"], page["pages"], page["total"]) == (2, 3, 5)
