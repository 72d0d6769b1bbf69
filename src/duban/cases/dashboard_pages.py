"""The leaders' dashboard; every number links to the cases behind it.

The units' rates (over the dashboard's 30 days) and the districts' ranking (last month,
as the bulletin has it) come from the evaluation's :func:`~duban.evaluation.evaluate`,
so the dashboard, the evaluation pages and the bulletin show the same numbers. Staff of
one territory (a district or street user) see their territory's counts, and of the
evaluation only their territory's rows: their own region's and those of the regions
one level below it within it (each ranked among its whole level), not the units' rates
(a unit's rate is over all its cases, inside the territory or not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from duban.cases.dashboard import DayCount, dashboard
from duban.evaluation import evaluate
from duban.kernel.context import SYSTEM_ACTOR
from duban.kernel.roles import Role
from duban.places import Region
from duban.reference import load_policy
from duban.web.context import Ctx, pages

router = APIRouter(include_in_schema=False)

DASHBOARD_ROLES = (
    Role.LEADER,
    Role.SUPERVISOR,
    Role.SHIFT_LEAD,
    Role.DISPATCHER,
    Role.OPERATOR,
    Role.ADMIN,
)

CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 200, 36, 24, 12
#: Who may open the evaluation behind the dashboard's rates (its pages' roles).
EVALUATION_ROLES: Final = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN})
#: The units' rates the dashboard shows, in this order (indicator codes).
UNIT_RATES: Final = ("on_time_close_rate", "rework_rate")
#: The region levels, from the top (a territory's rows: its level and the one below).
REGION_LEVELS: Final = ("district", "street", "community", "grid")


@dataclass(frozen=True)
class Evaluated:
    """The evaluation figures of the dashboard: the units' rates over its 30 days and
    last month's district ranking, with the period each covers (for the links)."""

    units: dict[str, Any]  # unit code -> evaluation row
    units_from: date
    units_to: date
    districts: list[Any]  # evaluation rows, ranked
    month_from: date
    month_to: date
    can_drill: bool
    #: the object level of each ranked row (district for the city-wide ranking)
    levels: dict[str, str] | None = None
    #: a territory's rows only (its region and the regions below it): no units' rates
    territory: bool = False


def _territory_rows(ctx: Ctx, code: str, month_from: date, month_to: date) -> list[Any] | None:
    """The evaluation rows of the region ``code`` and of the regions one level below it
    within it, last month; None when the region is not on the map."""
    region = ctx.db.scalars(
        select(Region).where(Region.code == code, Region.valid_to.is_(None))
    ).first()
    if region is None or region.level not in REGION_LEVELS:
        return None
    children = set(
        ctx.db.scalars(
            select(Region.code).where(Region.parent_code == code, Region.valid_to.is_(None))
        )
    )
    rows: list[Any] = []
    at = REGION_LEVELS.index(region.level)
    for level, wanted in (
        (region.level, {code}),
        *[(lv, children) for lv in REGION_LEVELS[at + 1 : at + 2]],
    ):
        if not wanted:
            continue
        _, _, found = evaluate(
            ctx.db,
            actor=SYSTEM_ACTOR,
            obj=level,
            start=month_from.isoformat(),
            end=month_to.isoformat(),
        )
        rows.extend((level, r) for r in found if r.code in wanted)
    return rows


def evaluated(ctx: Ctx, today: date, period_start: date) -> Evaluated | None:
    """The evaluation's numbers for a city-wide viewer; None for a territory's staff."""
    actor = ctx.actor
    if actor is None:
        return None
    end = today + timedelta(days=1)
    month_to = today.replace(day=1)
    month_from = (month_to - timedelta(days=1)).replace(day=1)
    if actor.region_code is not None:
        rows = _territory_rows(ctx, actor.region_code, month_from, month_to)
        if rows is None:
            return None
        return Evaluated(
            units={},
            units_from=period_start,
            units_to=end,
            districts=[r for _, r in rows],
            month_from=month_from,
            month_to=month_to,
            can_drill=actor.role in EVALUATION_ROLES,
            levels={r.code: level for level, r in rows},
            territory=True,
        )
    _, _, units = evaluate(
        ctx.db,
        actor=SYSTEM_ACTOR,
        obj="unit",
        start=period_start.isoformat(),
        end=end.isoformat(),
    )
    _, _, districts = evaluate(
        ctx.db,
        actor=SYSTEM_ACTOR,
        obj="district",
        start=month_from.isoformat(),
        end=month_to.isoformat(),
    )
    return Evaluated(
        units={r.code: r for r in units},
        units_from=period_start,
        units_to=end,
        districts=districts,
        month_from=month_from,
        month_to=month_to,
        can_drill=actor.role in EVALUATION_ROLES,
    )


@dataclass(frozen=True)
class TrendChart:
    """Coordinates of the trend chart, drawn as SVG by the template (numbers only)."""

    width: int
    height: int
    reported: str
    closed: str
    ticks: list[tuple[float, int]]
    labels: list[tuple[float, str]]
    max_value: int


def trend_chart(days: list[DayCount]) -> TrendChart:
    """Polylines of reports and closes per day, scaled into the chart box."""
    top = max([1] + [d.reported for d in days] + [d.closed for d in days])
    inner_w, inner_h = CHART_W - PAD_L - 8, CHART_H - PAD_B - PAD_T
    step = inner_w / max(1, len(days) - 1)

    def y(value: int) -> float:
        return round(PAD_T + inner_h - value / top * inner_h, 1)

    def line(values: list[int]) -> str:
        return " ".join(f"{round(PAD_L + i * step, 1)},{y(v)}" for i, v in enumerate(values))

    ticks = [(y(v), v) for v in sorted({0, top // 2, top})]
    labels = [
        (round(PAD_L + i * step, 1), d.day.strftime("%m-%d"))
        for i, d in enumerate(days)
        if i % 7 == 0 or (i == len(days) - 1 and i % 7 >= 4)
    ]
    return TrendChart(
        width=CHART_W,
        height=CHART_H,
        reported=line([d.reported for d in days]),
        closed=line([d.closed for d in days]),
        ticks=ticks,
        labels=labels,
        max_value=top,
    )


@router.get("/dashboard")
@pages
def dashboard_page(ctx: Ctx) -> Response:
    """Today's intake, open and overdue cases, unit performance and the 30-day trend."""
    actor = ctx.staff(*DASHBOARD_ROLES)
    tz = load_policy(ctx.db).tz
    board = dashboard(ctx.db, now=ctx.clock.now(), tz=tz, actor=actor)
    return ctx.render(
        "dashboard.html",
        board=board,
        chart=trend_chart(board.trend),
        evaluation=evaluated(ctx, board.today, board.period_start),
        unit_rates=UNIT_RATES,
    )
