"""What anybody may see: the public cases of an area, as a list, map data and a feed.

Which cases are public is the policy's (``data/public.yaml``): hidden categories,
hidden statuses, duplicates. Every query here starts from :func:`public_condition`, and
the area narrows it by an indexed column: a region's code by its level's column
(``district_code``, ``street_code``, ``community_code``, ``grid_code``), a box or a
point by ``(lat, lon)`` (``ix_cases_lat_lon``). The list pages by keyset on
``(created_at, id)`` — newest first, ``ix_cases_created_at`` — so page 500 costs what
page 1 does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    and_,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from duban.cases import OPEN, Case, CaseStatus, counted_cells
from duban.publicview.policy import PublicPolicy
from duban.publicview.rules import METRES_PER_DEGREE, Area, AreaKind, approximate
from duban.reference import Category

#: At this zoom and closer the public map shows single reports.
POINT_ZOOM = 14
#: Up to this many matching reports the map gets points at any zoom.
POINTS_ALWAYS = 2000
POINTS_MAX = 5000
CELL_PIXELS = 48
#: The region columns of a case, by the length of a region's code.
_REGION_COLUMN = {
    6: Case.district_code,
    9: Case.street_code,
    12: Case.community_code,
    15: Case.grid_code,
}
#: Status filters of the public list besides single statuses.
STATUS_GROUPS: dict[str, list[str]] = {
    "open": sorted(OPEN),
    "closed": [CaseStatus.CLOSED.value],
}


def public_condition(policy: PublicPolicy) -> ColumnElement[bool]:
    """The cases anybody may see."""
    conditions: list[ColumnElement[bool]] = []
    if policy.hidden_statuses:
        conditions.append(Case.status.not_in(policy.hidden_statuses))
    for code in policy.hidden_categories:
        conditions.append(not_(Case.category_code.startswith(code, autoescape=True)))
    if policy.hide_duplicates:
        conditions.append(Case.duplicate_of_id.is_(None))
    return and_(*conditions)


#: A box holding at least this many reports is listed by walking the newest first
#: (ix_cases_created_at) rather than by reading the box from ix_cases_lat_lon and sorting.
CROWDED = 5000


def area_condition(area: Area, *, by_place: bool = True) -> ColumnElement[bool]:
    """The cases in ``area``; with ``by_place`` False the box is written so that no index
    serves it (``lat + 0``), for a crowded box listed newest first."""
    if area.kind == AreaKind.REGION:
        column = _REGION_COLUMN.get(len(area.region_code))
        if column is not None:
            return column == area.region_code
        return Case.grid_code.startswith(area.region_code, autoescape=True)
    box = area.box()
    assert box is not None
    south, west, north, east = box
    lat, lon = (Case.lat, Case.lon) if by_place else (Case.lat + 0.0, Case.lon + 0.0)
    in_box = and_(lat.between(south, north), lon.between(west, east))
    if area.kind == AreaKind.BBOX:
        return in_box
    # Inside the circle (an equirectangular distance: exact enough for a few kilometres).
    scale = math.cos(math.radians(area.lat))
    dy = (Case.lat - area.lat) * METRES_PER_DEGREE
    dx = (Case.lon - area.lon) * (METRES_PER_DEGREE * scale)
    return and_(in_box, dy * dy + dx * dx <= float(area.radius_m) ** 2)


@dataclass(frozen=True)
class PublicFilter:
    """The list's filters: a category (major class or subclass) and a status or group."""

    category: str = ""
    status: str = ""


def filter_conditions(filters: PublicFilter) -> list[ColumnElement[bool]]:
    """The conditions of the filters (unknown values are ignored: nothing matches none)."""
    out: list[ColumnElement[bool]] = []
    if filters.category:
        out.append(Case.category_code.startswith(filters.category, autoescape=True))
    if filters.status in STATUS_GROUPS:
        out.append(Case.status.in_(STATUS_GROUPS[filters.status]))
    elif filters.status in {s.value for s in CaseStatus}:
        out.append(Case.status == filters.status)
    return out


@dataclass(frozen=True)
class PublicRow:
    """A line of the public list (and an entry of the feed)."""

    code: str
    status: CaseStatus
    category_code: str
    category_name: str
    category_name_en: str
    address: str
    lat: float
    lon: float
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class PublicPage:
    """One page of the list, and the cursor of the next if there is one."""

    rows: list[PublicRow]
    next_cursor: str


