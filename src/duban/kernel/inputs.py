"""Checks of what people send, shared by reports and actions: text fields and points."""

from __future__ import annotations

from duban.kernel.errors import InvalidInput

MAX_DESCRIPTION_CHARS = 5000
MAX_NOTE_CHARS = 2000
MAX_PHOTOS_PER_ACTION = 20


def clean_text(value: str, *, field_name: str, limit: int, required: bool = False) -> str:
    """``value`` stripped; :class:`InvalidInput` if blank when required or too long."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"'{field_name}' is required and must not be blank", field=field_name)
    if len(text) > limit:
        raise InvalidInput(
            f"'{field_name}' is {len(text)} characters long; the limit is {limit}",
            field=field_name,
        )
    return text


def check_point(lat: float, lon: float) -> None:
    """:class:`InvalidInput` unless ``lat``/``lon`` are within their ranges."""
    if not (-90.0 <= lat <= 90.0):
        raise InvalidInput(f"lat {lat} is out of range (-90..90)", field="lat")
    if not (-180.0 <= lon <= 180.0):
        raise InvalidInput(f"lon {lon} is out of range (-180..180)", field="lon")


def input_point(lat: float, lon: float, crs: str | None) -> tuple[float, float]:
    """Input coordinates in ``crs`` → WGS84 ``(lon, lat)``, checked."""
    from duban.places.index import to_wgs84_point  # deferred: geometry

    check_point(lat, lon)
    wlon, wlat = to_wgs84_point(lon, lat, crs)
    check_point(wlat, wlon)
    return wlon, wlat
