"""The place search box of intake forms: current streets, communities and grids by name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.places.models import Region


@dataclass(frozen=True)
class PlaceHit:
    """A street, community or grid whose name matches an address search."""

    code: str
    level: str
    name: str
    lat: float
    lon: float
    name_en: str | None = None


PLACE_RESULTS_MAX = 8


def search_places(session: Session, query: str) -> list[PlaceHit]:
    """Current streets, communities and grids named like ``query``, with their centres.

    The hotline operator types what the caller says (a community, a street); picking a
    hit moves the pin there, and the operator refines it on the map.
    """
    text = (query or "").strip()
    if len(text) < 2:
        return []
    rows = session.execute(
        select(
            Region.code,
            Region.level,
            Region.name,
            Region.name_en,
            Region.min_lat,
            Region.max_lat,
            Region.min_lon,
            Region.max_lon,
        )
        .where(
            Region.valid_to.is_(None),
            Region.level.in_(["street", "community", "grid"]),
            Region.name.contains(text, autoescape=True),
        )
        .order_by(sql_case({"street": 0, "community": 1}, value=Region.level, else_=2), Region.code)
        .limit(PLACE_RESULTS_MAX)
    ).all()
    return [
        PlaceHit(
            code=r.code,
            level=r.level,
            name=r.name,
            name_en=r.name_en,
            lat=(r.min_lat + r.max_lat) / 2,
            lon=(r.min_lon + r.max_lon) / 2,
        )
        for r in rows
    ]
