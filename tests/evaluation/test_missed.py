"""漏报 (missed reports): cases others reported in a collector's beat during their patrol
hours (``patrol:`` of data/evaluation.yaml: weekdays 08:30-12:00 and 14:00-17:30)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from duban.accounts import User
from duban.cases.workflow import Source
from duban.evaluation import evaluate
from duban.evaluation.missed import parse_patrols
from duban.kernel.errors import PolicyError
from tests.factories.cases import LAT, LON
from tests.factories.world import World
from tests.fakes import local


def beat(d: float = 0.001) -> dict:  # type: ignore[type-arg]
    ring = [[LON - d, LAT - d], [LON + d, LAT - d], [LON + d, LAT + d], [LON - d, LAT + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_missed_reports_count_others_reports_in_the_beat_on_patrol(world: World) -> None:
    collector = world.users["collector"]
    world.session.execute(update(User).where(User.id == collector.id).values(beat=beat()))
    world.session.commit()
    made = {}
    for name, at, by, where in [
        ("missed", local(2026, 11, 23, 9, 0), "operator", (LAT, LON)),  # Monday, on patrol
        ("weekend", local(2026, 11, 21, 9, 0), "operator", (LAT, LON)),
        ("lunch", local(2026, 11, 23, 13, 0), "operator", (LAT, LON)),
        ("own", local(2026, 11, 23, 10, 0), "collector", (LAT, LON)),
        ("elsewhere", local(2026, 11, 23, 10, 0), "operator", (LAT + 0.01, LON)),
        ("december", local(2026, 12, 1, 9, 0), "operator", (LAT, LON)),
    ]:
        world.clock.set(at)
        source = Source.PATROL if by == "collector" else Source.HOTLINE
        made[name] = world.report(by=by, lat=where[0], lon=where[1], source=source)
    leader = world.actor("leader")
    _, _, rows = evaluate(
        world.session, actor=leader, obj="collector", start="2026-11-01", end="2026-12-01"
    )
    row = next(r for r in rows if r.key == str(collector.id))
    value = row.indicators["missed_report_count"]
    assert (value.value, value.numerator, value.denominator) == (1.0, 1, None)
    others = [r for r in rows if r.key != str(collector.id)]
    assert all(r.indicators["missed_report_count"].numerator == 0 for r in others)


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
    for bad in ({"days": [8], "hours": ["08:00-12:00"]}, {"days": [1], "hours": ["12-08"]}, []):
        with pytest.raises(PolicyError):
            parse_patrols(bad)
