"""Parsing and checking Open311 arguments (pure): numbers, datetimes, points, areas,
descriptions, media URLs, and the one error that carries several.

Numbers and times are read by :mod:`duban.kernel.parsing`, the one parser of the edges;
here they keep the GeoReport spec's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any, Final

from duban.kernel.errors import DubanError, InvalidInput, Msg
from duban.kernel.inputs import MAX_DESCRIPTION_CHARS
from duban.kernel.parsing import parse_datetime

MAX_MEDIA_URLS: Final = 10


def parse_area(geometry: Any) -> Any:
    from shapely.errors import ShapelyError
    from shapely.geometry import shape  # deferred: only location filters need geometry

    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, ShapelyError) as err:
        raise InvalidInput(
            "the area is not a GeoJSON geometry", field="area", cause=str(err)
        ) from err
    if geom.is_empty or not geom.is_valid:
        raise InvalidInput("the area must be a valid, non-empty geometry", field="area")
    return geom


def parse_when(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    """A W3C/ISO 8601 datetime (a date alone means its midnight); no zone means the city's
    (:func:`duban.kernel.parsing.parse_datetime`, worded as the GeoReport spec is)."""
    return parse_datetime(value, name, tz, kind="a W3C datetime", example="2010-01-01T00:00:00Z")


def parse_point(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        missing = "lat" if lat is None else "long"
        raise InvalidInput(
            Msg("'lat' and 'long' go together; '{missing}' is missing", missing=missing),
            field=missing,
        )
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(Msg("lat {lat} is out of range (-90..90)", lat=lat), field="lat")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(Msg("long {lon} is out of range (-180..180)", lon=lon), field="long")
    return lat, lon


def many_errors(errors: Sequence[DubanError]) -> InvalidInput:
    """One error carrying several (Open311 error documents may list many)."""
    first = errors[0]
    if len(errors) == 1 and isinstance(first, InvalidInput):
        return first
    return InvalidInput(
        "; ".join(e.message for e in errors),
        field=None,
        errors=[e.message for e in errors],
    )


def check_media_urls(urls: Sequence[str]) -> list[str]:
    clean = list(dict.fromkeys(u.strip() for u in urls if u.strip()))
    if len(clean) > MAX_MEDIA_URLS:
        raise InvalidInput(
            Msg("at most {MAX_MEDIA_URLS} media_url values", MAX_MEDIA_URLS=MAX_MEDIA_URLS),
            field="media_url",
        )
    for url in clean:
        if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
            raise InvalidInput(
                Msg("media_url '{value}' is not an http(s) URL", value=url[:80]), field="media_url"
            )
    return clean


def check_description(text: str | None) -> None:
    """A description within the one limit of every face (Open311's specification says
    4,000 characters; Duban takes the 5,000 its other faces take)."""
    if text and len(text) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(
            Msg(
                "'description' is {count} characters; the limit is {MAX_DESCRIPTION_CHARS}",
                count=len(text),
                MAX_DESCRIPTION_CHARS=MAX_DESCRIPTION_CHARS,
            ),
            field="description",
        )
