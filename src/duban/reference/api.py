"""Reference data: the taxonomy tree; the admin's limits, taxonomy, policy and calendar."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi import Path as PathParam

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.kernel.errors import InvalidInput
from duban.reference.admin import (
    current_policy_data,
    replace_policy,
    replace_taxonomy,
    require_admin,
    set_condition_limit,
)
from duban.reference.calendar import YearSchedule
from duban.reference.categories import category_tree
from duban.reference.holidays import paste_year_schedule, special_days
from duban.reference.policy import load_policy
from duban.reference.schemas import CalendarDay, CalendarYearRead, CalendarYearUpdate, LimitUpdate

router = APIRouter(tags=["reference"])
#: The admin's reference data (mounted after the other routers, as ``/admin/...``).
admin_router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/categories", summary="The 部件/事件 taxonomy with filing conditions")
def categories(session: SessionDep, _actor: ActorDep) -> list[dict[str, Any]]:
    """Major classes with their subclasses and each subclass's filing conditions and limits."""
    return category_tree(session)


@admin_router.put("/conditions/{code}/limit", summary="Change a filing condition's time limit")
def put_limit(
    code: str, body: LimitUpdate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> dict[str, Any]:
    """Set the limit of one 立案条件; cases dispatched from now on get it."""
    condition = set_condition_limit(
        session, actor=actor, clock=clock, code=code, amount=body.amount, unit=body.unit
    )
    return {
        "code": condition.code,
        "limit": {"amount": condition.limit_amount, "unit": condition.limit_unit},
    }


@admin_router.put("/taxonomy", summary="Replace the whole taxonomy")
def put_taxonomy(
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    data: dict[str, Any] = Body(description="the taxonomy, as in duban/data/taxonomy.yaml"),
) -> dict[str, Any]:
    """Validate and install a city's taxonomy; a bad file is refused whole with every problem."""
    result = replace_taxonomy(session, actor=actor, clock=clock, data=data)
    return {
        "fingerprint": result.fingerprint,
        "categories": result.categories,
        "conditions": result.conditions,
        "deactivated": result.deactivated,
    }


@admin_router.get("/policy", summary="The live policy")
def get_policy(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Working calendar, step limits, source rules."""
    require_admin(actor)
    return current_policy_data(session)


@admin_router.put("/policy", summary="Replace the policy")
def put_policy(
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    data: dict[str, Any] = Body(description="as in duban/data/policy.yaml"),
) -> dict[str, Any]:
    """Validate and store a new policy (e.g. local holidays and make-up workdays)."""
    if not isinstance(data, dict):
        raise InvalidInput("the policy must be a JSON object", field="body")
    replace_policy(session, actor=actor, clock=clock, data=data)
    return current_policy_data(session)


Year = Annotated[int, PathParam(ge=1949, le=2200)]


def _year_read(session: SessionDep, year: int, schedule: YearSchedule) -> CalendarYearRead:
    return CalendarYearRead(
        year=year,
        source=schedule.source.value,
        days=[
            CalendarDay(day=d.day.isoformat(), workday=d.is_workday, source=d.source.value)
            for d in special_days(session, year)
        ],
    )


@admin_router.get(
    "/calendar/{year}", response_model=CalendarYearRead, summary="A year's holidays and source"
)
def get_calendar_year(year: Year, session: SessionDep, actor: ActorDep) -> CalendarYearRead:
    """Every day off and make-up workday of ``year``, and whose they are."""
    require_admin(actor)
    return _year_read(session, year, load_policy(session).calendar.year_schedule(year))


@admin_router.put(
    "/calendar/{year}",
    response_model=CalendarYearRead,
    summary="Enter a year's holiday schedule",
)
def put_calendar_year(
    year: Year, body: CalendarYearUpdate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> CalendarYearRead:
    """Replace the year's local days with the State Council's schedule, in one step.

    Give ``days_off`` and ``workdays`` (days or ``first..last`` ranges), or ``text``
    with one day or range per line ending in 休 (day off) or 班 (workday). A paste that
    cannot be read is refused whole (422, naming the line) and nothing is written.
    """
    require_admin(actor)
    if body.text is not None and (body.days_off or body.workdays):
        raise InvalidInput(
            "give either 'text' or the lists 'days_off' and 'workdays'", field="body"
        )
    schedule = paste_year_schedule(
        session,
        actor=actor,
        clock=clock,
        year=year,
        text=body.text,
        days_off=body.days_off,
        workdays=body.workdays,
    )
    return _year_read(session, year, schedule)
