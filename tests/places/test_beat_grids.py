"""Every write of the grid set resolves the collectors' beats again (漏报 joins on
``collector_beat_grids``): generating grids, retiring some, and generating them again.

The city's collector walks :data:`tests.factories.places.BEAT`, which holds the whole
small city; ``collector2`` walks the north-west community only.
"""

from __future__ import annotations

from sqlalchemy import func, select

from duban.accounts import CollectorBeatGrid, set_beat
from duban.places import Region
from duban.places.grids import generate_grids_for
from duban.places.history import retire_regions
from tests.places.conftest import NE, NW, City, lonlat


def beat_grids(city: City, username: str) -> set[str]:
    city.session.commit()
    uid = city.user(username).id
    return set(
        city.session.scalars(
            select(CollectorBeatGrid.grid_code).where(CollectorBeatGrid.user_id == uid)
        )
    )


def current_grids(city: City, parent: str | None = None) -> set[str]:
    stmt = select(Region.code).where(Region.level == "grid", Region.valid_to.is_(None))
    if parent is not None:
        stmt = stmt.where(Region.parent_code == parent)
    return set(city.session.scalars(stmt))


def north_west_beat() -> dict[str, object]:
    corners = [lonlat(-1000, 0), lonlat(0, 0), lonlat(0, 1000), lonlat(-1000, 1000)]
    ring = [list(c) for c in [*corners, corners[0]]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_generated_grids_are_resolved_into_the_beats(city: City) -> None:
    city.build()
    grids = current_grids(city)
    assert len(grids) == 400
    assert beat_grids(city, "collector") == grids
    set_beat(city.session, username="collector2", beat=north_west_beat())
    assert beat_grids(city, "collector2") == current_grids(city, NW)


def test_retired_grids_leave_the_beats(city: City) -> None:
    city.build()
    set_beat(city.session, username="collector2", beat=north_west_beat())
    north_west, north_east = sorted(current_grids(city, NW)), sorted(current_grids(city, NE))
    retired = [*north_west[:3], north_east[0]]
    assert retire_regions(city.session, retired, now=city.clock.now()) == 4
    assert beat_grids(city, "collector2") == set(north_west[3:])
    assert beat_grids(city, "collector") == current_grids(city)
    assert not beat_grids(city, "collector") & set(retired)
    # Generating the community's grids again brings them back into the beats.
    city.clock.advance(seconds=1)
    generate_grids_for(city.session, now=city.clock.now(), community_codes=[NW])
    assert beat_grids(city, "collector2") == current_grids(city, NW)
    assert len(beat_grids(city, "collector2")) == 100
    rows = select(func.count()).select_from(CollectorBeatGrid)
    assert city.session.scalar(rows) == len(current_grids(city)) + 100
