"""Hotspots and recurrence (回潮): a place × category whose problems come back soon after
they were closed, ranked, and as a map layer.

- **Place** is the case's unit grid (单元网格, about 10,000 m², the unit the national
  practice counts by). Cases without a grid (a policy that lets reports outside every
  grid in) belong to no place and are left out.
- **Category** is the case's subclass (小类); ``category=`` narrows to a subclass or to a
  major class (大类) by its code's prefix.
- **Recurrence**: a case reported in the period recurs when another case of the same place
  and category was closed (a ``close`` event) at most ``days`` days before the report.
  ``days`` defaults to the policy's ``recurrence_days`` (``data/evaluation.yaml``).
- **Hotspot**: a place × category with at least ``min_recurrences`` recurring cases in the
  period; ranked by recurrences, then cases (ties share a rank), then grid and category
  codes.

Computed by two set-based queries (the groups with a correlated EXISTS, then the last
closing of each group), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml
from sqlalchemy import Integer, exists, func, select, tuple_
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from duban.cases import Case, CaseEvent, is_staff, visible_cases
from duban.evaluation.service import Period, parse_period
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, Msg, PermissionDenied
from duban.places import Region
from duban.reference import Category

# The messages a person reads (zh-CN in duban.web.messages_zh).
BAD_DAYS = "'days' must be a whole number from 1 to {max}"
UNKNOWN_CATEGORY = "unknown category '{code}'"
STAFF_ONLY = "only city staff see hotspots"

_CLOSE: Final = "close"


@dataclass(frozen=True)
class HotspotPolicy:
    """The ``hotspots`` section of ``data/evaluation.yaml``."""

    recurrence_days: int
    min_recurrences: int
    max_days: int


@cache
def hotspot_policy() -> HotspotPolicy:
    """The shipped policy (``duban/data/evaluation.yaml``, section ``hotspots``)."""
    text = resources.files("duban.data").joinpath("evaluation.yaml").read_text(encoding="utf-8")
    raw = (yaml.safe_load(text) or {}).get("hotspots") or {}
    policy = HotspotPolicy(
        recurrence_days=int(raw.get("recurrence_days", 30)),
        min_recurrences=int(raw.get("min_recurrences", 1)),
        max_days=int(raw.get("max_days", 365)),
    )
    if not 1 <= policy.recurrence_days <= policy.max_days or policy.min_recurrences < 1:
        raise ValueError(f"evaluation.yaml hotspots: out of range: {policy}")
    return policy


@dataclass(frozen=True)
class Hotspot:
    """One ranked place × category."""

    rank: int
    grid_code: str
    grid_name: str
    category_code: str
    category_name: str
    cases: int
    recurrences: int
    last_closed_at: datetime | None
    lat: float
    lon: float

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "place": self.grid_code,
            "place_name": self.grid_name,
            "category_code": self.category_code,
            "category_name": self.category_name,
            "cases": self.cases,
            "recurrences": self.recurrences,
            "last_closed_at": self.last_closed_at.isoformat() if self.last_closed_at else None,
        }


@dataclass(frozen=True)
class HotspotList:
    period: Period
    days: int
    category: str | None
    rows: list[Hotspot]


def _parse_days(days: str | int | None) -> int:
    policy = hotspot_policy()
    if days is None or days == "":
        return policy.recurrence_days
    try:
        value = int(days)
    except ValueError as err:
        raise InvalidInput(Msg(BAD_DAYS, max=policy.max_days), field="days") from err
    if not 1 <= value <= policy.max_days:
        raise InvalidInput(Msg(BAD_DAYS, max=policy.max_days), field="days")
    return value


def _days_between(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """``later - earlier`` in days, on either store."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400.0


def _ranks(rows: list[tuple[int, int]]) -> list[int]:
    """Competition ranks of rows already sorted by (recurrences, cases) descending."""
    ranks: list[int] = []
    for i, key in enumerate(rows):
        ranks.append(ranks[-1] if i and rows[i - 1] == key else i + 1)
    return ranks


