"""漏报 (missed reports): cases others reported in the unit grids of a collector's beat
during their patrol hours, counted by hand.

Three grids in a row, G1 | G2 | G3. ``collector``'s beat covers G1 and G2 and a quarter
of G3 (not covered: less than half of it); patrol hours Mon–Fri 08:00–18:00 local, and
``collector2`` (beat: G3) patrols on Saturdays 09:00–12:00 instead (an override).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from shapely.geometry import box, mapping
from sqlalchemy import select, update

from duban.accounts import CollectorBeatGrid, resolve_beat_grids, set_beat
from duban.cases import Case
from duban.cases.workflow import Source
from duban.evaluation import evaluate, rebuild_summary
from duban.evaluation import missed as missed_module
from duban.evaluation.missed import CODE, missed_sums, parse_patrols, rebuild_missed, week_second
from duban.evaluation.models import MissedReport, SummaryCount
from duban.evaluation.service import drill_down
from duban.kernel.errors import InvalidInput, NotFound, PolicyError
from duban.places import Region
from duban.places.history import write_versions
from duban.places.index import bump_places_version
from tests.factories.cases import LAT, LON
from tests.factories.history import history_csv, import_file, imported_case
from tests.factories.places import add_grids
from tests.factories.reference import CATEGORY
from tests.factories.world import World
from tests.fakes import local
from tests.http import Api

W = 0.002  # a grid's width in degrees
GRIDS = {f"G{n}": box(LON + (n - 2) * W, LAT - W, LON + (n - 1) * W, LAT + W) for n in (1, 2, 3)}
PERIOD = {"start": "2026-11-01", "end": "2026-12-01"}
PATROL = {
    "days": [1, 2, 3, 4, 5],
    "hours": ["08:00-18:00"],
    "collectors": {"collector2": {"days": [6], "hours": ["09:00-12:00"]}},
}


def centre(grid: str) -> tuple[float, float]:
    point = GRIDS[grid].centroid
    return point.y, point.x


def beat(west: float, east: float) -> dict[str, Any]:
    return dict(mapping(box(west, LAT - W, east, LAT + W)))


#: collector: G1 and G2, and a quarter of G3
BEAT_G1_G2 = beat(LON - W, LON + W + W / 4)
#: after the change: G2 and G3
BEAT_G2_G3 = beat(LON, LON + 2 * W)


@pytest.fixture
def patrol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(missed_module, "patrols", lambda: parse_patrols(PATROL))


def grids_in_place(world: World) -> None:
    """The grids, and the places index told, so reports are located in them."""
    add_grids(world.session, GRIDS, valid_from=local(2020, 1, 1))
    bump_places_version(world.session, world.clock.now())
    world.session.commit()


def report_in(world: World, name: str, at: datetime, by: str, grid: str | None) -> int:
    world.clock.set(at)
    source = Source.PATROL if by == "collector" else Source.HOTLINE
    if grid is None:
        return world.report(by=by, source=source).id
    lat, lon = centre(grid)
    case = world.report(by=by, source=source, lat=lat, lon=lon)
    assert case.grid_code == grid, name
    return case.id


@pytest.fixture
def cases(world: World, patrol: None) -> dict[str, int]:
    """The beats are drawn first (before any grid: a case reported then has none), then
    the cases reported in them: each counted as it is reported."""
    made = {"no_grid": report_in(world, "no_grid", local(2026, 11, 23, 10, 0), "operator", None)}
    grids_in_place(world)
    set_beat(world.session, username="collector", beat=BEAT_G1_G2)
    set_beat(world.session, username="collector2", beat=beat(LON + W, LON + 2 * W))
    for name, at, by, grid in [
        ("in_hours", local(2026, 11, 23, 10, 0), "operator", "G1"),  # Monday
        ("last_minute", local(2026, 11, 24, 17, 59), "operator", "G2"),
        # 08:00 local on Wednesday is 00:00 UTC: on patrol (a UTC clock would say no)
        ("at_eight", local(2026, 11, 25, 8, 0), "operator", "G1"),
        ("own", local(2026, 11, 23, 11, 0), "collector", "G1"),
        # 07:30 local on Tuesday is 23:30 UTC on Monday
        ("early", local(2026, 11, 24, 7, 30), "operator", "G1"),
        ("at_six", local(2026, 11, 24, 18, 0), "operator", "G2"),
        # 01:00 local on Saturday is 17:00 UTC on Friday (a UTC clock would say yes)
        ("saturday_night", local(2026, 11, 28, 1, 0), "operator", "G1"),
        ("elsewhere", local(2026, 11, 23, 10, 0), "operator", "G3"),
        ("saturday_g3", local(2026, 11, 28, 10, 0), "operator", "G3"),
        ("december", local(2026, 12, 1, 10, 0), "operator", "G1"),
    ]:
        made[name] = report_in(world, name, at, by, grid)
    world.session.commit()
    return made


def grids_of(world: World, username: str) -> list[str]:
    uid = world.user(username).id
    return list(
        world.session.scalars(
            select(CollectorBeatGrid.grid_code)
            .where(CollectorBeatGrid.user_id == uid)
            .order_by(CollectorBeatGrid.grid_code)
        )
    )


def missed(world: World, scheme: str = "national") -> dict[str, Any]:
    _, _, rows = evaluate(
        world.session, actor=world.actor("leader"), obj="collector", scheme_code=scheme, **PERIOD
    )
    return {r.code: r for r in rows}


def listed(world: World, username: str) -> list[int]:
    _, found = drill_down(
        world.session,
        actor=world.actor("leader"),
        obj="collector",
        code=username,
        indicator="missed_report_count",
        part=None,
        **PERIOD,
    )
    return [i for i, _ in found]


def test_a_beat_covers_the_grids_mostly_inside_it(world: World, cases: dict[str, int]) -> None:
    assert grids_of(world, "collector") == ["G1", "G2"]  # a quarter of G3 is not enough
    assert grids_of(world, "collector2") == ["G3"]


def test_others_reports_in_the_beat_on_patrol_count(world: World, cases: dict[str, int]) -> None:
    rows = missed(world)
    value = rows["collector"].indicators["missed_report_count"]
    assert (value.value, value.numerator, value.denominator) == (3.0, 3, None)
    assert listed(world, "collector") == sorted(
        cases[n] for n in ("in_hours", "last_minute", "at_eight")
    )
    # collector2's own hours (Saturday mornings), not the default: G3 on Saturday only
    assert rows["collector2"].indicators["missed_report_count"].numerator == 1
    assert listed(world, "collector2") == [cases["saturday_g3"]]


def count(world: World, username: str = "collector") -> int:
    return int(missed(world)[username].indicators["missed_report_count"].numerator)


def test_a_beat_changed_later_leaves_the_past_month(world: World, cases: dict[str, int]) -> None:
    set_beat(world.session, username="collector", beat=BEAT_G2_G3)
    world.session.commit()
    assert grids_of(world, "collector") == ["G2", "G3"]
    before = sorted(cases[n] for n in ("in_hours", "last_minute", "at_eight"))
    assert (count(world), listed(world, "collector")) == (3, before)
    # A case reported now, on patrol, in G3 (now in the beat) counts; in G1 no longer.
    later = report_in(world, "later_g3", local(2026, 11, 26, 10, 0), "operator", "G3")
    report_in(world, "later_g1", local(2026, 11, 26, 11, 0), "operator", "G1")
    world.session.commit()
    assert (count(world), listed(world, "collector")) == (4, sorted([*before, later]))
    set_beat(world.session, username="collector", beat=None)
    world.session.commit()
    assert count(world) == 4  # as reported
    # A rebuild counts every case with today's beats (documented).
    rebuild_summary(world.session)
    world.session.commit()
    assert (count(world), listed(world, "collector")) == (0, [])
    assert count(world, "collector2") == 1


def test_a_case_moved_out_of_the_beat_moves_its_count(world: World, cases: dict[str, int]) -> None:
    case = cases["in_hours"]
    world.act(case, "assign", "operator", collector="collector")
    lat, lon = centre("G3")
    world.act(case, "verify", "collector", lat=lat, lon=lon)  # the place corrected on site
    world.session.commit()
    assert world.session.get(Case, case).grid_code == "G3"  # type: ignore[union-attr]
    assert count(world) == 2
    assert listed(world, "collector") == sorted(cases[n] for n in ("last_minute", "at_eight"))
    # In G3 on a Monday: not collector2's hours (Saturday mornings).
    assert listed(world, "collector2") == [cases["saturday_g3"]]
    lat, lon = centre("G2")
    world.act(case, "file", "shift_lead", lat=lat, lon=lon)  # back into the beat
    world.session.commit()
    assert count(world) == 3
    assert case in listed(world, "collector")


def missed_state(world: World) -> tuple[list[tuple[int, int, int]], dict[tuple[int, str], int]]:
    """The rows of ``missed_reports`` and the summary's 漏报 counts (month, collector id)."""
    s = world.session
    rows = s.execute(
        select(MissedReport.case_id, MissedReport.user_id, MissedReport.month).order_by(
            MissedReport.case_id, MissedReport.user_id
        )
    )
    summary = s.execute(
        select(SummaryCount.month, SummaryCount.key, SummaryCount.numerator).where(
            SummaryCount.indicator == CODE, SummaryCount.numerator != 0
        )
    )
    return [tuple(r) for r in rows], {(int(m), str(k)): int(n) for m, k, n in summary}


