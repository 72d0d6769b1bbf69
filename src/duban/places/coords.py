"""Coordinate systems used in China and a local metric projection.

Duban stores every coordinate as WGS84 longitude/latitude (CGCS2000 differs from WGS84 by
a few centimetres, far below what a phone or a map app resolves, so the two are treated as
one). Chinese map apps hand out two obfuscated systems, and input in them is converted on
the way in:

* GCJ-02 (国测局坐标, "Mars coordinates"): Amap/高德, Tencent, Google China. An offset of a few
  hundred metres that varies smoothly with position; it equals WGS84 outside China.
* BD-09 (百度坐标): Baidu Maps, a further rotation/scaling on top of GCJ-02.

The forward formulas are the widely published ones. GCJ-02 → WGS84 has no closed form; it is
solved here by fixed-point iteration to < 1e-11° (~1 µm) rather than with the common one-step
approximation, which is off by up to a couple of metres.

`LocalProjection` gives metres around a reference point so that areas (m²) and grid cells of
about 10,000 m² can be computed without a projection library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from duban.kernel.errors import InvalidInput, Msg

__all__ = [
    "BAD_POINT",
    "CRS",
    "UNKNOWN_CRS",
    "LocalProjection",
    "approx_area_m2",
    "approx_areas_m2",
    "from_local_metric",
    "from_wgs84",
    "from_wgs84_array",
    "is_out_of_china",
    "to_local_metric",
    "to_wgs84",
    "to_wgs84_array",
]

FloatArray = NDArray[np.float64]


class CRS(StrEnum):
    """A coordinate reference system for longitude/latitude input."""

    WGS84 = "wgs84"  # also CGCS2000, GPS
    GCJ02 = "gcj02"  # 国测局 / Amap / Tencent
    BD09 = "bd09"  # Baidu

    @classmethod
    def parse(cls, text: str | CRS) -> CRS:
        """Parse a CRS name leniently ("GCJ-02", "bd09ll", "CGCS2000", "EPSG:4326", ...).

        Raises:
            ValueError: the name is not one Duban knows.
        """
        if isinstance(text, CRS):
            return text
        found = _CRS_ALIASES.get(text)  # the common spellings, as sent
        if found is not None:
            return found
        key = "".join(ch for ch in str(text).lower() if ch.isalnum())
        try:
            return _CRS_ALIASES[key]
        except KeyError:
            known = ", ".join(sorted({c.value for c in cls} | {"cgcs2000"}))
            raise ValueError(
                f"unknown coordinate system {text!r}; expected one of {known}"
            ) from None


_CRS_ALIASES: Final[dict[str, CRS]] = {
    "wgs84": CRS.WGS84,
    "epsg4326": CRS.WGS84,
    "gps": CRS.WGS84,
    # CGCS2000 (EPSG:4490) and WGS84 agree to a few centimetres.
    "cgcs2000": CRS.WGS84,
    "epsg4490": CRS.WGS84,
    "gcj02": CRS.GCJ02,
    "gcj": CRS.GCJ02,
    "amap": CRS.GCJ02,
    "bd09": CRS.BD09,
    "bd09ll": CRS.BD09,
    "baidu": CRS.BD09,
}

# Krasovsky 1940 ellipsoid parameters, as used by the GCJ-02 formula (not WGS84's).
_GCJ_A: Final = 6378245.0
_GCJ_EE: Final = 0.00669342162296594323
_X_PI: Final = math.pi * 3000.0 / 180.0

# The rectangle the GCJ-02 offset is applied in; outside it GCJ-02 is WGS84.
_CHINA_MIN_LON: Final = 72.004
_CHINA_MAX_LON: Final = 137.8347
_CHINA_MIN_LAT: Final = 0.8293
_CHINA_MAX_LAT: Final = 55.8271

_INVERSE_TOLERANCE_DEG: Final = 1e-11
_INVERSE_MAX_ITERATIONS: Final = 30


# --- validation ----------------------------------------------------------------------------------


def _check_lon_lat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"coordinates must be finite numbers, got ({lon}, {lat})")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(
            f"longitude {lon} is outside [-180, 180] (are longitude and latitude swapped, "
            "or is this a projected coordinate?)"
        )
    if not -90.0 <= lat <= 90.0:
        raise ValueError(
            f"latitude {lat} is outside [-90, 90] (are longitude and latitude swapped?)"
        )


def _check_lon_lat_arrays(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(lons, dtype=np.float64)
    y = np.asarray(lats, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"lons and lats differ in shape: {x.shape} vs {y.shape}")
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"{int(bad.sum())} coordinate(s) are not valid longitude/latitude; the first, "
            f"at index {first}, is ({x.ravel()[first]}, {y.ravel()[first]})"
        )
    return x, y


# --- GCJ-02 --------------------------------------------------------------------------------------


def is_out_of_china(lon: float, lat: float) -> bool:
    """Whether GCJ-02 leaves this point unshifted (the customary bounding box of China)."""
    return not (_CHINA_MIN_LON <= lon <= _CHINA_MAX_LON and _CHINA_MIN_LAT <= lat <= _CHINA_MAX_LAT)


def _gcj_offset(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 minus WGS84 at a WGS84 point, in degrees; works on floats and numpy arrays.

    The offset is zero outside China; callers apply that mask.
    """
    x = lon - 105.0
    y = lat - 35.0
    # np.sin/np.sqrt accept Python floats too, which keeps one code path for both.
    base = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat = dlat + base
    dlat = dlat + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * math.pi) + 320 * np.sin(y * math.pi / 30.0)) * 2 / 3
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon = dlon + base
    dlon = dlon + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2 / 3
    radlat = lat / 180.0 * math.pi
    magic = 1 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * math.pi)
    return dlon, dlat