def find_hotspots(
    session: Session,
    *,
    actor: Actor,
    start: str | None,
    end: str | None,
    days: str | int | None = None,
    category: str | None = None,
) -> HotspotList:
    """The ranked hotspots among the cases ``actor`` may see, reported in ``[start, end)``.

    Raises:
        PermissionDenied: a citizen asks.
        InvalidInput: a bad period, ``days`` or category (``field`` names it).
    """
    if not is_staff(actor):
        raise PermissionDenied(STAFF_ONLY)
    period = parse_period(session, start, end)
    window = _parse_days(days)
    code = (category or "").strip() or None
    if code is not None and session.get(Category, code) is None:
        raise InvalidInput(Msg(UNKNOWN_CATEGORY, code=code), field="category")
    policy = hotspot_policy()

    earlier = aliased(Case)
    closing = aliased(CaseEvent)
    gap = _days_between(session, Case.created_at, closing.occurred_at)
    recurs = exists(
        select(closing.id)
        .join(earlier, earlier.id == closing.case_id)
        .where(
            closing.action == _CLOSE,
            earlier.grid_code == Case.grid_code,
            earlier.category_code == Case.category_code,
            earlier.id != Case.id,
            closing.occurred_at <= Case.created_at,
            # A bound the index on occurred_at can use; the exact window is ``gap``.
            closing.occurred_at >= period.start - timedelta(days=window + 1),
            gap <= window,
        )
    )
    recurrences = func.sum(sql_case((recurs, 1), else_=0)).cast(Integer)
    where = [
        visible_cases(actor),
        Case.created_at >= period.start,
        Case.created_at < period.end,
        Case.grid_code.is_not(None),
    ]
    if code is not None:
        where.append(Case.category_code.startswith(code, autoescape=True))
    grouped = (
        select(
            Case.grid_code,
            Case.category_code,
            func.count(Case.id).label("cases"),
            recurrences.label("recurrences"),
            func.avg(Case.lat).label("lat"),
            func.avg(Case.lon).label("lon"),
        )
        .where(*where)
        .group_by(Case.grid_code, Case.category_code)
        .having(recurrences >= policy.min_recurrences)
    )
    found = sorted(
        session.execute(grouped).all(),
        key=lambda r: (-r.recurrences, -r.cases, r.grid_code, r.category_code),
    )
    if not found:
        return HotspotList(period, window, code, [])
    keys = [(r.grid_code, r.category_code) for r in found]
    last = _last_closed(session, keys, period.end)
    grids = _names(session, Region.code, Region.name, {k[0] for k in keys})
    categories = _names(session, Category.code, Category.name, {k[1] for k in keys})
    ranks = _ranks([(r.recurrences, r.cases) for r in found])
    rows = [
        Hotspot(
            rank=rank,
            grid_code=r.grid_code,
            grid_name=grids.get(r.grid_code, r.grid_code),
            category_code=r.category_code,
            category_name=categories.get(r.category_code, r.category_code),
            cases=int(r.cases),
            recurrences=int(r.recurrences),
            last_closed_at=last.get((r.grid_code, r.category_code)),
            lat=float(r.lat),
            lon=float(r.lon),
        )
        for rank, r in zip(ranks, found, strict=True)
    ]
    return HotspotList(period, window, code, rows)


def _last_closed(
    session: Session, keys: list[tuple[str, str]], end: datetime
) -> dict[tuple[str, str], datetime]:
    """The last closing before ``end`` of each place × category."""
    out: dict[tuple[str, str], datetime] = {}
    for i in range(0, len(keys), 400):
        chunk = keys[i : i + 400]
        stmt = (
            select(Case.grid_code, Case.category_code, func.max(CaseEvent.occurred_at))
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                CaseEvent.action == _CLOSE,
                CaseEvent.occurred_at < end,
                tuple_(Case.grid_code, Case.category_code).in_(chunk),
            )
            .group_by(Case.grid_code, Case.category_code)
        )
        for grid, cat, at in session.execute(stmt):
            out[(str(grid), cat)] = _aware(at)
    return out


def _aware(value: Any) -> datetime:
    """``max()`` loses the column's type on SQLite (a naive string or datetime back)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _names(session: Session, code_col: Any, name_col: Any, codes: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    ordered = sorted(codes)
    for i in range(0, len(ordered), 500):
        rows = session.execute(select(code_col, name_col).where(code_col.in_(ordered[i : i + 500])))
        names.update({c: n for c, n in rows})
    return names


def hotspots_geojson(found: HotspotList) -> dict[str, Any]:
    """The hotspots as a GeoJSON FeatureCollection of points (WGS84 lon/lat): each at the
    mean position of its period's cases, with the row's fields as properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(h.lon, 6), round(h.lat, 6)]},
                "properties": h.as_json(),
            }
            for h in found.rows
        ],
    }


def as_page(found: HotspotList, tz: Any) -> Mapping[str, Any]:
    """The API's JSON of a list."""
    return {
        "from": found.period.start.astimezone(tz).isoformat(),
        "to": found.period.end.astimezone(tz).isoformat(),
        "days": found.days,
        "category": found.category,
        "rows": [h.as_json() for h in found.rows],
    }
