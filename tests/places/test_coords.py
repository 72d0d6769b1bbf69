"""Coordinate systems: WGS84 / GCJ-02 / BD-09 and the local metric projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from duban.places.coords import (
    CRS,
    LocalProjection,
    approx_area_m2,
    approx_areas_m2,
    from_local_metric,
    from_wgs84,
    from_wgs84_array,
    is_out_of_china,
    to_local_metric,
    to_wgs84,
    to_wgs84_array,
)

# Published outputs of the standard formulas (wandergis/coordtransform's README example, and
# googollee/eviltransform's test table), for the same inputs.
TIANANMEN = (116.404, 39.915)
COORDTRANSFORM_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
COORDTRANSFORM_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
COORDTRANSFORM_BD_TO_GCJ = (116.39762729119315, 39.90865673957631)
COORDTRANSFORM_GCJ_TO_WGS_ONE_STEP = (116.39775550083061, 39.91359571849836)
EVILTRANSFORM_WGS_GCJ = [
    # (wgs lon, wgs lat), (gcj lon, gcj lat)
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]
XUCHANG = (113.852, 34.036)  # 许昌 city centre, WGS84

china_points = st.tuples(
    st.floats(min_value=73.0, max_value=135.0), st.floats(min_value=3.0, max_value=53.0)
)


def assert_close(actual: tuple[float, float], expected: tuple[float, float], tol: float) -> None:
    assert abs(actual[0] - expected[0]) < tol, (actual, expected)
    assert abs(actual[1] - expected[1]) < tol, (actual, expected)


# --- CRS names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "crs"),
    [
        ("wgs84", CRS.WGS84),
        ("WGS-84", CRS.WGS84),
        ("CGCS2000", CRS.WGS84),
        ("EPSG:4326", CRS.WGS84),
        ("gcj02", CRS.GCJ02),
        ("GCJ-02", CRS.GCJ02),
        (" bd09 ", CRS.BD09),
        ("BD09LL", CRS.BD09),
        (CRS.BD09, CRS.BD09),
    ],
)
def test_crs_names_are_parsed_leniently(text: str, crs: CRS) -> None:
    assert CRS.parse(text) is crs


def test_unknown_crs_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown coordinate system 'mercator'.*cgcs2000"):
        CRS.parse("mercator")


def test_crs_values_are_stable_strings() -> None:
    assert [c.value for c in CRS] == ["wgs84", "gcj02", "bd09"]


# --- published reference values ------------------------------------------------------------------


def test_wgs84_to_gcj02_matches_published_values() -> None:
    assert_close(from_wgs84(*TIANANMEN, CRS.GCJ02), COORDTRANSFORM_WGS_TO_GCJ, 1e-9)
    for wgs, gcj in EVILTRANSFORM_WGS_GCJ:
        assert_close(from_wgs84(*wgs, "gcj02"), gcj, 1e-9)


def test_gcj02_to_wgs84_inverts_published_pairs_exactly() -> None:
    for wgs, gcj in EVILTRANSFORM_WGS_GCJ:
        assert_close(to_wgs84(*gcj, "gcj02"), wgs, 1e-8)


def test_gcj02_to_wgs84_is_more_precise_than_the_one_step_approximation() -> None:
    exact = to_wgs84(*TIANANMEN, "gcj02")
    # Forward of the exact inverse lands on the input; forward of the usual one-step
    # approximation misses it by centimetres to metres.
    assert_close(from_wgs84(*exact, "gcj02"), TIANANMEN, 1e-9)
    miss = from_wgs84(*COORDTRANSFORM_GCJ_TO_WGS_ONE_STEP, "gcj02")
    assert max(abs(miss[0] - TIANANMEN[0]), abs(miss[1] - TIANANMEN[1])) > 1e-7
    assert_close(exact, COORDTRANSFORM_GCJ_TO_WGS_ONE_STEP, 1e-5)


def test_bd09_matches_published_values() -> None:
    wgs_of_gcj_point = to_wgs84(*TIANANMEN, "gcj02")
    assert_close(from_wgs84(*wgs_of_gcj_point, "bd09"), COORDTRANSFORM_GCJ_TO_BD, 1e-8)
    # The published BD-09 → GCJ-02 inverse is itself an approximation (~4e-7°); ours is the
    # exact inverse of the forward formula.
    gcj = from_wgs84(*to_wgs84(*TIANANMEN, "bd09"), "gcj02")
    assert_close(gcj, COORDTRANSFORM_BD_TO_GCJ, 1e-6)


def test_offset_near_xuchang_has_the_known_magnitude() -> None:
    gcj = from_wgs84(*XUCHANG, "gcj02")
    d_lon, d_lat = gcj[0] - XUCHANG[0], gcj[1] - XUCHANG[1]
    # GCJ-02 shifts Henan roughly 500-600 m east and ~150 m south.
    assert 0.005 < d_lon < 0.007
    assert -0.003 < d_lat < 0
    bd = from_wgs84(*XUCHANG, "bd09")
    assert 0.011 < bd[0] - XUCHANG[0] < 0.014
    assert 0.003 < bd[1] - XUCHANG[1] < 0.006


# --- round trips and domain ----------------------------------------------------------------------


@given(china_points)
@settings(max_examples=300)
def test_round_trips_in_china_are_below_a_micro_degree(point: tuple[float, float]) -> None:
    for crs in CRS:
        there = from_wgs84(*point, crs)
        assert_close(to_wgs84(*there, crs), point, 1e-6)
        assert_close(to_wgs84(*there, crs), point, 1e-8)  # in fact far better


def test_gcj02_equals_wgs84_outside_china() -> None:
    san_francisco = (-122.4194, 37.7749)
    assert is_out_of_china(*san_francisco)
    assert from_wgs84(*san_francisco, "gcj02") == san_francisco
    assert to_wgs84(*san_francisco, "gcj02") == san_francisco
    assert not is_out_of_china(*XUCHANG)


def test_wgs84_is_returned_unchanged() -> None:
    assert to_wgs84(*XUCHANG, "cgcs2000") == XUCHANG
    assert from_wgs84(*XUCHANG, CRS.WGS84) == XUCHANG


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        (113.8, 91.0, "latitude 91.0 is outside"),
        (34.0, 113.8, "latitude 113.8 is outside"),
        (181.0, 34.0, "longitude 181.0 is outside"),
        (math.nan, 34.0, "finite"),
        (113.8, math.inf, "finite"),
    ],
)
def test_out_of_range_coordinates_are_rejected(lon: float, lat: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_wgs84(lon, lat, "gcj02")
    with pytest.raises(ValueError, match=message):
        from_wgs84(lon, lat, "bd09")


# --- arrays --------------------------------------------------------------------------------------


def test_array_versions_agree_with_scalar_versions() -> None:
    rng = np.random.default_rng(7)
    lons = np.concatenate([rng.uniform(73, 135, 500), [-122.4, 2.35]])
    lats = np.concatenate([rng.uniform(3, 53, 500), [37.8, 48.85]])
    for crs in CRS:
        out_lon, out_lat = from_wgs84_array(lons, lats, crs)
        back_lon, back_lat = to_wgs84_array(out_lon, out_lat, crs)
        in_lon, in_lat = to_wgs84_array(lons, lats, crs)
        assert np.abs(back_lon - lons).max() < 1e-8
        assert np.abs(back_lat - lats).max() < 1e-8
        for k in range(0, lons.size, 50):
            assert_close((out_lon[k], out_lat[k]), from_wgs84(lons[k], lats[k], crs), 1e-12)
            # The iterative inverse stops per point vs per array, at a residual below 1e-11°.
            assert_close((in_lon[k], in_lat[k]), to_wgs84(lons[k], lats[k], crs), 1e-10)


def test_array_versions_reject_bad_input_and_say_where() -> None:
    with pytest.raises(ValueError, match="at index 2"):
        to_wgs84_array([113.0, 113.1, 113.2], [34.0, 34.1, 95.0], "gcj02")
    with pytest.raises(ValueError, match="differ in shape"):
        to_wgs84_array([113.0, 113.1], [34.0], "gcj02")
    out = to_wgs84_array([], [], "bd09")
    assert out[0].size == 0


def test_array_versions_do_not_modify_their_input() -> None:
    lons = np.array([113.85, 113.86])
    lats = np.array([34.03, 34.04])
    to_wgs84_array(lons, lats, "wgs84")[0][:] = 0
    to_wgs84_array(lons, lats, "gcj02")
    assert lons.tolist() == [113.85, 113.86]


# --- local metric projection ---------------------------------------------------------------------


def ellipsoid_box_area_m2(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Exact area of a longitude/latitude box on the WGS84 ellipsoid."""
    a, e2 = 6378137.0, 6.69437999014e-3
    e = math.sqrt(e2)

    def q(phi: float) -> float:
        s = math.sin(phi)
        return s / (1 - e2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    b2 = a * a * (1 - e2)
    dq = q(math.radians(lat2)) - q(math.radians(lat1))
    return math.radians(lon2 - lon1) * b2 * dq / 2


@pytest.mark.parametrize(
    ("size_deg", "tolerance"),
    [(0.001, 1e-6), (0.01, 1e-6), (0.1, 1e-5), (1.0, 2e-4)],
)
def test_approx_area_is_close_to_the_ellipsoidal_area(size_deg: float, tolerance: float) -> None:
    lon, lat = XUCHANG
    exact = ellipsoid_box_area_m2(lon, lat, lon + size_deg, lat + size_deg)
    approx = approx_area_m2(box(lon, lat, lon + size_deg, lat + size_deg))
    assert abs(approx - exact) / exact < tolerance


def test_local_projection_round_trips_and_keeps_metres() -> None:
    projection = LocalProjection(*XUCHANG)
    x, y = projection.forward_xy([113.85, 113.86], [34.02, 34.05])
    lon, lat = projection.inverse_xy(x, y)
    assert np.allclose(lon, [113.85, 113.86], rtol=0, atol=1e-12)
    assert np.allclose(lat, [34.02, 34.05], rtol=0, atol=1e-12)
    square = from_local_metric(box(0, 0, 100, 100), projection)
    assert approx_area_m2(square, projection) == pytest.approx(10_000, rel=1e-9)
    assert to_local_metric(square, projection).equals_exact(box(0, 0, 100, 100), tolerance=1e-6)
    # One degree of latitude is ~110.9 km at 34°N.
    _, north = projection.forward_xy(XUCHANG[0], XUCHANG[1] + 1)
    assert 110_800 < float(north) < 111_000


def test_areas_of_many_geometries_and_of_nothing() -> None:
    lon, lat = XUCHANG
    boxes = [box(lon, lat, lon + 0.01, lat + 0.01), None, shapely.Polygon()]
    areas = approx_areas_m2(boxes)
    assert areas[0] == pytest.approx(approx_area_m2(boxes[0]), rel=1e-4)
    assert areas[1:].tolist() == [0.0, 0.0]
    assert approx_area_m2(shapely.Polygon()) == 0.0
    assert approx_areas_m2([None]).tolist() == [0.0]
    with pytest.raises(ValueError, match="empty"):
        LocalProjection.around(shapely.Polygon())
