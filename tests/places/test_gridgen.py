"""Unit-grid codes and cutting a community into ~10,000 m² grids."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape

from duban.places.coords import LocalProjection, approx_area_m2, to_wgs84_array
from duban.places.gridgen import (
    MAX_GRIDS_PER_COMMUNITY,
    GeneratedGrid,
    generate_grid_cells,
    generate_grids,
    grid_code,
    parse_grid_code,
)

COMMUNITY = "411002001002"
DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
XUCHANG_DISTRICTS = DATASETS / "xuchang-districts-gcj02.geojson"


def rectangle_m(width_m: float, height_m: float, lon: float = 113.85, lat: float = 34.03) -> Any:
    """A rectangle of the given size in metres with its south-west corner at (lon, lat)."""
    projection = LocalProjection(lon, lat)
    xs, ys = projection.inverse_xy([0, width_m, width_m, 0], [0, 0, height_m, height_m])
    return Polygon(zip(xs, ys, strict=True))


def assert_exact_partition(community: Any, cells: list[GeneratedGrid]) -> None:
    """The cells cover the community, nothing more, and do not overlap."""
    polygons = [cell.polygon for cell in cells]
    union = shapely.union_all(polygons)
    assert abs(union.area - community.area) / community.area < 1e-9
    assert union.symmetric_difference(community).area / community.area < 1e-9
    total = sum(p.area for p in polygons)
    assert abs(total - community.area) / community.area < 1e-9  # no overlap anywhere
    tree = shapely.STRtree(polygons)
    for a, b in zip(*tree.query(polygons, predicate="intersects"), strict=True):
        if a < b:
            assert polygons[a].intersection(polygons[b]).area < 1e-12 * community.area
    assert all(p.is_valid and not p.is_empty for p in polygons)


def assert_codes_and_order(cells: list[GeneratedGrid], community_code: str = COMMUNITY) -> None:
    codes = [cell.code for cell in cells]
    assert codes == [f"{community_code}{k:03d}" for k in range(1, len(cells) + 1)]
    assert all(len(c) == 15 and c.isdigit() for c in codes)
    # Rows north → south, and west → east within a row.
    keys = [(cell.row, cell.col) for cell in cells]
    assert keys == sorted(keys)


# --- codes ---------------------------------------------------------------------------------------


def test_grid_code_is_admin_street_community_sequence() -> None:
    assert grid_code("411002", "001", "002", 17) == "411002001002017"
    assert parse_grid_code("411002001002017") == ("411002", "001", "002", 17)
    assert grid_code("411002", "001", "002", 999).endswith("999")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("41100", "001", "002", 1), "administrative division code"),
        (("41100a", "001", "002", 1), "administrative division code"),
        (("411002", "01", "002", 1), "street code"),
        (("411002", "001", "００２", 1), "community code"),  # full-width digits
        (("411002", "001", "002", 0), "1-999"),
        (("411002", "001", "002", 1000), "1-999"),
        (("411002", "001", "002", True), "1-999"),
        (("411002", "001", "002", "7"), "1-999"),
    ],
)
def test_grid_code_rejects_malformed_parts(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grid_code(*args)


@pytest.mark.parametrize(
    "code", ["41100200100201", "4110020010020171", "41100200100200x", "411002001002000"]
)
def test_parse_grid_code_rejects_malformed_codes(code: str) -> None:
    with pytest.raises(ValueError, match="grid"):
        parse_grid_code(code)


def _digits(n: int) -> st.SearchStrategy[str]:
    # As ``st.from_regex(r"[0-9]{n}")`` but without the regex engine: a tenth of the time.
    return st.integers(0, 10**n - 1).map(lambda value: f"{value:0{n}d}")


@given(_digits(6), _digits(3), _digits(3), st.integers(1, 999))
def test_grid_codes_round_trip(admin: str, street: str, community: str, seq: int) -> None:
    assert parse_grid_code(grid_code(admin, street, community, seq)) == (
        admin,
        street,
        community,
        seq,
    )


# --- generation ----------------------------------------------------------------------------------


def test_a_rectangle_is_cut_into_hectares_numbered_west_east_north_south() -> None:
    community = rectangle_m(500, 300)  # 5 × 3 cells of 100 m
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert len(cells) == 15
    assert_exact_partition(community, cells)
    assert_codes_and_order(cells)
    assert [c.area_m2 for c in cells] == pytest.approx([10_000] * 15, rel=1e-3)
    # Geometry agrees with the numbering: 001 is the north-west cell, 005 the north-east one,
    # 011 the south-west one.
    centroids = {c.code[-3:]: c.polygon.centroid for c in cells}
    assert centroids["001"].x < centroids["002"].x < centroids["005"].x
    assert centroids["001"].y == pytest.approx(centroids["005"].y, abs=1e-7)
    assert centroids["001"].y > centroids["006"].y > centroids["011"].y
    assert centroids["011"].x == pytest.approx(centroids["001"].x, abs=1e-7)


def test_generate_grids_returns_code_polygon_pairs() -> None:
    community = rectangle_m(250, 180)
    pairs = generate_grids(community, community_code12=COMMUNITY)
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert [code for code, _ in pairs] == [c.code for c in cells]
    assert all(
        p.equals_exact(c.polygon, tolerance=0) for (_, p), c in zip(pairs, cells, strict=True)
    )


def irregular_community() -> Any:
    """A concave community with a lake (hole) in it, ~1.3 km²."""
    outline = Polygon(
        [
            (113.800, 34.000),
            (113.815, 34.001),
            (113.818, 34.012),
            (113.806, 34.014),
            (113.809, 34.007),
        ]
    )
    return outline.difference(Point(113.812, 34.006).buffer(0.0012))


def test_an_irregular_community_is_covered_exactly_without_overlaps() -> None:
    community = irregular_community()
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert_exact_partition(community, cells)
    assert_codes_and_order(cells)
    areas = np.array([c.area_m2 for c in cells])
    assert np.median(areas) == pytest.approx(10_000, rel=0.01)
    # Not exactly additive: cutting a long edge adds vertices, which project slightly off
    # the projected edge.
    assert areas.sum() == pytest.approx(approx_area_m2(community), rel=1e-5)
    # Clipped corners below a fifth of a cell were merged into neighbours.
    assert areas.min() >= 2_000
    assert areas.max() < 10_000 * 1.2 + 2_000
    assert all(c.polygon.geom_type == "Polygon" for c in cells)


def test_slivers_are_merged_so_that_coverage_stays_complete() -> None:
    # 100 m cells, and a community 3 cm wider than four of them: the strip left along the
    # east side would be grids of 3 m².
    community = rectangle_m(400.03, 200)
    cells = generate_grid_cells(community, community_code12=COMMUNITY, min_area_m2=5.0)
    assert len(cells) == 8
    assert_exact_partition(community, cells)
    assert max(c.area_m2 for c in cells) == pytest.approx(10_003, abs=1)
    # With merging switched off the strip becomes grids of its own.
    unmerged = generate_grid_cells(community, community_code12=COMMUNITY, min_area_m2=0)
    assert len(unmerged) == 10
    assert_exact_partition(community, unmerged)


def test_a_multipolygon_community_with_a_tiny_island_keeps_the_island() -> None:
    main = rectangle_m(300, 200)
    island = rectangle_m(20, 20, lon=113.86, lat=34.03)  # 400 m², touches nothing
    community = MultiPolygon([main, island])
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert_exact_partition(community, cells)
    assert len(cells) == 7
    assert any(c.area_m2 == pytest.approx(400, rel=1e-3) for c in cells)


def test_a_community_smaller_than_one_cell_is_one_grid() -> None:
    community = rectangle_m(40, 30)
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert [c.code for c in cells] == [f"{COMMUNITY}001"]
    assert cells[0].polygon.symmetric_difference(community).area < 1e-9 * community.area


def test_a_cell_cut_in_two_by_the_boundary_gives_two_grids() -> None:
    # A U-shaped community: one lattice cell straddles the notch, so it is clipped into two.
    # Rows are y ∈ [50, 150] and [-50, 50] m: the notch x ∈ [150, 160], y < 120 splits the
    # southern cell x ∈ [100, 200] into pieces of 2,500 and 2,000 m².
    outer = rectangle_m(300, 150)
    notch = rectangle_m(10, 120, lon=113.85, lat=34.03)
    notch = affinity.translate(notch, xoff=float(rectangle_m(150, 1).bounds[2] - 113.85))
    community = outer.difference(notch)
    cells = generate_grid_cells(community, community_code12=COMMUNITY, min_area_m2=100)
    assert_exact_partition(community, cells)
    assert_codes_and_order(cells)
    same_cell = [
        k for k, g in itertools.groupby(cells, key=lambda c: (c.row, c.col)) if len(list(g)) > 1
    ]
    assert same_cell  # at least one lattice cell produced two grids, numbered west → east


def test_more_than_999_cells_grow_the_cells_to_fit() -> None:
    community = rectangle_m(4_000, 3_000)  # 1,200 hectares
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert 900 <= len(cells) <= MAX_GRIDS_PER_COMMUNITY
    assert cells[-1].code.endswith(f"{len(cells):03d}")
    assert_exact_partition(community, cells)
    assert np.median([c.area_m2 for c in cells]) > 12_000


def test_the_target_area_is_respected() -> None:
    community = rectangle_m(600, 400)
    cells = generate_grid_cells(community, community_code12=COMMUNITY, target_area_m2=40_000)
    assert len(cells) == 6
    assert [c.area_m2 for c in cells] == pytest.approx([40_000] * 6, rel=1e-3)


@pytest.mark.parametrize(
    ("geometry", "kwargs", "message"),
    [
        (rectangle_m(100, 100), {"community_code12": "41100200100"}, "community code"),
        (rectangle_m(100, 100), {"community_code12": COMMUNITY, "target_area_m2": 0}, "positive"),
        (
            Polygon([(113.8, 34.0), (113.81, 34.01), (113.81, 34.0), (113.8, 34.01)]),
            {},
            "not valid",
        ),
        (Polygon(), {}, "empty"),
        (Point(113.8, 34.0), {}, "Polygon or MultiPolygon"),
        (box(500_000, 3_700_000, 501_000, 3_701_000), {}, "longitude/latitude"),
    ],
)
def test_bad_input_is_rejected(geometry: Any, kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"community_code12": COMMUNITY, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_grid_cells(geometry, **kwargs)


@given(
    seed=st.integers(0, 2**32 - 1),
    vertices=st.integers(3, 14),
    radius_m=st.floats(60, 900),
)
@settings(max_examples=25)
def test_random_star_shaped_communities_are_partitioned_exactly(
    seed: int, vertices: int, radius_m: float
) -> None:
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    radii = radius_m * rng.uniform(0.3, 1.0, vertices)
    projection = LocalProjection(113.85, 34.03)
    lons, lats = projection.inverse_xy(radii * np.cos(angles), radii * np.sin(angles))
    community = Polygon(zip(lons, lats, strict=True)).buffer(0)
    if community.is_empty or community.geom_type != "Polygon":
        return
    cells = generate_grid_cells(community, community_code12=COMMUNITY)
    assert_exact_partition(community, cells)
    assert_codes_and_order(cells)


@pytest.mark.skipif(not XUCHANG_DISTRICTS.exists(), reason="shared datasets not present")
def test_a_piece_of_real_weidu_district_is_partitioned_exactly() -> None:
    collection = json.loads(XUCHANG_DISTRICTS.read_text(encoding="utf-8"))
    weidu = next(f for f in collection["features"] if f["properties"]["adcode"] == 411002)

    def gcj_to_wgs(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(to_wgs84_array(coords[:, 0], coords[:, 1], "gcj02"))

    district = shapely.transform(shape(weidu["geometry"]), gcj_to_wgs)
    # A 2 km × 1.5 km window on the district's western boundary stands in for a community.
    minx, miny, _, _ = district.bounds
    window = rectangle_m(2_000, 1_500, lon=minx - 0.005, lat=miny + 0.05)
    community = district.intersection(window)
    assert 0.3e6 < approx_area_m2(community) < 3e6
    cells = generate_grid_cells(community, community_code12="411002001001")
    assert_exact_partition(community, cells)
    assert_codes_and_order(cells, "411002001001")
