"""The evaluation summary kept with the events equals a recount from scratch, whatever the
cases went through: relocated by the collector or at dispatch, sent to another unit,
returned, reopened, voided, parked, moved without an event."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import shapely.geometry
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.accounts import set_beat
from duban.adapters.photostore import LocalPhotoStore
from duban.cases.models import Case
from duban.cases.workflow import OPEN, Source
from duban.evaluation.definitions import OBJECTS, definitions
from duban.evaluation.indicators import compute, rebuild_summary, recount
from duban.evaluation.missed import CODE as MISSED
from duban.evaluation.summary import Sums, month_sums
from tests.evaluation.conftest import FIX, INTAKE, Step, run
from tests.fakes import FixedClock, local
from tests.places.conftest import City, lonlat, rect
from tests.places.conftest import _fresh_caches as _fresh_caches  # autouse: the policy caches

#: routing suggests the territorial unit in this city: dispatching elsewhere needs a reason
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
    """The small mapped city of the places tests (grids, streets, territorial units)."""
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
            ("verify", "collector", _moved(other)),  # the collector corrects the place
            ("file", "shift_lead", {}),
            *DISPATCH,
            *FIX[:3],
        ],
        [
            *INTAKE,
            ("dispatch", "dispatcher", {**DISPATCH[0][2], **_moved(other)}),
            ("return", "handler", {"reason": "非本单位"}),
            *DISPATCH,  # the return took the unit off: counted under none meanwhile
        ],
        [*INTAKE, ("dispatch", "dispatcher", {"unit": "HWC", "reason": "环卫"})],
        [*INTAKE, *DISPATCH, *FIX[:2], ("check", "collector", {"passed": False, "reason": "脏"})],
        [
            *INTAKE,
            *DISPATCH,
            ("request_park", "handler", {"reason": "需要协调"}),
            ("approve_park", "dispatcher", {}),
        ],
        [
            *INTAKE,
            *DISPATCH,
            *FIX,
            ("reopen", "shift_lead", {"reason": "市民反映未解决"}),
            DISPATCH[1],
            *FIX,
        ],
    ]


def nonzero(sums: Sums) -> Sums:
    return {k: v for k, v in sums.items() if v != [0, 0]}


def stored(city: City) -> Sums:
    rows = city.session.execute(
        text("SELECT month, object, key, indicator, numerator, denominator FROM eval_summary")
    )
    return nonzero({(r[0], r[1], r[2], r[3]): [r[4], r[5]] for r in rows})


def missed_rows(city: City) -> set[tuple[int, int, int]]:
    rows = city.session.execute(text("SELECT case_id, user_id, month FROM missed_reports"))
    return {(r[0], r[1], r[2]) for r in rows}


def test_the_summary_kept_with_the_events_equals_a_recount(city: City) -> None:
    city.build()
    # 漏报: the collector's beat is the west half (the cases moved in and out of it).
    west = shapely.geometry.mapping(rect(-1000, -1000, 0, 1000))
    set_beat(city.session, username="collector", beat=dict(west))
    city.session.commit()
    rng = random.Random(20)
    for n in range(14):
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
    city.session.commit()
    defs = definitions()
    months = {202610, 202611}
    assert {k[0] for k in stored(city)} == months
    assert {k[1] for k in stored(city)} >= {"region", "unit", "creator", "operator"}
    assert len({k[2] for k in stored(city) if k[1] == "region"}) > 1  # relocated: not vacuous
    assert any(k[3] == MISSED for k in stored(city))  # 漏报 counted: not vacuous
    assert stored(city) == nonzero(recount(city.session, defs))

    # Moved without an event (a direct update): corrected at read, until its next event.
    moved = city.session.scalars(
        select(Case).where(Case.status.in_(OPEN)).order_by(Case.id)
    ).first()
    assert moved is not None
    city.session.execute(update(Case).where(Case.id == moved.id).values(street_code="ELSEWHERE"))
    city.session.commit()
    fresh = nonzero(recount(city.session, defs))
    assert stored(city) != fresh
    for month in months:
        read = month_sums(city.session, defs, month)
        flat = {
            (month, obj, key, code): counts
            for obj, keys in read.items()
            for key, codes in keys.items()
            for code, counts in codes.items()
        }
        assert nonzero(flat) == {k: v for k, v in fresh.items() if k[0] == month}
    city.session.expire_all()
    run(city, city.session.get(Case, moved.id), [("supervise", "system", {"note": "督办"})])
    city.session.commit()
    assert stored(city) == fresh

    # What the evaluation reads from the summary is what it counts from the case facts.
    start, end = local(2026, 11, 1), local(2026, 12, 1)
    table = compute(city.session, defs, list(OBJECTS), start, end)
    kept = missed_rows(city)
    rebuild_summary(city.session)  # 漏报 from scratch too: the beats did not change
    city.session.commit()
    assert missed_rows(city) == kept
    assert stored(city) == fresh
    assert compute(city.session, defs, list(OBJECTS), start, end) == table
    assert table["street"]
    assert table["unit"]
