"""Generating unit grids for communities: coverage, no overlaps, codes, history."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import select

from duban.kernel.errors import InvalidInput
from duban.places.coords import approx_area_m2
from duban.places.gridgen import parse_grid_code
from duban.places.grids import generate_grids_for
from duban.places.history import region_history
from duban.places.models import Region
from duban.places.region_import import import_region_items
from duban.places.regions import RegionInput
from tests.places.conftest import NE, NW, SE, SW, WEST, City, lonlat, rect


def current(city: City, level: str, parent: str | None = None) -> list[Region]:
    stmt = select(Region).where(Region.level == level, Region.valid_to.is_(None))
    if parent:
        stmt = stmt.where(Region.parent_code == parent)
    return list(city.session.scalars(stmt.order_by(Region.code)))


def test_every_community_is_covered_exactly_by_its_grids(city: City) -> None:
    city.build(grids=False)
    report = generate_grids_for(city.session, now=city.clock.now())
    assert sorted(report.communities) == [NW, SW, NE, SE]
    assert report.grids == report.created == 400
    for community in current(city, "community"):
        grids = current(city, "grid", community.code)
        assert len(grids) == 100
        shape = shapely.from_wkb(community.geometry)
        polys = [shapely.from_wkb(g.geometry) for g in grids]
        union = shapely.union_all(polys)
        # Full coverage: nothing of the community is left out, nothing added.
        assert approx_area_m2(shape.symmetric_difference(union)) < 1e-3
        # No overlaps: the areas add up to the community's.
        assert sum(g.area_m2 for g in grids) == pytest.approx(community.area_m2, abs=1.0)
        tree = shapely.STRtree(polys)
        pairs = tree.query(polys, predicate="overlaps")
        assert pairs.size == 0
        for g in grids:
            assert g.area_m2 == pytest.approx(10_000, rel=0.01)
            assert g.parent_code == community.code
            admin, street, comm, _seq = parse_grid_code(g.code)
            assert admin + street + comm == community.code


def test_grid_codes_run_west_to_east_then_north_to_south(city: City) -> None:
    city.build()
    grids = current(city, "grid", NW)
    centres = {
        g.code: shapely.from_wkb(g.geometry).centroid for g in grids
    }  # 10 × 10 lattice of 100 m squares
    codes = sorted(centres)
    assert codes[0].endswith("001")
    assert codes[-1].endswith("100")
    rows = [codes[i : i + 10] for i in range(0, 100, 10)]
    for row in rows:
        xs = [centres[c].x for c in row]
        ys = [centres[c].y for c in row]
        assert xs == sorted(xs)  # west → east
        assert max(ys) - min(ys) < 1e-6  # one lattice row
    first_of_rows = [centres[row[0]].y for row in rows]
    assert first_of_rows == sorted(first_of_rows, reverse=True)  # north → south
    # The first grid is the north-west corner of the community.
    corner = shapely.Point(lonlat(-990, 990))
    assert shapely.from_wkb(grids[0].geometry).covers(corner)


def test_an_irregular_community_is_cut_and_clipped(city: City) -> None:
    city.build(grids=False)
    # An L-shaped redraw of the north-west community, with its neighbour taking the rest.
    l_shape = shapely.union_all([rect(-1000, 0, -500, 1000), rect(-500, 0, 0, 430)]).normalize()
    report = import_region_items(
        city.session,
        [
            RegionInput(NW, "西北社区", WEST, l_shape),
            RegionInput(
                SW,
                "西南社区",
                WEST,
                shapely.union_all([rect(-1000, -1000, 0, 0), rect(-500, 430, 0, 1000)]).normalize(),
            ),
        ],
        level="community",
        now=city.clock.advance(hours=1),
        source="test",
    )
    assert report.written, report.problems
    generate_grids_for(city.session, now=city.clock.now(), community_codes=[NW, SW])
    for code in (NW, SW):
        community = current(city, "community")[
            [c.code for c in current(city, "community")].index(code)
        ]
        grids = current(city, "grid", code)
        union = shapely.union_all([shapely.from_wkb(g.geometry) for g in grids])
        assert (
            approx_area_m2(shapely.from_wkb(community.geometry).symmetric_difference(union)) < 1e-3
        )
        assert all(g.area_m2 >= 2_000 for g in grids)  # slivers merged into neighbours
        assert len({g.code for g in grids}) == len(grids)


def test_regenerating_keeps_unchanged_grids_and_history(city: City) -> None:
    city.build()
    again = generate_grids_for(city.session, now=city.clock.advance(hours=1), community_codes=[NE])
    assert again.unchanged == 100
    assert again.created == again.updated == again.retired == 0
    # Bigger cells: 25 grids now, 75 retired, and the 25 kept codes get a second version.
    bigger = generate_grids_for(
        city.session,
        now=city.clock.advance(hours=1),
        community_codes=[NE],
        target_area_m2=40_000,
    )
    assert (bigger.updated, bigger.retired, bigger.created) == (25, 75, 0)
    assert len(current(city, "grid", NE)) == 25
    first = f"{NE}001"
    versions = region_history(city.session, first)
    assert len(versions) == 2
    assert versions[0].valid_to == versions[1].valid_from
    assert versions[1].area_m2 == pytest.approx(40_000, rel=0.01)
    retired = region_history(city.session, f"{NE}100")
    assert len(retired) == 1
    assert retired[0].valid_to is not None


def test_all_skips_communities_that_already_have_grids(city: City) -> None:
    city.build(grids=False)
    generate_grids_for(city.session, now=city.clock.now(), community_codes=[NW])
    report = generate_grids_for(city.session, now=city.clock.now())
    assert sorted(report.communities) == [SW, NE, SE]
    assert report.skipped == [(NW, "already has grids")]


def test_unknown_community_or_silly_size_is_an_error(city: City) -> None:
    city.build(grids=False)
    with pytest.raises(InvalidInput, match="411002009009"):
        generate_grids_for(city.session, now=city.clock.now(), community_codes=["411002009009"])
    with pytest.raises(InvalidInput, match="at least 100"):
        generate_grids_for(city.session, now=city.clock.now(), target_area_m2=5.0)
