"""The map counts kept with the events equal a GROUP BY over the cases, whatever the cases
went through (intake, dispatch, close, void, merge, a new place or category, parking
past the deadline), and the zoomed-out maps read them: the cells count what the cases
do."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from duban.adapters.photostore import LocalPhotoStore
from duban.cases import mapdata
from duban.cases.mapcounts import counted_cells, map_counts_drift, rebuild_map_counts
from duban.cases.mapdata import map_data
from duban.cases.models import Case
from duban.cases.queries import CaseFilter, overdue_condition
from duban.cases.workflow import OPEN, Action, CaseStatus, Source
from duban.cli import app
from duban.kernel.context import Actor
from duban.kernel.roles import Role
from duban.places.models import Region
from duban.publicview import listing
from duban.publicview.listing import PublicFilter, public_map
from duban.publicview.policy import public_policy
from duban.publicview.rules import Area, AreaKind
from tests.evaluation.conftest import FIX, INTAKE, Step, run
from tests.factories.world import World
from tests.fakes import FixedClock, local
from tests.places.conftest import City, lonlat
from tests.places.conftest import _fresh_caches as _fresh_caches  # autouse: the policy caches

DISPATCH: list[Step] = [
    ("dispatch", "dispatcher", {"unit": "SZGC", "reason": "专业部门"}),
    ("accept", "handler", {}),
]
CORNERS = [lonlat(-950, 950), lonlat(950, 950), lonlat(-950, -950), lonlat(950, -950)]


def _moved(corner: int) -> dict[str, float]:
    lon, lat = CORNERS[corner]
    return {"lon": lon, "lat": lat}


@pytest.fixture
def city(
    session: Session, session_factory: sessionmaker[Session], clock: FixedClock, tmp_path: Path
) -> City:
    made = City(session, clock, session_factory)
    made.store = LocalPhotoStore(tmp_path / "photos")
    return made


def paths(rng: random.Random) -> list[list[Step]]:
    other = rng.randrange(4)
    return [
        [*INTAKE, ("void", "shift_lead", {"reason": "重复上报"})],
        [*INTAKE, *DISPATCH, *FIX],
        [
            ("assign", "operator", {"collector": "collector"}),
            ("verify", "collector", _moved(other)),  # a new grid
            ("file", "shift_lead", {"category_code": "E0101"}),  # a new category
            *DISPATCH,
            *FIX[:3],
        ],
        [
            *INTAKE,
            ("dispatch", "dispatcher", {**DISPATCH[0][2], **_moved(other)}),
            ("return", "handler", {"reason": "非本单位"}),
            *DISPATCH,
        ],
        [*INTAKE, *DISPATCH],  # runs past its deadline: overdue by the clock
        [
            *INTAKE,
            *DISPATCH,
            ("request_park", "handler", {"reason": "需要协调"}),
            ("approve_park", "dispatcher", {}),
        ],
        [*INTAKE, *DISPATCH, *FIX, ("reopen", "shift_lead", {"reason": "未解决"}), *FIX[:0]],
    ]


def _cases(city: City) -> int:
    return int(city.session.scalar(select(func.count()).select_from(Case)) or 0)


def test_the_counts_kept_with_the_events_equal_a_group_by(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    city.build()
    rng = random.Random(17)
    made: list[Case] = []
    for n in range(16):
        city.clock.set(local(2026, 10, 28 + rng.randrange(4), 9 + rng.randrange(6), 0))
        source = Source.PATROL if n % 4 == 0 else Source.HOTLINE
        by = "collector" if source == Source.PATROL else "operator"
        lon, lat = CORNERS[rng.randrange(4)]
        case = city.report(by=by, source=source, lon=lon, lat=lat)
        steps = rng.choice(paths(rng))
        if source == Source.PATROL:
            steps = [s for s in steps if s[0] not in ("assign", "verify")]
        for step in steps:
            city.clock.advance(hours=rng.choice([1, 5, 30]))
            case = run(city, case, [step])
        made.append(case)
        assert map_counts_drift(city.session) == []
    # A duplicate merged into another case.
    original = made[0]
    repeat = city.report(by="operator", source=Source.HOTLINE, lon=CORNERS[0][0], lat=CORNERS[0][1])
    city.act(repeat, Action.MERGE, "operator", duplicate_of=original.code)
    city.session.commit()
    assert map_counts_drift(city.session) == []
    rows = city.session.execute(text("SELECT grid_code, status, flags, cases FROM map_counts"))
    table = [tuple(r) for r in rows if r[3]]
    assert len({r[0] for r in table}) > 1  # several grids: not vacuous
    assert {r[1] for r in table} >= {"closed", "voided", "merged", "handling"}
    assert any(r[2] & 2 for r in table)  # the duplicate
    assert sum(r[3] for r in table) == _cases(city)

    # Moved without an event (a direct update): the check finds it, a rebuild mends it.
    city.session.execute(update(Case).where(Case.id == made[1].id).values(grid_code="ELSEWHERE"))
    city.session.commit()
    found = map_counts_drift(city.session)
    assert len(found) == 2
    assert [d[1:] for d in found if d[0].startswith("ELSEWHERE|")] == [(0, 1)]
    assert sum(d[1] - d[2] for d in found) == 0
    rebuild_map_counts(city.session)
    city.session.commit()
    assert map_counts_drift(city.session) == []

    # The maps read the counts: the cells count the cases the scan counts.
    now = city.clock.now()
    # Cells, not points, for these few cases.
    monkeypatch.setattr(mapdata, "POINTS_ALWAYS", 0)
    monkeypatch.setattr(listing, "POINTS_ALWAYS", 0)
    admin = Actor(user_id=None, username="dispatcher", role=Role.DISPATCHER)
    city.session.execute(update(Case).where(Case.id == made[1].id).values(grid_code=None))
    rebuild_map_counts(city.session)
    city.session.commit()
    late = set(city.session.scalars(select(Case.id).where(overdue_condition(now))))
    assert late
    for filters in (CaseFilter(), CaseFilter(statuses=sorted(OPEN)), CaseFilter(overdue=True)):
        data = map_data(city.session, actor=admin, filters=filters, now=now, zoom=3)
        wanted = [c for c in city.session.scalars(select(Case))]
        if filters.statuses:
            wanted = [c for c in wanted if c.status in OPEN]
        if filters.overdue:
            wanted = [c for c in wanted if c.id in late]
            assert sum(c[4] for c in data["cells"]) == len(wanted)
        assert data["total"] == len(wanted)
        assert data["mode"] == "cells"
        assert sum(c[3] for c in data["cells"]) == sum(c.status in OPEN for c in wanted)
    policy = public_policy()
    box = Area(kind=AreaKind.BBOX, south=-85, west=-180, north=85, east=180)
    for _ in (1,):
        shown = public_map(city.session, policy=policy, box=box, zoom=3, filters=PublicFilter())
        visible = [
            c
            for c in city.session.scalars(select(Case))
            if c.status.value not in policy.hidden_statuses
            and c.duplicate_of_id is None
            and not any(c.category_code.startswith(h) for h in policy.hidden_categories)
        ]
        assert shown["mode"] == "cells"
        assert shown["total"] == len(visible)
        assert sum(c[3] for c in shown["cells"]) == sum(c.status in OPEN for c in visible)
    assert CaseStatus.MERGED in {c.status for c in city.session.scalars(select(Case))}


def test_duban_audit_map_counts_finds_and_mends_a_drift(world: World, db_url: str) -> None:
    world.clock.set(local(2026, 11, 20, 9, 0))
    case = world.case_in(CaseStatus.HANDLING)
    world.session.commit()
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url}
    ok = runner.invoke(app, ["audit", "map-counts"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "map counts: right" in ok.output

    world.session.execute(update(Case).where(Case.id == case.id).values(status="closed"))
    world.session.commit()
    off = runner.invoke(app, ["audit", "map-counts"], env=env)
    assert off.exit_code == 1, off.output
    assert "2 rows off" in off.output
    fixed = runner.invoke(app, ["audit", "map-counts", "--fix"], env=env)
    assert fixed.exit_code == 0, fixed.output
    assert map_counts_drift(world.session) == []


def _brute_cells(
    session: Session, cases: list[Case], size: float, now: datetime
) -> list[list[float | int]]:
    """The cells counted case by case in Python (as the maps did before the database
    summed them): each case at its grid's centre (the current version's, else the latest
    retired one's), summed per cell."""
    centres: dict[str, tuple[float, float]] = {}
    versions = session.execute(
        select(Region.code, Region.min_lat, Region.max_lat, Region.min_lon, Region.max_lon)
        .where(Region.level == "grid")
        .order_by(Region.valid_to.is_(None), Region.valid_from)
    )
    for code, s, n, w, e in versions:  # the current version last: it wins
        centres[code] = ((s + n) / 2, (w + e) / 2)
    late = set(session.scalars(select(Case.id).where(overdue_condition(now))))
    sums: dict[tuple[int, int], list[float]] = {}
    for case in cases:
        if case.grid_code not in centres:
            continue
        lat, lon = centres[case.grid_code]
        cell = sums.setdefault((int((lat + 90) / size), int((lon + 180) / size)), [0.0] * 5)
        for i, v in enumerate((lat, lon, 1, case.status in OPEN, case.id in late)):
            cell[i] += v
    return [[c[0] / c[2], c[1] / c[2], *(int(v) for v in c[2:])] for _, c in sorted(sums.items())]


