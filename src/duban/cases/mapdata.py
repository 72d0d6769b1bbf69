"""Data of the one map (一张图): case points, or counts per cell when zoomed out.

With 100,000 cases a browser cannot take every marker, and the server should not send
them. Zoomed in, or when at most a couple of thousand cases match, the map gets points,
which the browser clusters; zoomed out it gets one row per square cell of about 48
screen pixels — the
count, the open and the overdue cases in it and their mean position — grouped in SQL.
When cases carry grid codes the counts per unit grid are available as well, for
colouring grids by open or overdue density.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, cast, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from duban.cases.access import CITY_WIDE, visible_cases
from duban.cases.mapcounts import counted_cells
from duban.cases.models import Case
from duban.cases.queries import CaseFilter, apply_case_filter, overdue_condition
from duban.cases.workflow import OPEN
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.kernel.parsing import parse_number
from duban.places import Region
from duban.reference import Category

#: At this zoom and closer the map shows single cases (clustered by the browser).
POINT_ZOOM = 14
#: Never send more points than this; above it the map falls back to cells.
POINTS_MAX = 5000
#: Up to this many matching cases the map gets points at any zoom.
POINTS_ALWAYS = 2000
#: A cell is about this many screen pixels wide at the requested zoom.
CELL_PIXELS = 48
GRIDS_MAX = 5000


@dataclass(frozen=True)
class BBox:
    """A box in WGS84 degrees."""

    south: float
    west: float
    north: float
    east: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        """``west,south,east,north`` (Leaflet's ``toBBoxString()``); ValueError if bad."""
        try:
            parts = [parse_number(p, "bbox") for p in text.split(",")]
        except InvalidInput as err:
            raise ValueError(err.message) from err
        if len(parts) != 4 or None in parts:
            raise ValueError("bbox needs four numbers: west,south,east,north")
        west, south, east, north = (float(p or 0) for p in parts)
        if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
            raise ValueError("bbox is out of range or inverted")
        return cls(south=south, west=west, north=north, east=east)


def cell_degrees(zoom: int) -> float:
    """The side of an aggregation cell at ``zoom`` (Web Mercator: 256 px per tile)."""
    return float(360.0 / (2 ** max(0, min(zoom, 22))) * CELL_PIXELS / 256.0)


def map_data(
    session: Session,
    *,
    actor: Actor,
    filters: CaseFilter,
    now: datetime,
    bbox: BBox | None = None,
    zoom: int = 12,
) -> dict[str, Any]:
    """Points or cells for the map, as a JSON-ready mapping.

    ``{"mode": "points", "points": [[id, lat, lon, status, overdue], ...]}`` or
    ``{"mode": "cells", "cell": degrees, "cells": [[lat, lon, count, open, overdue], ...]}``;
    both with ``total``, the number of matching cases.
    """
    where = [visible_cases(actor)]
    if bbox is not None:
        where += [
            Case.lat.between(bbox.south, bbox.north),
            Case.lon.between(bbox.west, bbox.east),
        ]
    overdue = overdue_condition(now)
    size = cell_degrees(zoom)
    counted = False
    prefix = _counts_scope(actor, filters)
    if zoom < POINT_ZOOM and prefix is not None:
        # The map counts per grid answer this filter: summed per cell in the database.
        counted = True
        cells = counted_cells(
            session,
            now=now,
            size=size,
            box=None if bbox is None else (bbox.south, bbox.west, bbox.north, bbox.east),
            statuses=[s.value for s in filters.statuses],
            grid_prefixes=[prefix] if prefix else [],
            only_overdue=bool(filters.overdue),
        )
        # Cases without a grid are placed by their own position (few: outside the grids).
        cells += _grouped_cells(
            session, [*where, Case.grid_code.is_(None)], filters, now, size, overdue
        )
        total = sum(int(c[2]) for c in cells)
        few = total <= POINTS_ALWAYS
    elif zoom < POINT_ZOOM:
        # A small city (or a narrow filter) gets its markers at every zoom; the browser
        # clusters them. Counting first is cheap next to grouping a large set.
        counted_stmt: Select[Any] = select(func.count()).select_from(Case)
        few = (
            session.scalar(apply_case_filter(counted_stmt.where(*where), filters, now)) or 0
        ) <= POINTS_ALWAYS
    else:
        few = False
    if zoom >= POINT_ZOOM or few:
        points: Select[Any] = select(Case.id, Case.lat, Case.lon, Case.status, overdue)  # type: ignore[assignment]
        stmt = apply_case_filter(points.where(*where), filters, now).limit(POINTS_MAX + 1)
        rows = session.execute(stmt).all()
        if len(rows) <= POINTS_MAX:
            return {
                "mode": "points",
                "total": len(rows),
                "points": [
                    [r[0], round(r[1], 6), round(r[2], 6), r[3].value, int(bool(r[4]))]
                    for r in rows
                ],
            }
    if not counted:
        cells = _grouped_cells(session, where, filters, now, size, overdue)
    cells = [[round(float(c[0]), 6), round(float(c[1]), 6), *c[2:]] for c in cells]
    return {
        "mode": "cells",
        "cell": size,
        "total": sum(int(c[2]) for c in cells),
        "cells": cells,
    }


def _counts_scope(actor: Actor, f: CaseFilter) -> str | None:
    """The grid prefix ('' for all) when the map counts answer ``f`` for ``actor``: a
    city-wide role and at most statuses, a grid or region and overdue only; else None
    (the cases are grouped)."""
    if actor.role not in CITY_WIDE or f.nothing:
        return None
    others = (f.codes, f.unit_code, f.categories, f.services, f.sources, f.created_from)
    if any(others) or f.created_to or f.bbox or f.text or f.region:
        return None
    if f.overdue is False or f.supervised is not None:
        return None
    prefixes = [p for p in (actor.region_code, f.grid) if p]
    if len(prefixes) == 2 and not (
        prefixes[1].startswith(prefixes[0]) or prefixes[0].startswith(prefixes[1])
    ):
        return None
    return max(prefixes, key=len, default="")


def _grouped_cells(
    session: Session,
    where: list[Any],
    filters: CaseFilter,
    now: datetime,
    size: float,
    overdue: Any,
) -> list[list[Any]]:
    """Cells grouped over the cases themselves."""
    row_key = cast((Case.lat + 90.0) / size, Integer)
    col_key = cast((Case.lon + 180.0) / size, Integer)
    is_open = sql_case((Case.status.in_(sorted(OPEN)), 1), else_=0)
    is_late = sql_case((overdue, 1), else_=0)
    stmt = apply_case_filter(
        select(
            row_key.label("r"),
            col_key.label("c"),
            func.count().label("n"),
            func.sum(is_open).label("open"),
            func.sum(is_late).label("late"),
            func.avg(Case.lat).label("lat"),
            func.avg(Case.lon).label("lon"),
        ).where(*where),
        filters,
        now,
    ).group_by(row_key, col_key)
    return [
        [float(r.lat), float(r.lon), int(r.n), int(r.open or 0), int(r.late or 0)]
        for r in session.execute(stmt)
    ]


def grid_counts(
    session: Session,
    *,
    actor: Actor,
    filters: CaseFilter,
    now: datetime,
    grid_codes: list[str] | None = None,
) -> dict[str, tuple[int, int, int]]:
    """Per unit grid: (cases, open, overdue) of the matching cases that carry a grid."""
    is_open = sql_case((Case.status.in_(sorted(OPEN)), 1), else_=0)
    is_late = sql_case((overdue_condition(now), 1), else_=0)
    counts: Select[Any] = select(  # type: ignore[assignment]
        Case.grid_code, func.count(), func.sum(is_open), func.sum(is_late)
    )
    stmt = apply_case_filter(
        counts.where(visible_cases(actor), Case.grid_code.is_not(None)), filters, now
    )
    if grid_codes is not None:
        stmt = stmt.where(Case.grid_code.in_(grid_codes))
    stmt = stmt.group_by(Case.grid_code).limit(GRIDS_MAX)
    return {
        str(code): (int(n), int(o or 0), int(late or 0))
        for code, n, o, late in session.execute(stmt)
    }


@dataclass(frozen=True)
class RegionChoice:
    """A region to drill down to on the map: its code is the prefix of its grids' codes."""

    code: str
    level: str
    name: str
    depth: int
    name_en: str | None = None


def region_choices(session: Session) -> list[RegionChoice]:
    """Current districts and streets, each district followed by its streets."""
    rows = session.execute(
        select(Region.code, Region.level, Region.name, Region.parent_code, Region.name_en)
        .where(Region.valid_to.is_(None), Region.level.in_(["district", "street"]))
        .order_by(Region.code)
    ).all()
    districts = [r for r in rows if r.level == "district"]
    streets: dict[str, list[Any]] = {}
    for r in rows:
        if r.level == "street":
            streets.setdefault(r.parent_code or "", []).append(r)
    out: list[RegionChoice] = []
    for d in districts:
        out.append(RegionChoice(d.code, d.level, d.name, 0, d.name_en))
        out += [
            RegionChoice(s.code, s.level, s.name, 1, s.name_en) for s in streets.pop(d.code, [])
        ]
    for orphans in streets.values():  # streets whose district is not loaded
        out += [RegionChoice(s.code, s.level, s.name, 0, s.name_en) for s in orphans]
    return out


def region_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of the current regions with these codes."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {
        code: name
        for code, name in session.execute(
            select(Region.code, Region.name).where(
                Region.valid_to.is_(None), Region.code.in_(wanted)
            )
        )
    }


def case_extent(session: Session, *, actor: Actor) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of the cases the actor may see, if any."""
    south, west, north, east = session.execute(
        select(
            func.min(Case.lat), func.min(Case.lon), func.max(Case.lat), func.max(Case.lon)
        ).where(visible_cases(actor))
    ).one()
    if south is None:
        return None
    return [[float(south), float(west)], [float(north), float(east)]]


def major_classes(session: Session) -> list[Category]:
    """The active major classes (大类), for category filters."""
    return list(
        session.scalars(
            select(Category).where(Category.level == 1, Category.is_active).order_by(Category.code)
        )
    )
