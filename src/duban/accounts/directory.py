"""The admin's directory: switching units and users on and off, roles, passwords, and
the working calendar's local overrides (days off and make-up workdays, 调休)."""

from __future__ import annotations

import copy
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit, User
from duban.accounts.users import MIN_PASSWORD_CHARS, hash_password
from duban.kernel.context import Actor, Clock
from duban.kernel.db.session import begin_write
from duban.kernel.errors import InvalidInput, NotFound
from duban.kernel.roles import Role
from duban.reference.admin import current_policy_data, replace_policy, require_admin
from duban.reference.calendar import national_calendar_covers
from duban.reference.policy import load_policy


def set_unit_active(session: Session, *, actor: Actor, code: str, active: bool) -> Unit:
    """Switch a unit on or off (an inactive unit gets no new cases; old ones keep it)."""
    require_admin(actor)
    begin_write(session)
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound(f"unit '{code}' does not exist")
    unit.is_active = active
    session.commit()
    return unit


def update_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    role: str | None = None,
    unit_code: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role and unit, switch them on or off, or set a new password.

    A handler must keep a unit and other roles none; admins cannot switch themselves off
    or take away their own admin role (someone must be left to undo it).
    """
    require_admin(actor)
    begin_write(session)
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user '{username}' does not exist")
    if role is not None:
        try:
            new_role = Role(role)
        except ValueError as err:
            raise InvalidInput(f"unknown role '{role}'", field="role") from err
        if new_role == Role.SYSTEM:
            raise InvalidInput("'system' is not a role a person can have", field="role")
        if user.id == actor.user_id and new_role != Role.ADMIN:
            raise InvalidInput("you cannot take away your own admin role", field="role")
        unit: Unit | None = None
        if new_role == Role.HANDLER:
            if not unit_code:
                raise InvalidInput("a unit handler needs a unit", field="unit")
            unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
            if unit is None:
                raise InvalidInput(f"unknown unit '{unit_code}'", field="unit")
        user.role = new_role
        user.unit_id = unit.id if unit else None
    if active is not None:
        if user.id == actor.user_id and not active:
            raise InvalidInput("you cannot switch off your own account", field="active")
        user.is_active = active
    if password:
        if len(password) < MIN_PASSWORD_CHARS:
            raise InvalidInput(
                f"password must be at least {MIN_PASSWORD_CHARS} characters", field="password"
            )
        # A new hash also signs the user out of every browser (the session binds to it).
        user.password_hash = hash_password(password)
    session.commit()
    return user


def calendar_overrides(session: Session) -> tuple[list[str], list[str]]:
    """The local days off and make-up workdays of the live policy (ISO dates)."""
    cal = current_policy_data(session).get("calendar") or {}
    return sorted(map(str, cal.get("holidays") or [])), sorted(map(str, cal.get("workdays") or []))


def calendar_gaps(session: Session, now: datetime) -> list[int]:
    """This year and the next (in the city's time zone), where nobody knows the holidays.

    A year is known when the installed national calendar (chinesecalendar) has the State
    Council's schedule for it, or when an admin has entered at least one local day off
    for it (then the year's schedule is taken to be entered by hand). For a year that is
    neither, deadlines fall back to Monday–Friday: Spring Festival would count as work.
    """
    policy = load_policy(session)
    calendar = policy.calendar
    entered = {day.year for day in calendar.extra_holidays}
    this_year = now.astimezone(policy.tz).year
    return [
        year
        for year in (this_year, this_year + 1)
        if year not in entered
        and not (calendar.use_national_calendar and national_calendar_covers(year))
    ]


def set_calendar_day(
    session: Session, *, actor: Actor, clock: Clock, day: date, kind: str
) -> tuple[list[str], list[str]]:
    """Make ``day`` a local holiday, a make-up workday, or (``kind="national"``) neither.

    Saved through the policy, so deadlines computed from now on follow it.
    """
    require_admin(actor)
    if kind not in ("holiday", "workday", "national"):
        raise InvalidInput("kind must be holiday, workday or national", field="kind")
    data = copy.deepcopy(current_policy_data(session))
    cal = dict(data.get("calendar") or {})
    text = day.isoformat()
    holidays = {str(d) for d in cal.get("holidays") or []} - {text}
    workdays = {str(d) for d in cal.get("workdays") or []} - {text}
    if kind == "holiday":
        holidays.add(text)
    elif kind == "workday":
        workdays.add(text)
    cal["holidays"] = sorted(holidays)
    cal["workdays"] = sorted(workdays)
    data["calendar"] = cal
    replace_policy(session, actor=actor, clock=clock, data=data)
    return cal["holidays"], cal["workdays"]
