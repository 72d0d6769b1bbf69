"""Validating a set of regions before import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon, box, shape

from duban.places.coords import LocalProjection, to_wgs84_array
from duban.places.gridgen import generate_grids
from duban.places.regions import (
    CODE_LENGTH,
    Problem,
    ProblemKind,
    RegionInput,
    RegionLevel,
    validate_regions,
)
from duban.web.i18n import translate

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
XUCHANG_DISTRICTS = DATASETS / "xuchang-districts-gcj02.geojson"

STREET = "411002001"
COMMUNITY = "411002001002"
PROJECTION = LocalProjection(113.85, 34.03)


def rect_m(x0: float, y0: float, x1: float, y1: float) -> Any:
    """A rectangle given in metres east/north of (113.85, 34.03), as WGS84."""
    xs, ys = PROJECTION.inverse_xy([x0, x1, x1, x0], [y0, y0, y1, y1])
    return Polygon(zip(xs, ys, strict=True))


def community(seq: int, geometry: Any, parent: str | None = STREET, name: str = "") -> RegionInput:
    return RegionInput(f"{STREET}{seq:03d}", name or f"社区{seq}", parent, geometry)


def kinds(problems: list[Problem]) -> list[tuple[ProblemKind, str]]:
    return [(p.kind, p.code) for p in problems]


def three_communities() -> list[RegionInput]:
    """Three 100 m × 200 m communities side by side, sharing edges exactly."""
    return [community(k + 1, rect_m(100 * k, 0, 100 * (k + 1), 200)) for k in range(3)]


def street_of(items: list[RegionInput]) -> dict[str, Any]:
    return {STREET: shapely.union_all([i.geometry for i in items])}


# --- clean input ---------------------------------------------------------------------------------


def test_a_clean_set_has_no_problems() -> None:
    items = three_communities()
    assert validate_regions(items, level=RegionLevel.COMMUNITY) == []
    assert validate_regions(items, level="community", parents=street_of(items)) == []


def test_code_lengths_per_level() -> None:
    assert {level.value: CODE_LENGTH[level] for level in RegionLevel} == {
        "district": 6,
        "street": 9,
        "community": 12,
        "grid": 15,
    }
    assert RegionLevel.GRID.parent is RegionLevel.COMMUNITY
    assert RegionLevel.DISTRICT.parent is None


def test_generated_grids_validate_cleanly_against_their_community() -> None:
    outline = Polygon([(113.800, 34.000), (113.815, 34.001), (113.818, 34.012), (113.806, 34.014)])
    grids = generate_grids(outline, community_code12=COMMUNITY)
    items = [RegionInput(code, f"网格{code[-3:]}", COMMUNITY, geom) for code, geom in grids]
    assert validate_regions(items, level="grid", parents={COMMUNITY: outline}) == []


# --- codes ---------------------------------------------------------------------------------------


def test_code_problems_are_reported() -> None:
    good = three_communities()
    items = [
        good[0],
        RegionInput("41100200100", "短码", STREET, good[1].geometry),  # 11 digits
        RegionInput("41100200100Ａ", "全角", STREET, good[2].geometry),
        RegionInput(good[0].code, "重复", STREET, rect_m(0, 300, 100, 400)),
        RegionInput("411002002005", "错挂", STREET, rect_m(0, 500, 100, 600)),
        RegionInput("411002001006", "无上级", None, rect_m(0, 700, 100, 800)),
    ]
    problems = validate_regions(items, level="community")
    assert kinds(problems) == [
        (ProblemKind.MALFORMED_CODE, "41100200100"),
        (ProblemKind.MALFORMED_CODE, "41100200100Ａ"),
        (ProblemKind.DUPLICATE_CODE, good[0].code),
        (ProblemKind.MISSING_PARENT, "411002001006"),
        (ProblemKind.PARENT_MISMATCH, "411002002005"),
    ]
    by_kind = {p.kind: p for p in problems}
    assert "12 digits" in by_kind[ProblemKind.MALFORMED_CODE].message
    assert by_kind[ProblemKind.DUPLICATE_CODE].detail["count"] == 2
    assert by_kind[ProblemKind.MISSING_PARENT].detail["expected_parent_code"] == STREET
    assert "starts with 411002002" in by_kind[ProblemKind.PARENT_MISMATCH].message


def test_unknown_parents_are_reported_only_when_parents_are_given() -> None:
    items = [*three_communities(), community(4, rect_m(0, 300, 100, 400), parent="411002009")]
    items[3] = RegionInput("411002009004", "别处", "411002009", items[3].geometry)
    assert validate_regions(items, level="community") == []
    problems = validate_regions(items, level="community", parents=street_of(items[:3]))
    assert kinds(problems) == [(ProblemKind.UNKNOWN_PARENT, "411002009004")]
    assert problems[0].detail["parent_code"] == "411002009"


def test_districts_need_no_parent() -> None:
    items = [RegionInput("411002", "魏都区", None, rect_m(0, 0, 100, 100))]
    assert validate_regions(items, level="district") == []
    with pytest.raises(ValueError, match="county"):
        validate_regions(items, level="county")


# --- geometry ------------------------------------------------------------------------------------


def test_geometry_problems_are_reported() -> None:
    bow_tie = Polygon([(113.85, 34.03), (113.851, 34.031), (113.851, 34.03), (113.85, 34.031)])
    items = [
        community(1, None),
        community(2, Polygon()),
        community(3, LineString([(113.85, 34.03), (113.86, 34.04)])),
        community(4, bow_tie),
        community(5, box(500_000, 3_760_000, 501_000, 3_761_000)),  # metres, not degrees
        community(6, rect_m(0, 0, 100, 100)),
    ]
    problems = validate_regions(items, level="community")
    assert kinds(problems) == [
        (ProblemKind.EMPTY_GEOMETRY, f"{STREET}001"),
        (ProblemKind.EMPTY_GEOMETRY, f"{STREET}002"),
        (ProblemKind.INVALID_GEOMETRY, f"{STREET}003"),
        (ProblemKind.INVALID_GEOMETRY, f"{STREET}005"),
        (ProblemKind.SELF_INTERSECTION, f"{STREET}004"),
    ]
    crossing = problems[-1]
    assert crossing.detail["lon"] == pytest.approx(113.8505)
    assert crossing.detail["lat"] == pytest.approx(34.0305)
    assert "near 113.850500, 34.030500" in crossing.message
    assert "projected" in problems[3].message


# --- overlaps, outside the parent, gaps ----------------------------------------------------------


def test_overlaps_beyond_the_tolerance_are_reported_once_per_pair() -> None:
    items = three_communities()
    # Community 2 reaches 1 m into community 3 along its whole 200 m edge: 200 m².
    items[1] = community(2, rect_m(100, 0, 201, 200))
    problems = validate_regions(items, level="community")
    assert kinds(problems) == [(ProblemKind.OVERLAP, f"{STREET}002")]
    overlap = problems[0]
    assert overlap.detail["other_code"] == f"{STREET}003"
    assert overlap.detail["area_m2"] == pytest.approx(200, rel=1e-3)
    assert "overlap by 200.0 m²" in overlap.message
    assert validate_regions(items, level="community", overlap_tolerance_m2=250) == []


def test_a_region_inside_another_is_an_overlap() -> None:
    items = [*three_communities(), community(4, rect_m(20, 20, 40, 40))]
    problems = validate_regions(items, level="community")
    assert kinds(problems) == [(ProblemKind.OVERLAP, f"{STREET}001")]
    assert problems[0].detail["area_m2"] == pytest.approx(400, rel=1e-3)


def test_children_outside_their_parent_and_gaps_are_reported() -> None:
    items = three_communities()
    streets = street_of(items)
    items[2] = community(3, rect_m(200, 0, 310, 150))  # 10 m outside, 50 m short
    problems = validate_regions(items, level="community", parents=streets)
    assert kinds(problems) == [
        (ProblemKind.OUTSIDE_PARENT, f"{STREET}003"),
        (ProblemKind.GAP, STREET),
    ]
    outside, gap = problems
    assert outside.detail["area_m2"] == pytest.approx(1_500, rel=1e-3)
    assert gap.detail["area_m2"] == pytest.approx(5_000, rel=1e-3)
    lon, lat = gap.detail["lon"], gap.detail["lat"]
    assert isinstance(lon, float)
    assert isinstance(lat, float)
    assert rect_m(200, 150, 300, 200).contains(shapely.Point(lon, lat))
    assert "belongs to no community" in gap.message
    assert "不属于任何社区" in translate(gap.text, "zh")
    assert "超出所属街道" in translate(outside.text, "zh")


def test_small_gaps_and_slivers_within_tolerance_pass() -> None:
    items = three_communities()
    streets = street_of(items)
    # Shrink community 3 by 1 cm on its east side: a 2 m² gap, and tolerate 5 m².
    items[2] = community(3, rect_m(200, 0, 299.99, 200))
    assert kinds(validate_regions(items, level="community", parents=streets)) == [
        (ProblemKind.GAP, STREET)
    ]
    assert validate_regions(items, level="community", parents=streets, gap_tolerance_m2=5) == []


def test_a_broken_parent_boundary_is_reported_instead_of_checking_against_it() -> None:
    items = three_communities()
    bow_tie = Polygon([(113.85, 34.03), (113.851, 34.031), (113.851, 34.03), (113.85, 34.031)])
    problems = validate_regions(items, level="community", parents={STREET: bow_tie})
    assert kinds(problems) == [(ProblemKind.INVALID_PARENT, STREET)]
    assert "not checked" in problems[0].message


def test_parents_without_children_are_not_checked_for_gaps() -> None:
    items = three_communities()
    other_street = affinity.translate(street_of(items)[STREET], xoff=0.01)
    parents = {**street_of(items), "411002002": other_street}
    assert validate_regions(items, level="community", parents=parents) == []


# --- real data -----------------------------------------------------------------------------------


def load_xuchang_districts() -> list[RegionInput]:
    collection = json.loads(XUCHANG_DISTRICTS.read_text(encoding="utf-8"))

    def gcj_to_wgs(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(to_wgs84_array(coords[:, 0], coords[:, 1], "gcj02"))

    return [
        RegionInput(
            str(f["properties"]["adcode"]),
            f["properties"]["name"],
            "411000",
            shapely.transform(shape(f["geometry"]), gcj_to_wgs),
        )
        for f in collection["features"]
    ]


@pytest.mark.skipif(not XUCHANG_DISTRICTS.exists(), reason="shared datasets not present")
def test_xuchang_districts_have_one_known_defect() -> None:
    districts = load_xuchang_districts()
    assert len(districts) == 6
    problems = validate_regions(districts, level="district")
    # 建安区 wraps around 魏都区 and its simplified ring touches itself.
    assert kinds(problems) == [(ProblemKind.SELF_INTERSECTION, "411003")]
    assert "建安区" in problems[0].message
    # Repaired, the six districts tile the city: no overlaps and no gaps over 1 m².
    repaired = [
        RegionInput(
            d.code, d.name, d.parent_code, shapely.make_valid(d.geometry, method="structure")
        )
        if not d.geometry.is_valid
        else d
        for d in districts
    ]
    city = shapely.union_all([d.geometry for d in repaired])
    assert validate_regions(repaired, level="district", parents={"411000": city}) == []