def assert_as_recounted(world: World) -> dict[tuple[int, str], int]:
    """What was committed equals a full recount (:func:`rebuild_missed`, today's beats):
    the rows of ``missed_reports`` and the summary's counts. Rolls the recount back;
    returns the summary's counts."""
    world.session.commit()
    rows, summary = missed_state(world)
    rebuild_missed(world.session)
    recount = {(m, key): n for (m, _, key, _), (n, _) in missed_sums(world.session).items() if n}
    assert (rows, summary) == (missed_state(world)[0], recount)
    world.session.rollback()
    return summary


def in_grid(world: World, case: int) -> str | None:
    found = world.session.get(Case, case)
    assert found is not None
    world.session.refresh(found)
    return found.grid_code


def test_every_place_correction_of_an_action_moves_the_count(
    world: World, cases: dict[str, int]
) -> None:
    """verify (the collector on site), file (the shift lead), dispatch (the dispatcher)
    may each correct the place; after each the counts are those of a full recount."""
    case = cases["in_hours"]
    assert_as_recounted(world)
    world.act(case, "assign", "operator", collector="collector")
    # G3 on a Monday: nobody's (collector2 patrols it on Saturdays); G2: collector's beat.
    for action, by, grid, extra, missed_by_collector in [
        ("verify", "collector", "G3", {}, 2),
        ("file", "shift_lead", "G2", {}, 3),
        ("dispatch", "dispatcher", "G3", {"unit": "SZGC", "reason": "改派"}, 2),
    ]:
        lat, lon = centre(grid)
        world.act(case, action, by, lat=lat, lon=lon, **extra)
        assert in_grid(world, case) == grid, action
        assert_as_recounted(world)
        assert count(world) == missed_by_collector, action
        assert (case in listed(world, "collector")) == (grid == "G2"), action


