"""Read-side queries: filtered, paginated case lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from duban.accounts import Unit
from duban.cases.access import visible_cases
from duban.cases.models import Case
from duban.cases.workflow import CLOCK_RUNNING, CaseStatus, Source
from duban.kernel.context import Actor


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a list wants: the one filter model of the API's and the web's case
    lists, the map, the workbench, Open311's GET requests and the bulk export.

    Empty or None means "any". Each face reads its own parameters into it (with
    :mod:`duban.kernel.parsing`); :func:`apply_case_filter` turns it into SQL.
    """

    codes: Sequence[str] = ()  # 案卷号 (Open311's service_request_id)
    statuses: Sequence[CaseStatus] = ()
    unit_code: str | None = None
    categories: Sequence[str] = ()  # a subclass, or a major class for all its subclasses
    services: Sequence[str] = ()  # subclass codes matched exactly (Open311's service_code)
    sources: Sequence[Source] = ()
    overdue: bool | None = None
    supervised: bool | None = None
    grid: str | None = None  # a grid code or a prefix of one (a community, a street)
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    nothing: bool = False  # no case passes (an Open311 status word that no status has)


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Cases past their deadline at ``now``: running late, handled late or parked late."""
    running = and_(Case.status.in_(list(CLOCK_RUNNING)), Case.due_at < now)
    handled_late = and_(
        Case.status.not_in(list(CLOCK_RUNNING)),
        Case.handled_at.is_not(None),
        Case.due_at.is_not(None),
        Case.handled_at > Case.due_at,
    )
    parked_late = and_(Case.status == CaseStatus.PARKED, Case.parked_at > Case.due_at)
    return or_(running, handled_late, parked_late)


def apply_case_filter(stmt: Select[Any], f: CaseFilter, now: datetime) -> Select[Any]:
    """``stmt`` (a select over cases) narrowed to the cases ``f`` wants."""
    if f.nothing:
        return stmt.where(false())
    if f.codes:
        stmt = stmt.where(Case.code.in_(list(f.codes)))
    if f.statuses:
        stmt = stmt.where(Case.status.in_(list(f.statuses)))
    if f.unit_code:
        stmt = stmt.where(Case.unit_id.in_(select(Unit.id).where(Unit.code == f.unit_code)))
    if f.categories:
        # A major class code selects all its subclasses (their codes extend it).
        stmt = stmt.where(
            or_(*(Case.category_code.startswith(c, autoescape=True) for c in f.categories))
        )
    if f.services:
        stmt = stmt.where(Case.category_code.in_(list(f.services)))
    if f.sources:
        stmt = stmt.where(Case.source.in_(list(f.sources)))
    if f.overdue is not None:
        cond = overdue_condition(now)
        stmt = stmt.where(cond if f.overdue else ~cond)
    if f.grid:
        stmt = stmt.where(Case.grid_code.startswith(f.grid, autoescape=True))
    if f.created_from:
        stmt = stmt.where(Case.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Case.created_at < f.created_to)
    if f.supervised is not None:
        stmt = stmt.where(Case.is_supervised.is_(f.supervised))
    if f.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = f.bbox
        stmt = stmt.where(Case.lon.between(min_lon, max_lon), Case.lat.between(min_lat, max_lat))
    return stmt


def list_cases(
    session: Session,
    *,
    actor: Actor,
    filters: CaseFilter,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Case], int]:
    """The cases ``actor`` may see that match ``filters``, newest first, and the total."""
    base = apply_case_filter(select(Case).where(visible_cases(actor)), filters, now)
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    rows = session.scalars(
        base.options(selectinload(Case.unit))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return [row for row in rows], int(total)
