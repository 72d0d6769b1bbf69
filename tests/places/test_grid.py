"""GridIndex: which unit grid a point is in, one at a time and in bulk."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, box

from duban.places.grid import GridIndex

COMMUNITY = "411002001002"


def code(seq: int) -> str:
    return f"{COMMUNITY}{seq:03d}"


def two_by_two() -> GridIndex:
    """Four 0.001° squares meeting at (113.851, 34.031); codes 001 NW, 002 NE, 003 SW, 004 SE."""
    # Literal coordinates, so that the test points below lie exactly on the edges.
    west, middle, east = 113.850, 113.851, 113.852
    south, centre, north = 34.030, 34.031, 34.032
    return GridIndex(
        [
            (code(4), box(middle, south, east, centre)),
            (code(1), box(west, centre, middle, north)),
            (code(3), box(west, south, middle, centre)),
            (code(2), box(middle, centre, east, north)),
        ]
    )


def jittered_lattice(n: int, seed: int, step: float = 0.001) -> list[tuple[str, Polygon]]:
    """n×n quadrilaterals sharing randomly moved corners: edges are shared exactly."""
    rng = np.random.default_rng(seed)
    xs = 113.80 + step * np.arange(n + 1)
    ys = 34.00 + step * np.arange(n + 1)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + rng.uniform(-0.3, 0.3, gx.shape) * step
    gy = gy + rng.uniform(-0.3, 0.3, gy.shape) * step
    grids = []
    for j in range(n):
        for i in range(n):
            ring = [(gx[j, i], gy[j, i]), (gx[j, i + 1], gy[j, i + 1]),
                    (gx[j + 1, i + 1], gy[j + 1, i + 1]), (gx[j + 1, i], gy[j + 1, i])]  # fmt: skip
            grids.append((f"{COMMUNITY}{j:02d}{i:01d}" if n <= 10 else f"{j:07d}{i:08d}",
                          Polygon(ring)))  # fmt: skip
    return grids


def brute_force(grids: list[tuple[str, Any]], lon: float, lat: float) -> str | None:
    """The documented rule, written the slow obvious way."""
    covering = [c for c, g in grids if g.covers(Point(lon, lat))]
    return min(covering) if covering else None


def brute_force_many(grids: list[tuple[str, Any]], points: np.ndarray) -> list[str | None]:
    """`brute_force` for many points: every polygon against every point."""
    codes = np.array([c for c, _ in grids])
    polygons = np.array([g for _, g in grids], dtype=object)
    covers = shapely.covers(polygons[:, None], shapely.points(points)[None, :])
    return [min(codes[column]) if column.any() else None for column in covers.T]


# --- the basics ----------------------------------------------------------------------------------


def test_points_inside_a_grid_get_its_code() -> None:
    index = two_by_two()
    assert index.locate(113.8505, 34.0315) == code(1)
    assert index.locate(113.8515, 34.0315) == code(2)
    assert index.locate(113.8505, 34.0305) == code(3)
    assert index.locate(113.8515, 34.0305) == code(4)


def test_points_outside_every_grid_get_none() -> None:
    index = two_by_two()
    assert index.locate(113.849, 34.031) is None
    assert index.locate(113.8515, 34.0325) is None
    assert index.locate(0.0, 0.0) is None
    assert index.locate(math.nan, 34.031) is None
    assert index.locate_many([113.849, math.nan, 113.8515], [34.031, 34.031, 34.0305]).tolist() == [
        -1,
        -1,
        3,
    ]


def test_a_point_on_a_shared_edge_belongs_to_the_smallest_code() -> None:
    index = two_by_two()
    # Edge between 001 (west) and 002 (east), and between 003 and 004.
    assert index.locate(113.851, 34.0315) == code(1)
    assert index.locate(113.851, 34.0305) == code(3)
    # Edge between 001 (north) and 003 (south); between 002 and 004.
    assert index.locate(113.8505, 34.031) == code(1)
    assert index.locate(113.8515, 34.031) == code(2)
    # The vertex all four share.
    assert index.locate(113.851, 34.031) == code(1)
    # The outer boundary is part of the grid (closed polygons).
    assert index.locate(113.852, 34.0305) == code(4)
    assert index.locate(113.852, 34.030) == code(4)


def test_bulk_and_single_lookups_apply_the_same_tie_break() -> None:
    index = two_by_two()
    lons = [113.851, 113.851, 113.8505, 113.8515, 113.851, 113.852, 113.852]
    lats = [34.0315, 34.0305, 34.031, 34.031, 34.031, 34.0305, 34.030]
    positions = index.locate_many(lons, lats)
    assert index.codes_at(positions) == [
        index.locate(x, y) for x, y in zip(lons, lats, strict=True)
    ]
    assert index.codes_at(positions) == [
        code(1),
        code(3),
        code(1),
        code(2),
        code(1),
        code(4),
        code(4),
    ]


def test_codes_length_membership_and_polygons() -> None:
    index = two_by_two()
    assert index.codes == (code(1), code(2), code(3), code(4))
    assert len(index) == 4
    assert code(3) in index
    assert "nope" not in index
    assert list(index) == list(index.codes)
    assert index.polygon(code(1)).equals(box(113.850, 34.031, 113.851, 34.032))
    with pytest.raises(KeyError):
        index.polygon(code(9))
    assert index.codes_at(np.array([0, -1, 3])) == [code(1), None, code(4)]


def test_an_empty_index_finds_nothing() -> None:
    index = GridIndex([])
    assert len(index) == 0
    assert index.locate(113.85, 34.03) is None
    assert index.locate_many([113.85], [34.03]).tolist() == [-1]


def test_bad_input_is_rejected_when_building() -> None:
    with pytest.raises(ValueError, match="appears more than once"):
        GridIndex([(code(1), box(0, 0, 1, 1)), (code(1), box(1, 0, 2, 1))])
    with pytest.raises(ValueError, match="empty Polygon"):
        GridIndex([(code(1), Polygon())])
    with pytest.raises(ValueError, match="LineString"):
        GridIndex([(code(1), shapely.LineString([(0, 0), (1, 1)]))])
    with pytest.raises(ValueError, match="nothing"):
        GridIndex([(code(1), None)])


def test_lon_and_lat_arrays_must_have_the_same_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        two_by_two().locate_many([113.85, 113.86], [34.03])


# --- holes, multipolygons, many vertices, invalid polygons ---------------------------------------


def test_holes_and_islands() -> None:
    outer = box(113.85, 34.03, 113.86, 34.04).difference(box(113.853, 34.033, 113.857, 34.037))
    island = box(113.854, 34.034, 113.856, 34.036)
    two_parts = MultiPolygon(
        [box(113.87, 34.03, 113.871, 34.031), box(113.88, 34.03, 113.881, 34.031)]
    )
    grids = [("B", outer), ("A", island), ("C", two_parts)]
    index = GridIndex(grids)
    points = [
        (113.851, 34.031),  # in outer ring
        (113.855, 34.035),  # on the island
        (113.8535, 34.0335),  # in the hole, off the island
        (113.853, 34.035),  # on the hole's edge
        (113.8705, 34.0305),  # first part of C
        (113.8805, 34.0305),  # second part of C
        (113.875, 34.0305),  # between C's parts
    ]
    expected = ["B", "A", None, "B", "C", "C", None]
    assert [index.locate(x, y) for x, y in points] == expected
    lons, lats = zip(*points, strict=True)
    assert index.codes_at(index.locate_many(lons, lats)) == expected


def test_grids_with_many_vertices_and_invalid_grids_answer_consistently() -> None:
    circle = Point(113.85, 34.03).buffer(0.002, quad_segs=64)  # 256 edges: GEOS path
    bow_tie = Polygon([(113.86, 34.03), (113.862, 34.032), (113.862, 34.03), (113.86, 34.032)])
    assert not bow_tie.is_valid
    neighbour = box(113.852, 34.028, 113.86, 34.032)
    grids = [("1", circle), ("2", bow_tie), ("3", neighbour)]
    index = GridIndex(grids)
    rng = np.random.default_rng(3)
    lons = rng.uniform(113.847, 113.863, 4000)
    lats = rng.uniform(34.027, 34.033, 4000)
    bulk = index.codes_at(index.locate_many(lons, lats))
    single = [index.locate(x, y) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert bulk == single
    valid = [("1", circle), ("3", neighbour)]
    for k in range(0, 4000, 7):
        if bulk[k] != "2" and not bow_tie.intersects(Point(lons[k], lats[k])):
            assert bulk[k] == brute_force(valid, lons[k], lats[k])


# --- agreement with the rule on a realistic tessellation -----------------------------------------


def boundary_points(grids: list[tuple[str, Any]], rng: np.random.Generator) -> np.ndarray:
    """All vertices, exact edge midpoints of axis-parallel edges, and points along edges."""
    polygons = np.array([g for _, g in grids], dtype=object)
    vertices = shapely.get_coordinates(polygons)
    rings = shapely.get_exterior_ring(polygons)
    along = shapely.get_coordinates(
        shapely.line_interpolate_point(rings, rng.uniform(0, 1, len(rings)), normalized=True)
    )
    return np.vstack([vertices, along])


@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
# Each example builds an index and checks some 400 points by brute force: tens of ms.
@settings(max_examples=40, deadline=timedelta(seconds=2))
def test_bulk_single_and_brute_force_agree_on_a_jittered_lattice(seed: int) -> None:
    grids = jittered_lattice(9, seed)
    index = GridIndex(grids)
    rng = np.random.default_rng(seed)
    random = np.column_stack([rng.uniform(113.799, 113.81, 300), rng.uniform(33.999, 34.01, 300)])
    points = np.vstack([random, boundary_points(grids, rng)])
    bulk = index.codes_at(index.locate_many(points[:, 0], points[:, 1]))
    expected = brute_force_many(grids, points)
    for (x, y), found, rule in zip(points.tolist(), bulk, expected, strict=True):
        assert found == index.locate(x, y) == rule, (x, y)


def test_bulk_lookups_agree_across_chunks_and_with_a_tree_query() -> None:
    grids = jittered_lattice(60, seed=11)
    index = GridIndex(reversed(grids))  # input order does not matter
    rng = np.random.default_rng(11)
    n = 100_000  # more than one chunk
    lons = rng.uniform(113.799, 113.861, n)
    lats = rng.uniform(33.999, 34.061, n)
    positions = index.locate_many(lons, lats)
    polygons = np.array([index.polygon(c) for c in index.codes], dtype=object)
    tree = shapely.STRtree(polygons)
    point_ix, grid_ix = tree.query(shapely.points(lons, lats), predicate="intersects")
    expected = np.full(n, np.iinfo(np.intp).max)
    np.minimum.at(expected, point_ix, grid_ix)
    expected[expected == np.iinfo(np.intp).max] = -1
    assert np.array_equal(positions, expected)
    assert 0.8 < (positions >= 0).mean() < 1.0
    sample = range(0, n, 997)
    assert [index.locate_position(lons[k], lats[k]) for k in sample] == positions[sample].tolist()


def test_building_from_wkb_rows_gives_the_same_index() -> None:
    grids = jittered_lattice(5, seed=2)
    rows = [(c, shapely.to_wkb(g)) for c, g in grids]
    from_rows = GridIndex.from_wkb(rows)
    direct = GridIndex(grids)
    assert from_rows.codes == direct.codes
    for c in direct.codes:
        assert from_rows.polygon(c).equals_exact(direct.polygon(c), tolerance=0)
    assert from_rows.locate(113.8025, 34.0025) == direct.locate(113.8025, 34.0025)


def test_scattered_grids_keep_the_bucket_grid_small() -> None:
    # Two clusters 10 degrees apart: the bucket grid must not grow with the empty space.
    grids = jittered_lattice(5, seed=4)
    far = [(f"far{c}", affinity.translate(g, 10, 10)) for c, g in grids]
    index = GridIndex(grids + far)
    assert index._nx * index._ny <= 16 * len(index) + 1024
    assert index.locate(113.8025, 34.0025) == brute_force(grids, 113.8025, 34.0025)
    assert index.locate(123.8025, 44.0025) == "far" + str(brute_force(grids, 113.8025, 34.0025))


def test_covering_lists_every_overlapping_polygon_in_code_order() -> None:
    """Responsibility zones overlap: a road's buffer crosses a leader grid and a shop."""
    index = GridIndex(
        [
            ("c-shop", box(113.8505, 34.0305, 113.8507, 34.0307)),
            ("a-leader", box(113.850, 34.030, 113.852, 34.032)),
            ("b-road", Point(113.8506, 34.0306).buffer(0.0003)),
        ]
    )
    assert [index.codes[p] for p in index.covering(113.8506, 34.0306)] == [
        "a-leader",
        "b-road",
        "c-shop",
    ]
    assert [index.codes[p] for p in index.covering(113.8519, 34.0319)] == ["a-leader"]
    assert index.covering(113.86, 34.03) == []
    assert index.covering(math.nan, 34.03) == []
    # The boundary belongs to the polygon, as locate has it.
    assert [index.codes[p] for p in index.covering(113.852, 34.031)] == ["a-leader"]
    assert index.covering(113.852, 34.031)[0] == index.locate_position(113.852, 34.031)