def test_the_cells_summed_in_the_database_equal_the_cases_counted_one_by_one(
    city: City,
) -> None:
    city.build()
    rng = random.Random(5)
    for _ in range(24):
        city.clock.set(local(2026, 10, 28 + rng.randrange(4), 9 + rng.randrange(6), 0))
        lon, lat = lonlat(rng.uniform(-990, 990), rng.uniform(-990, 990))
        case = city.report(by="operator", source=Source.HOTLINE, lon=lon, lat=lat)
        steps = rng.choice([p for p in paths(rng) if "category_code" not in str(p)])
        for step in steps:
            city.clock.advance(hours=rng.choice([1, 5, 30]))
            case = run(city, case, [step])
    # A retired version of a grid (drawn elsewhere, earlier): the current one places it.
    used = city.session.scalar(select(Case.grid_code).where(Case.grid_code.is_not(None)))
    current = city.session.scalars(
        select(Region).where(Region.code == used, Region.valid_to.is_(None))
    ).first()
    assert current is not None
    city.session.add(
        Region(
            code=current.code,
            level="grid",
            name=current.name,
            parent_code=current.parent_code,
            geometry=current.geometry,
            min_lon=current.min_lon + 1,
            min_lat=current.min_lat + 1,
            max_lon=current.max_lon + 1,
            max_lat=current.max_lat + 1,
            area_m2=current.area_m2,
            attributes=current.attributes,
            source=current.source,
            valid_from=current.valid_from - timedelta(days=30),
            valid_to=current.valid_from,
        )
    )
    city.session.commit()
    now = city.clock.now() + timedelta(days=2)  # some running cases are late by now
    cases = list(city.session.scalars(select(Case)))
    assert len({c.grid_code for c in cases}) > 3
    late = set(city.session.scalars(select(Case.id).where(overdue_condition(now))))
    for size, statuses, only_overdue in itertools.product(
        (0.004, 0.0015, 1.0), ([], sorted(OPEN)), (False, True)
    ):
        wanted = [c for c in cases if not statuses or c.status in OPEN]
        if only_overdue:
            wanted = [c for c in wanted if c.id in late]
        got = counted_cells(
            city.session, now=now, size=size, statuses=statuses, only_overdue=only_overdue
        )
        brute = _brute_cells(city.session, wanted, size, now)
        assert [c[2:] for c in got] == [c[2:] for c in brute]
        assert [c[:2] for c in got] == [pytest.approx(c[:2], abs=1e-9) for c in brute]
        if size < 0.002 and not statuses:
            assert len(got) > 3  # several cells: not vacuous
            assert sum(c[4] for c in got) > 0  # and some overdue
        if only_overdue:
            assert got
            assert all(c[2] == c[4] for c in got)
    # A box keeps the grids whose centres lie in it.
    lats = sorted(c[0] for c in counted_cells(city.session, now=now, size=0.0015))
    south = (lats[0] + lats[-1]) / 2
    boxed = counted_cells(city.session, now=now, size=0.0015, box=(south, -180, 90, 180))
    assert 0 < len(boxed) < len(lats)
    assert all(c[0] >= south for c in boxed)