def test_a_grid_edited_without_an_event_moves_the_count(
    world: World, cases: dict[str, int]
) -> None:
    """An admin's direct fix of a case's grid (no action, no event) moves its 漏报 too."""
    found = world.session.get(Case, cases["in_hours"])
    assert found is not None
    found.grid_code = "G3"
    world.session.commit()
    assert_as_recounted(world)
    assert count(world) == 2
    assert cases["in_hours"] not in listed(world, "collector")
    # Into collector2's grid on a Saturday morning: counted there; out of any grid: nowhere.
    found = world.session.get(Case, cases["saturday_night"])
    assert found is not None
    found.grid_code, world.session.get(Case, cases["at_eight"]).grid_code = "G2", None  # type: ignore[union-attr]
    world.session.commit()
    assert_as_recounted(world)
    assert count(world) == 1  # last_minute only: saturday_night is off patrol anywhere


def test_a_regrid_keeps_the_cases_and_their_count(world: World, cases: dict[str, int]) -> None:
    """A places import writes new versions of grids (the beats resolved again); the cases
    keep the grid they were filed with, and the counts stay those of a recount."""
    before = assert_as_recounted(world)
    old = world.session.scalars(
        select(Region).where(Region.code == "G3", Region.valid_to.is_(None))
    ).one()
    now = local(2026, 12, 2)
    columns = ("code", "level", "name", "parent_code", "geometry", "min_lon", "min_lat")
    row = {c: getattr(old, c) for c in (*columns, "max_lon", "max_lat", "area_m2")}
    write_versions(
        world.session,
        [(old, now)],
        [{**row, "name": "G3 (redrawn)", "attributes": {}, "source": "test", "valid_from": now}],
        now,
    )
    assert assert_as_recounted(world) == before
    assert in_grid(world, cases["elsewhere"]) == "G3"