def _wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if is_out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + float(dlon), lat + float(dlat)


def _gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    # Solve forward(w) == g by fixed-point iteration w <- w - (forward(w) - g). The offset's
    # derivative is ~1e-3, so every step gains about three digits; 3-4 steps suffice.
    wlon, wlat = lon, lat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        glon, glat = _wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        if abs(elon) < _INVERSE_TOLERANCE_DEG and abs(elat) < _INVERSE_TOLERANCE_DEG:
            break
        wlon -= elon
        wlat -= elat
    return wlon, wlat


def _wgs84_to_gcj02_array(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    inside = _inside_china_mask(x, y)
    dlon, dlat = _gcj_offset(x, y)
    return np.where(inside, x + dlon, x), np.where(inside, y + dlat, y)


def _gcj02_to_wgs84_array(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    wx, wy = x.copy(), y.copy()
    for _ in range(_INVERSE_MAX_ITERATIONS):
        gx, gy = _wgs84_to_gcj02_array(wx, wy)
        ex, ey = gx - x, gy - y
        if wx.size == 0 or max(np.abs(ex).max(), np.abs(ey).max()) < _INVERSE_TOLERANCE_DEG:
            break
        wx -= ex
        wy -= ey
    return wx, wy


def _inside_china_mask(x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
    return (
        (x >= _CHINA_MIN_LON)
        & (x <= _CHINA_MAX_LON)
        & (y >= _CHINA_MIN_LAT)
        & (y <= _CHINA_MAX_LAT)
    )


# --- BD-09 ---------------------------------------------------------------------------------------


def _gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    # The published inverse drops second-order terms and is off by ~1e-7°; two fixed-point
    # steps against the forward formula make round trips exact to ~1e-12°.
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(2):
        blon, blat = _gcj02_to_bd09(glon, glat)
        glon = glon - (blon - lon)
        glat = glat - (blat - lat)
    return glon, glat


# --- public conversion API -----------------------------------------------------------------------


def to_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    """Convert one point given in `crs` to WGS84 (lon, lat).

    Raises:
        ValueError: unknown CRS, or a longitude/latitude out of range or not finite.
    """
    crs = CRS.parse(crs)
    lon, lat = float(lon), float(lat)
    _check_lon_lat(lon, lat)
    if crs is CRS.WGS84:
        return lon, lat
    if crs is CRS.BD09:
        glon, glat = _bd09_to_gcj02(lon, lat)
        lon, lat = float(glon), float(glat)
    return _gcj02_to_wgs84(lon, lat)


def from_wgs84(lon: float, lat: float, crs: CRS | str) -> tuple[float, float]:
    """Convert one WGS84 point to `crs` (e.g. to show it on an Amap or Baidu base map).

    Raises:
        ValueError: unknown CRS, or a longitude/latitude out of range or not finite.
    """
    crs = CRS.parse(crs)
    lon, lat = float(lon), float(lat)
    _check_lon_lat(lon, lat)
    if crs is CRS.WGS84:
        return lon, lat
    glon, glat = _wgs84_to_gcj02(lon, lat)
    if crs is CRS.GCJ02:
        return glon, glat
    blon, blat = _gcj02_to_bd09(glon, glat)
    return float(blon), float(blat)


def to_wgs84_array(
    lons: ArrayLike, lats: ArrayLike, crs: CRS | str
) -> tuple[FloatArray, FloatArray]:
    """Vectorized `to_wgs84`: arrays of lon and lat in `crs` → new float64 arrays in WGS84.

    Raises:
        ValueError: unknown CRS, shapes differ, or any coordinate is out of range.
    """
    crs = CRS.parse(crs)
    x, y = _check_lon_lat_arrays(lons, lats)
    if crs is CRS.WGS84:
        return x.copy(), y.copy()
    if crs is CRS.BD09:
        x, y = _bd09_to_gcj02(x, y)
    return _gcj02_to_wgs84_array(x, y)


def from_wgs84_array(
    lons: ArrayLike, lats: ArrayLike, crs: CRS | str
) -> tuple[FloatArray, FloatArray]:
    """Vectorized `from_wgs84`.

    Raises:
        ValueError: unknown CRS, shapes differ, or any coordinate is out of range.
    """
    crs = CRS.parse(crs)
    x, y = _check_lon_lat_arrays(lons, lats)
    if crs is CRS.WGS84:
        return x.copy(), y.copy()
    gx, gy = _wgs84_to_gcj02_array(x, y)
    if crs is CRS.GCJ02:
        return gx, gy
    bx, by = _gcj02_to_bd09(gx, gy)
    return bx, by


# --- local metric projection ---------------------------------------------------------------------

# WGS84 ellipsoid.
_WGS84_A: Final = 6378137.0
_WGS84_E2: Final = 6.69437999014e-3


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Metres east/north of a reference point, good for areas of a city and smaller.

    It is the sinusoidal projection on the WGS84 ellipsoid's local radii:
    y = M(lat0)·Δφ and x = N(φ)·cos φ·Δλ. That is equal-area to within ~1e-4 for a
    span of a degree of latitude (far better for a community), so areas in m² are right,
    and its shear near the reference meridian is negligible at the scale of a district, so
    squares in it are squares on the ground. No projection library is needed.
    """

    lon0: float
    lat0: float

    @classmethod
    def around(cls, geom: Any) -> LocalProjection:
        """A projection centred on the middle of a geometry's (or array's) bounding box."""
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geom))
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
            raise ValueError("cannot centre a projection on an empty geometry")
        return cls((minx + maxx) / 2.0, (miny + maxy) / 2.0)

    @property
    def _m0(self) -> float:
        s = math.sin(math.radians(self.lat0))
        return _WGS84_A * (1 - _WGS84_E2) / math.pow(1 - _WGS84_E2 * s * s, 1.5)

    def forward_xy(self, lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Lon/lat in degrees → metres (x east, y north) of the reference point."""
        lon = np.asarray(lons, dtype=np.float64)
        phi = np.radians(np.asarray(lats, dtype=np.float64))
        n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(phi) ** 2)
        x = n * np.cos(phi) * np.radians(lon - self.lon0)
        y = self._m0 * (phi - math.radians(self.lat0))
        return x, y

    def inverse_xy(self, xs: ArrayLike, ys: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Metres of the reference point → lon/lat in degrees (exact inverse of forward_xy)."""
        x = np.asarray(xs, dtype=np.float64)
        phi = math.radians(self.lat0) + np.asarray(ys, dtype=np.float64) / self._m0
        n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(phi) ** 2)
        lon = self.lon0 + np.degrees(x / (n * np.cos(phi)))
        return lon, np.degrees(phi)

    def _forward_coords(self, coords: FloatArray) -> FloatArray:
        x, y = self.forward_xy(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def _inverse_coords(self, coords: FloatArray) -> FloatArray:
        lon, lat = self.inverse_xy(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])


def to_local_metric(geom: Any, projection: LocalProjection) -> Any:
    """Project a WGS84 geometry (or numpy array of geometries) into `projection`'s metres."""
    return shapely.transform(geom, projection._forward_coords)


def from_local_metric(geom: Any, projection: LocalProjection) -> Any:
    """Inverse of `to_local_metric`: metres → WGS84 lon/lat."""
    return shapely.transform(geom, projection._inverse_coords)


def approx_area_m2(geom: Any, projection: LocalProjection | None = None) -> float:
    """Area in m² of a WGS84 geometry (0 for an empty one).

    Accurate to ~0.01 % for regions up to a district. Pass one shared `projection` when
    comparing areas of neighbouring pieces, so that all use the same reference point.
    """
    if geom is None or geom.is_empty:
        return 0.0
    if projection is None:
        projection = LocalProjection.around(geom)
    return float(shapely.area(to_local_metric(geom, projection)))


def approx_areas_m2(geoms: Any, projection: LocalProjection | None = None) -> FloatArray:
    """Vectorized `approx_area_m2` over a sequence or array of geometries (None → 0)."""
    array = np.asarray(geoms, dtype=object)
    areas = np.zeros(array.shape, dtype=np.float64)
    present = ~shapely.is_missing(array) & ~shapely.is_empty(array)
    if not present.any():
        return areas
    if projection is None:
        projection = LocalProjection.around(array[present])
    areas[present] = shapely.area(to_local_metric(array[present], projection))
    return areas


#: The refusals of :func:`to_wgs84_point` (templates of the message catalogue).
UNKNOWN_CRS: Final = "unknown coordinate system '{crs}'; expected wgs84, gcj02, bd09 or cgcs2000"
BAD_POINT: Final = (
    "the point ({lon}, {lat}) is not a longitude and latitude in range "
    "(are they swapped, or is this a projected coordinate?)"
)


def to_wgs84_point(lon: float, lat: float, crs: str | None) -> tuple[float, float]:
    """Convert input coordinates to WGS84, as :class:`InvalidInput` on bad values."""
    try:
        return to_wgs84(lon, lat, CRS.parse(crs or CRS.WGS84))
    except ValueError as err:
        if "coordinate system" in str(err):
            raise InvalidInput(Msg(UNKNOWN_CRS, crs=crs), field="crs") from err
        raise InvalidInput(Msg(BAD_POINT, lon=lon, lat=lat), field="lat") from err
