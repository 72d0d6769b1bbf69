"""Administration: units, users, filing-condition limits, the taxonomy and the policy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select

from duban.accounts import Unit, User, create_unit, create_user
from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.api.schemas import Strict
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.reference.admin import (
    current_policy_data,
    replace_policy,
    replace_taxonomy,
    require_admin,
    set_condition_limit,
)
from duban.reference.calendar import YearSchedule
from duban.reference.holidays import paste_year_schedule, special_days
from duban.reference.policy import load_policy

router = APIRouter(prefix="/admin", tags=["admin"])


class UnitCreate(Strict):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="professional", pattern="^(professional|territorial)$")


class UnitRead(BaseModel):
    code: str
    name: str
    kind: str
    is_active: bool


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    unit: str | None = None
    display_name: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    beat: dict[str, Any] | None = Field(default=None, description="GeoJSON (Multi)Polygon")


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    unit: str | None
    is_active: bool


class LimitUpdate(Strict):
    amount: float = Field(gt=0)
    unit: str = Field(description="work_hours | work_days | hours | days | minutes")


def _user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        unit=user.unit.code if user.unit else None,
        is_active=user.is_active,
    )


@router.get("/units", response_model=list[UnitRead], summary="List units")
def units(session: SessionDep, actor: ActorDep) -> list[UnitRead]:
    """All responsible units."""
    require_admin(actor)
    return [
        UnitRead(code=u.code, name=u.name, kind=u.kind, is_active=u.is_active)
        for u in session.scalars(select(Unit).order_by(Unit.code))
    ]


@router.post("/units", response_model=UnitRead, status_code=201, summary="Add a unit")
def add_unit(body: UnitCreate, session: SessionDep, actor: ActorDep) -> UnitRead:
    """Add a responsible unit (专业部门 or 属地)."""
    require_admin(actor)
    unit = create_unit(session, code=body.code, name=body.name, kind=body.kind)
    session.commit()
    return UnitRead(code=unit.code, name=unit.name, kind=unit.kind, is_active=unit.is_active)


@router.get("/users", response_model=list[UserRead], summary="List users")
def users(session: SessionDep, actor: ActorDep) -> list[UserRead]:
    """All users with their roles and units."""
    require_admin(actor)
    return [_user_read(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("/users", response_model=UserRead, status_code=201, summary="Add a user")
def add_user(body: UserCreate, session: SessionDep, actor: ActorDep, clock: ClockDep) -> UserRead:
    """Add a user with a role (handlers need a unit)."""
    require_admin(actor)
    user = create_user(
        session,
        clock=clock,
        username=body.username,
        password=body.password,
        role=body.role,
        unit_code=body.unit,
        display_name=body.display_name,
        phone=body.phone,
        beat=body.beat,
    )
    return _user_read(user)


@router.put("/conditions/{code}/limit", summary="Change a filing condition's time limit")
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


@router.put("/taxonomy", summary="Replace the whole taxonomy")
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


@router.get("/policy", summary="The live policy")
def get_policy(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Working calendar, step limits, source rules."""
    require_admin(actor)
    return current_policy_data(session)


@router.put("/policy", summary="Replace the policy")
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


class CalendarYearUpdate(Strict):
    """A year's State Council schedule: two lists, or the text an admin pastes."""

    days_off: list[str] = Field(
        default_factory=list, description="days or ranges, e.g. 2027-02-05..2027-02-13"
    )
    workdays: list[str] = Field(default_factory=list, description="make-up workdays (调休)")
    text: str | None = Field(
        default=None,
        max_length=20_000,
        description="instead of the lists: one day or range per line ending 休 or 班",
    )


class CalendarDay(BaseModel):
    day: str
    workday: bool
    source: str


class CalendarYearRead(BaseModel):
    year: int
    source: str = Field(description="official | entered | provisional | unknown")
    days: list[CalendarDay]


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


@router.get(
    "/calendar/{year}", response_model=CalendarYearRead, summary="A year's holidays and source"
)
def get_calendar_year(year: Year, session: SessionDep, actor: ActorDep) -> CalendarYearRead:
    """Every day off and make-up workday of ``year``, and whose they are."""
    require_admin(actor)
    return _year_read(session, year, load_policy(session).calendar.year_schedule(year))


@router.put(
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