def test_the_history_import_moves_the_count_with_a_corrected_place(
    world: World, patrol: None, tmp_path: Path
) -> None:
    """An old platform's case reported in the beat and placed elsewhere on site."""
    grids_in_place(world)
    set_beat(world.session, username="collector", beat=BEAT_G1_G2)
    world.session.commit()
    (lat1, lon1), (lat3, lon3) = centre("G1"), centre("G3")
    at = [local(2026, 11, 23, 10, m).isoformat() for m in (0, 10, 20, 30)]
    report = {
        "action": "report",
        "source": "hotline",
        "category_code": CATEGORY,
        "description": "旧系统案件",
    }
    rows = [
        {"case": "OLD-1", "at": at[0], "user": "operator", **report, "lon": lon1, "lat": lat1},
        {
            "case": "OLD-1",
            "at": at[1],
            "action": "assign",
            "user": "operator",
            "collector": "collector",
        },
        {
            "case": "OLD-1",
            "at": at[2],
            "action": "verify",
            "user": "collector",
            "lon": lon3,
            "lat": lat3,
        },
        {"case": "OLD-2", "at": at[3], "user": "operator", **report, "lon": lon1, "lat": lat1},
    ]
    columns = ("case", "at", "action", "user", "source", "category_code", "description")
    columns += ("lon", "lat", "collector")
    done = import_file(world.session, history_csv(tmp_path, rows, columns))
    assert done.refused == []
    assert in_grid(world, imported_case(world.session, "OLD-1").id) == "G3"
    assert_as_recounted(world)
    assert listed(world, "collector") == [imported_case(world.session, "OLD-2").id]


def test_resolving_every_beat_after_the_grids_change(world: World, cases: dict[str, int]) -> None:
    world.session.execute(
        update(Region).where(Region.code == "G1").values(valid_to=local(2026, 11, 30))
    )
    resolve_beat_grids(world.session)
    world.session.commit()
    assert grids_of(world, "collector") == ["G2"]
    assert grids_of(world, "collector2") == ["G3"]


def test_setting_a_beat_is_checked(world: World) -> None:
    with pytest.raises(InvalidInput):
        set_beat(world.session, username="operator", beat=BEAT_G1_G2)
    with pytest.raises(InvalidInput):
        set_beat(world.session, username="collector", beat={"type": "Point", "coordinates": []})
    with pytest.raises(NotFound):
        set_beat(world.session, username="nobody", beat=None)


def test_missed_cases_are_deducted_from_the_score(world: World, cases: dict[str, int]) -> None:
    national = missed(world)["collector"]
    assert national.items["missed"] == -6.0  # 2 points a case
    rest = sum(v for k, v in national.items.items() if k != "missed")
    assert national.score == pytest.approx(rest + 20 - 6)
    city = missed(world, "city_streets")["collector"]
    assert city.items["missed"] == -1.5  # 0.5 a case
    set_beat(world.session, username="collector", beat=None)
    rebuild_summary(world.session)
    again = missed(world)["collector"]
    assert again.items["missed"] == 0.0
    assert again.score == pytest.approx(national.score + 6)


def test_api_drill_down_and_the_bulletin(api: Api, world: World, cases: dict[str, int]) -> None:
    r = api.get(
        "/evaluation/cases",
        "leader",
        object="collector",
        code="collector",
        indicator="missed_report_count",
        **{"from": "2026-11-01", "to": "2026-12-01"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["indicator"], body["part"], body["count"]) == (
        "missed_report_count",
        "numerator",
        3,
    )
    assert [c["id"] for c in body["cases"]] == listed(world, "collector")
    r = api.get("/reports/bulletin", "leader", period="2026-11", format="xlsx", object="collector")
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content))["监督员指标明细"]
    head, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    column = head.index("漏报数")
    by_name = {row[0]: row[column] for row in rows}
    assert by_name[world.user("collector").display_name] == 3
    assert by_name[world.user("collector2").display_name] == 1


def test_patrol_hours_per_collector_and_bad_data() -> None:
    default, by_name = parse_patrols(
        {
            "days": [1, 2, 3, 4, 5],
            "hours": ["08:30-12:00"],
            "collectors": {"night": {"days": [6, 7], "hours": ["20:00-23:00"]}},
        }
    )
    assert default.covers(local(2026, 11, 23, 9, 0))
    assert not default.covers(local(2026, 11, 23, 12, 0))
    assert by_name["night"].covers(local(2026, 11, 21, 21, 0))
    assert not by_name["night"].covers(local(2026, 11, 23, 21, 0))
    assert week_second(local(2026, 11, 23, 0, 0, 1)) == 1  # Monday
    assert by_name["night"].windows()[0] == (5 * 86400 + 20 * 3600, 5 * 86400 + 23 * 3600)
    for bad in ({"days": [8], "hours": ["08:00-12:00"]}, {"days": [1], "hours": ["12-08"]}, []):
        with pytest.raises(PolicyError):
            parse_patrols(bad)
