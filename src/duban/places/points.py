"""Points people send with reports and actions: checked, and converted to WGS84.

Pure, and light to import: the coordinate conversions (numpy, shapely) are loaded only
when a point is converted, so the CLI starts quickly.
"""

from __future__ import annotations

from duban.kernel.errors import InvalidInput, Msg


def check_point(lat: float, lon: float) -> None:
    """:class:`InvalidInput` unless ``lat``/``lon`` are within their ranges."""
    if not (-90.0 <= lat <= 90.0):
        raise InvalidInput(Msg("lat {lat} is out of range (-90..90)", lat=lat), field="lat")
    if not (-180.0 <= lon <= 180.0):
        raise InvalidInput(Msg("lon {lon} is out of range (-180..180)", lon=lon), field="lon")


def input_point(lat: float, lon: float, crs: str | None) -> tuple[float, float]:
    """Input coordinates in ``crs`` → WGS84 ``(lon, lat)``, checked."""
    from duban.places.coords import to_wgs84_point  # deferred: geometry

    check_point(lat, lon)
    wlon, wlat = to_wgs84_point(lon, lat, crs)
    check_point(wlat, wlon)
    return wlon, wlat
