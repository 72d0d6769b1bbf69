"""The leaders' dashboard: today's intake, open and overdue cases, unit performance, trend.

Counts of what happened (reports, closes, ratings) are read from ``case_events``, the
input of all statistics; the state of open cases (status, unit, deadline) from
``cases``, which the use cases keep in step with the events. 满意率: satisfied or
basically satisfied over all ratings. The units' rates and the districts' ranking are
not computed here: the dashboard page takes them from the evaluation (one path, the same
numbers as the evaluation pages and the bulletin).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.cases.access import visible_cases
from duban.cases.mapdata import region_names
from duban.cases.models import Case, CaseEvent
from duban.cases.queries import overdue_condition
from duban.cases.workflow import OPEN, Action, CaseStatus, Rating, Source
from duban.kernel.context import SYSTEM_ACTOR, Actor

TREND_DAYS = 30
PERIOD_DAYS = 30


@dataclass(frozen=True)
class UnitFigures:
    """How one unit stands."""

    code: str
    name: str
    open: int
    overdue: int
    #: Its English name (the English face's; None: the name).
    name_en: str | None = None


@dataclass(frozen=True)
class DistrictFigures:
    """Open and overdue cases of one district (区)."""

    code: str
    name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class DayCount:
    """Reports and closes on one local day."""

    day: date
    reported: int
    closed: int


@dataclass(frozen=True)
class Dashboard:
    """All figures of the dashboard."""

    today: date
    period_start: date
    intake_today: dict[Source, int]
    open: int
    overdue: int
    supervised: int
    units: list[UnitFigures]
    districts: list[DistrictFigures]
    trend: list[DayCount]
    ratings: dict[Rating, int]
    #: 即查即改: problems fixed on the spot in the period, counted apart (never dispatched).
    fixed_on_site: int = 0
    #: 移交: cases handed over to bodies outside 城管 still waiting for their answer, and
    #: how many of those are past the reply deadline — counted apart from open cases.
    transferred: int = 0
    transfers_overdue: int = 0

    @property
    def intake_total(self) -> int:
        """Reports received today, all sources."""
        return sum(self.intake_today.values())

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率 over the period's ratings."""
        total = sum(self.ratings.values())
        happy = self.ratings.get(Rating.SATISFIED, 0) + self.ratings.get(
            Rating.BASICALLY_SATISFIED, 0
        )
        return happy / total if total else None


def local_day_start(day: date, tz: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the city's zone."""
    return datetime.combine(day, time(0), tzinfo=tz)


def dashboard(
    session: Session, *, now: datetime, tz: ZoneInfo, actor: Actor = SYSTEM_ACTOR
) -> Dashboard:
    """Compute the dashboard at ``now`` over the cases ``actor`` may see (city-wide for
    city staff, a district's or street's own for its staff)."""
    seen = visible_cases(actor)
    today = now.astimezone(tz).date()
    start_today = local_day_start(today, tz)
    period_start_day = today - timedelta(days=PERIOD_DAYS - 1)
    period_start = local_day_start(period_start_day, tz)
    overdue = overdue_condition(now)
    # Cases handed over to a body outside 城管 are counted apart (transferred), not open.
    open_statuses = sorted(OPEN - {CaseStatus.TRANSFERRED})

    intake = {
        Source(src): int(n)
        for src, n in session.execute(
            select(Case.source, func.count())
            .join(CaseEvent, CaseEvent.case_id == Case.id)
            .where(
                CaseEvent.action == Action.REPORT.value,
                CaseEvent.occurred_at >= start_today,
                CaseEvent.occurred_at <= now,
                seen,
            )
            .group_by(Case.source)
        )
    }
    open_count, overdue_count, supervised = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(sql_case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(sql_case((Case.is_supervised.is_(True), 1), else_=0)), 0),
        ).where(Case.status.in_(open_statuses), seen)
    ).one()

    open_by_unit = {
        uid: (int(n), int(late or 0))
        for uid, n, late in session.execute(
            select(Case.unit_id, func.count(), func.sum(sql_case((overdue, 1), else_=0)))
            .where(Case.status.in_(open_statuses), Case.unit_id.is_not(None), seen)
            .group_by(Case.unit_id)
        )
    }
    units = []
    for unit in session.scalars(select(Unit).where(Unit.is_active).order_by(Unit.code)):
        o, late = open_by_unit.get(unit.id, (0, 0))
        units.append(UnitFigures(unit.code, unit.name, o, late, unit.name_en))

    by_district = [
        (str(code), int(n), int(late or 0))
        for code, n, late in session.execute(
            select(Case.district_code, func.count(), func.sum(sql_case((overdue, 1), else_=0)))
            .where(Case.status.in_(open_statuses), Case.district_code.is_not(None), seen)
            .group_by(Case.district_code)
            .order_by(Case.district_code)
        )
    ]
    names = region_names(session, [code for code, _n, _late in by_district])
    districts = [
        DistrictFigures(code, names.get(code, code), n, late) for code, n, late in by_district
    ]

    trend: list[DayCount] = []
    for offset in range(TREND_DAYS):
        day = period_start_day + timedelta(days=offset)
        lo, hi = local_day_start(day, tz), local_day_start(day + timedelta(days=1), tz)
        counts = dict(
            session.execute(
                select(CaseEvent.action, func.count())
                .join(Case, Case.id == CaseEvent.case_id)
                .where(
                    and_(CaseEvent.occurred_at >= lo, CaseEvent.occurred_at < hi),
                    CaseEvent.action.in_([Action.REPORT.value, Action.CLOSE.value]),
                    seen,
                )
                .group_by(CaseEvent.action)
            ).all()
        )
        trend.append(DayCount(day, int(counts.get("report", 0)), int(counts.get("close", 0))))

    ratings: dict[Rating, int] = {}
    for (payload,) in session.execute(
        select(CaseEvent.payload)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            # Citizens' own ratings and the hotline's return calls (回访).
            CaseEvent.action.in_([Action.RATE.value, Action.CALLBACK.value]),
            CaseEvent.occurred_at >= period_start,
            seen,
        )
    ):
        try:
            rating = Rating(json.loads(payload).get("rating"))
        except (ValueError, TypeError):
            continue
        ratings[rating] = ratings.get(rating, 0) + 1

    fixed_on_site = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.fixed_on_site.is_(True), Case.created_at >= period_start, seen)
    )

    from duban.handover import transfer_figures  # deferred: handover reads cases

    handed = transfer_figures(session, seen=seen, now=now)

    return Dashboard(
        transferred=handed.waiting,
        transfers_overdue=handed.overdue,
        fixed_on_site=int(fixed_on_site or 0),
        today=today,
        period_start=period_start_day,
        intake_today=intake,
        open=int(open_count),
        overdue=int(overdue_count),
        supervised=int(supervised),
        units=units,
        districts=districts,
        trend=trend,
        ratings=ratings,
    )