def encode_cursor(created_at: datetime, case_id: int) -> str:
    """The keyset cursor after a row: its creation time (microseconds) and id."""
    micros = round(created_at.timestamp() * 1_000_000)
    return f"{micros}-{case_id}"


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The row a cursor points after; None if it is not one."""
    micros, _, case_id = cursor.partition("-")
    if not (micros.isdigit() and case_id.isdigit()) or len(cursor) > 40:
        return None
    return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), int(case_id)


def _rows(session: Session, found: Sequence[Row[Any]]) -> list[PublicRow]:
    codes = {r.category_code for r in found}
    names = {
        c.code: (c.name, c.name_en or c.name)
        for c in session.scalars(select(Category).where(Category.code.in_(codes)))
    }
    return [
        PublicRow(
            code=r.code,
            status=r.status,
            category_code=r.category_code,
            category_name=names.get(r.category_code, (r.category_code, ""))[0],
            category_name_en=names.get(r.category_code, ("", r.category_code))[1],
            address=r.address,
            lat=approximate(r.lat),
            lon=approximate(r.lon),
            created_at=r.created_at,
            updated_at=r.updated_at,
            closed_at=r.closed_at,
        )
        for r in found
    ]


def _columns() -> Select[Any]:
    columns: Select[Any] = select(  # type: ignore[assignment]
        Case.id,
        Case.code,
        Case.status,
        Case.category_code,
        Case.address,
        Case.lat,
        Case.lon,
        Case.created_at,
        Case.updated_at,
        Case.closed_at,
    )
    return columns


def list_public(
    session: Session,
    *,
    policy: PublicPolicy,
    area: Area | None,
    filters: PublicFilter,
    cursor: str = "",
    limit: int | None = None,
) -> PublicPage:
    """The public reports of ``area`` (everywhere if None), newest first, one page."""
    size = limit or policy.page_size
    where = [public_condition(policy), *filter_conditions(filters)]
    if area is not None:
        where.append(area_condition(area, by_place=not _crowded(session, area)))
    after = decode_cursor(cursor) if cursor else None
    if after is not None:
        at, case_id = after
        where.append(or_(Case.created_at < at, and_(Case.created_at == at, Case.id < case_id)))
    stmt = _columns().where(*where).order_by(Case.created_at.desc(), Case.id.desc()).limit(size + 1)
    found = session.execute(stmt).all()
    more = len(found) > size
    last = found[size - 1] if more else None
    return PublicPage(
        rows=_rows(session, found[:size]),
        next_cursor=encode_cursor(last.created_at, last.id) if last is not None else "",
    )


def _crowded(session: Session, area: Area) -> bool:
    """Whether ``area``'s box holds :data:`CROWDED` reports or more, counted on
    ``ix_cases_lat_lon`` alone up to that many — on SQLite only. SQLite's planner does
    not know how many cases a box holds: it read every case of a 2 km box in the city
    centre (~50,000 of 1,000,000) to sort them for the newest 20 (330 ms of CPU); a
    crowded box is walked newest first (9 ms), a sparse one (the outskirts, nothing
    near) read from the index. PostgreSQL estimates the box from its statistics and
    chooses well by itself (there the forced walk took 1.2–11 s: BENCHMARKS.md)."""
    box = area.box()
    if area.kind == AreaKind.REGION or box is None:
        return False
    if session.get_bind().dialect.name != "sqlite":
        return False
    south, west, north, east = box
    probe = (
        select(Case.id)
        .where(Case.lat.between(south, north), Case.lon.between(west, east))
        .limit(CROWDED)
        .subquery()
    )
    return (session.scalar(select(func.count()).select_from(probe)) or 0) >= CROWDED


def newest(
    session: Session, *, policy: PublicPolicy, area: Area | None, limit: int
) -> list[PublicRow]:
    """The feed's entries: the area's newest public reports (the alerts' subject), by the
    same index path as the list's first page."""
    where = [public_condition(policy)]
    if area is not None:
        where.append(area_condition(area))
    stmt = _columns().where(*where).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    return _rows(session, session.execute(stmt).all())


def public_case(session: Session, *, policy: PublicPolicy, case_code: str) -> Case | None:
    """The case with this 案卷号 if the public may see it."""
    return session.scalars(
        select(Case).where(Case.code == case_code, public_condition(policy))
    ).first()


def cell_degrees(zoom: int) -> float:
    """The side of a map cell at ``zoom`` (Web Mercator, 256 px per tile)."""
    return float(360.0 / (2 ** max(0, min(zoom, 22))) * CELL_PIXELS / 256.0)


def public_map(
    session: Session,
    *,
    policy: PublicPolicy,
    box: Area,
    zoom: int,
    filters: PublicFilter,
) -> dict[str, Any]:
    """Reports in ``box`` for the public map, as the staff map draws them (points zoomed in
    or when few, else counts per cell grouped in SQL), with approximate places and 案卷号
    instead of ids: ``{"mode": "points", "points": [[code, lat, lon, status], ...]}`` or
    ``{"mode": "cells", "cell": degrees, "cells": [[lat, lon, count, open], ...]}``."""
    where = [public_condition(policy), *filter_conditions(filters)]
    size = cell_degrees(zoom)
    if zoom >= POINT_ZOOM:
        where.append(area_condition(box))
        points = _points(session, where)
        if points is not None:
            return points
    elif not filters.category:
        # Zoomed out without a category: the map counts per grid (a few thousand rows),
        # less the reports of hidden categories (found on ix_cases_category_code).
        cells = _counted_cells(session, policy, box, size, filters)
        total = sum(int(c[2]) for c in cells)
        if total <= POINTS_ALWAYS:
            south, west, north, east = box.south, box.west, box.north, box.east
            where += [Case.lat.between(south, north), Case.lon.between(west, east)]
            points = _points(session, where)
            if points is not None:
                return points
        rounded = [[round(float(c[0]), 4), round(float(c[1]), 4), c[2], c[3]] for c in cells]
        return {"mode": "cells", "cell": size, "total": total, "cells": rounded}
    else:
        # A category's reports are grouped themselves: reading the table in order beats
        # fetching most of its rows through the (lat, lon) index, so the box is written
        # as an expression no index serves (``lat + 0``).
        south, west, north, east = box.south, box.west, box.north, box.east
        where += [(Case.lat + 0.0).between(south, north), (Case.lon + 0.0).between(west, east)]
    row_key = cast((Case.lat + 90.0) / size, Integer)
    col_key = cast((Case.lon + 180.0) / size, Integer)
    is_open = sql_case((Case.status.in_(sorted(OPEN)), 1), else_=0)
    grouped = (
        select(
            func.count().label("n"),
            func.sum(is_open).label("open"),
            func.avg(Case.lat).label("lat"),
            func.avg(Case.lon).label("lon"),
        )
        .where(*where)
        .group_by(row_key, col_key)
    )
    cells = [
        [round(float(r.lat), 4), round(float(r.lon), 4), int(r.n), int(r.open or 0)]
        for r in session.execute(grouped)
    ]
    total = sum(c[2] for c in cells)
    if zoom < POINT_ZOOM and total <= POINTS_ALWAYS:
        points = _points(session, where)
        if points is not None:
            return points
    return {"mode": "cells", "cell": size, "total": total, "cells": cells}


def _status_choice(filters: PublicFilter) -> list[str]:
    if filters.status in STATUS_GROUPS:
        return STATUS_GROUPS[filters.status]
    if filters.status in {s.value for s in CaseStatus}:
        return [filters.status]
    return []


def _counted_cells(
    session: Session, policy: PublicPolicy, box: Area, size: float, filters: PublicFilter
) -> list[list[Any]]:
    """Cells of the public reports from the map counts: ``[lat, lon, count, open, _]``."""
    statuses = _status_choice(filters)
    less = None
    if policy.hidden_categories:
        hidden = [
            Case.status.not_in(policy.hidden_statuses) if policy.hidden_statuses else true(),
            # The codes themselves, not a prefix: ix_cases_category_code finds them.
            Case.category_code.in_(
                select(Category.code).where(
                    or_(
                        *(
                            Category.code.startswith(c, autoescape=True)
                            for c in policy.hidden_categories
                        )
                    )
                )
            ),
        ]
        if statuses:
            hidden.append(Case.status.in_(statuses))
        if policy.hide_duplicates:
            hidden.append(Case.duplicate_of_id.is_(None))
        # One row per hidden report, summed per grid with the table's rows: grouped here,
        # SQLite would read every case in grid order (ix_cases_grid_code) to skip a sort.
        is_open = sql_case((Case.status.in_(sorted(OPEN)), 1), else_=0)
        less = select(Case.grid_code, literal(1, Integer), is_open).where(*hidden)
    cells = counted_cells(
        session,
        now=datetime.now(UTC),
        size=size,
        box=(box.south, box.west, box.north, box.east),
        statuses=statuses,
        hidden_statuses=policy.hidden_statuses,
        duplicates=not policy.hide_duplicates,
        overdue=False,
        less=less,
    )
    # Reports without a grid are placed by their own position (few: outside the grids).
    loose = [public_condition(policy), *filter_conditions(filters), Case.grid_code.is_(None)]
    loose += [Case.lat.between(box.south, box.north), Case.lon.between(box.west, box.east)]
    row_key = cast((Case.lat + 90.0) / size, Integer)
    col_key = cast((Case.lon + 180.0) / size, Integer)
    is_open = sql_case((Case.status.in_(sorted(OPEN)), 1), else_=0)
    for r in session.execute(
        select(func.count(), func.sum(is_open), func.avg(Case.lat), func.avg(Case.lon))
        .where(*loose)
        .group_by(row_key, col_key)
    ):
        cells.append([float(r[2]), float(r[3]), int(r[0]), int(r[1] or 0), 0])
    return cells


def _points(session: Session, where: list[ColumnElement[bool]]) -> dict[str, Any] | None:
    """The reports as points, or None when there are too many to send."""
    stmt = select(Case.code, Case.lat, Case.lon, Case.status).where(*where)
    rows = session.execute(stmt.limit(POINTS_MAX + 1)).all()
    if len(rows) > POINTS_MAX:
        return None
    return {
        "mode": "points",
        "total": len(rows),
        "points": [[r.code, approximate(r.lat), approximate(r.lon), r.status.value] for r in rows],
    }
