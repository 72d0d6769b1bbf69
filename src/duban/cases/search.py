"""Search boxes of intake forms: categories by name and keywords, places by name.

(Possible duplicates nearby come from :mod:`duban.cases.nearby`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.places.models import Region
from duban.reference.models import Category

CATEGORY_RESULTS_MAX = 30


@dataclass(frozen=True)
class CategoryHit:
    """A subclass that matches a search, with its major class."""

    code: str
    kind: str
    name: str
    name_en: str
    parent_name: str
    parent_name_en: str
    keywords: tuple[str, ...]


def search_categories(session: Session, query: str) -> list[CategoryHit]:
    """Active subclasses whose code, name, English name or keywords contain ``query``.

    Names come first, then keywords; an empty query lists nothing (the form then shows
    the browsable tree).
    """
    text = (query or "").strip().lower()
    if not text:
        return []
    cats = session.scalars(
        select(Category).where(Category.is_active).order_by(Category.position, Category.code)
    ).all()
    parents = {c.code: c for c in cats if c.level == 1}
    ranked: list[tuple[int, CategoryHit]] = []
    for cat in cats:
        if cat.level != 2:
            continue
        keywords = tuple(cat.keywords or ())
        if text in cat.name.lower() or text == cat.code.lower():
            rank = 0
        elif text in cat.name_en.lower() or any(text in k.lower() for k in keywords):
            rank = 1
        elif (parent := parents.get(cat.parent_code or "")) and text in parent.name.lower():
            rank = 2
        else:
            continue
        parent = parents.get(cat.parent_code or "")
        ranked.append(
            (
                rank,
                CategoryHit(
                    code=cat.code,
                    kind=cat.kind,
                    name=cat.name,
                    name_en=cat.name_en,
                    parent_name=parent.name if parent else "",
                    parent_name_en=parent.name_en if parent else "",
                    keywords=keywords,
                ),
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return [hit for _rank, hit in ranked[:CATEGORY_RESULTS_MAX]]


@dataclass(frozen=True)
class PlaceHit:
    """A street, community or grid whose name matches an address search."""

    code: str
    level: str
    name: str
    lat: float
    lon: float


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
            lat=(r.min_lat + r.max_lat) / 2,
            lon=(r.min_lon + r.max_lon) / 2,
        )
        for r in rows
    ]
