"""The working calendar's local data: days off, make-up workdays and pasted schedules.

Admins keep the days the national sources do not have right (a local day off, a city's
own make-up workday) and, once the State Council publishes next year's notice, paste the
whole year's schedule in one step (:func:`enter_year_schedule`). All of it is stored in
the ``calendar`` part of the policy, so one policy version bump carries it to every
process. :func:`calendar_gaps` names the years whose holidays are only provisional or not
known at all — the warning the admin pages, the CLI and the sweep show.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.kernel.context import Actor, Clock
from duban.kernel.db.models import Setting
from duban.kernel.db.stamps import POLICY_KEY
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.unitofwork import writing
from duban.reference.admin import current_policy_data, require_admin
from duban.reference.calendar import YearSchedule, YearSource
from duban.reference.national import (
    PastedSchedule,
    ScheduleError,
    read_schedule_lists,
    read_schedule_text,
)
from duban.reference.policy import load_policy, save_policy, shipped_policy_data

__all__ = [
    "CalendarGap",
    "SpecialDay",
    "calendar_gaps",
    "calendar_overrides",
    "enter_year_schedule",
    "paste_year_schedule",
    "set_calendar_day",
    "special_days",
    "year_sources",
]

#: The sources that leave a year's holidays for an admin to enter.
_GAP_SOURCES = (YearSource.PROVISIONAL, YearSource.UNKNOWN)


@dataclass(frozen=True)
class CalendarGap:
    """A year whose State Council schedule nobody has entered yet.

    ``source`` is PROVISIONAL when the statutory holidays stand in (no 调休 make-up
    workdays), UNKNOWN when deadlines count every Monday to Friday, Spring Festival too.
    """

    year: int
    source: YearSource

    @property
    def provisional(self) -> bool:
        """True when the statutory holidays stand in for the notice."""
        return self.source is YearSource.PROVISIONAL


@dataclass(frozen=True)
class SpecialDay:
    """A day that is not plain Monday–Friday work and weekend rest, and whose it is."""

    day: date
    is_workday: bool
    source: YearSource


def calendar_overrides(session: Session) -> tuple[list[str], list[str]]:
    """The local days off and make-up workdays of the live policy (ISO dates)."""
    cal = current_policy_data(session).get("calendar") or {}
    return sorted(map(str, cal.get("holidays") or [])), sorted(map(str, cal.get("workdays") or []))


def year_sources(session: Session, now: datetime) -> list[tuple[int, YearSource]]:
    """This year and the next (in the city's time zone), each with where its holidays
    come from: official, entered by an admin, provisional or unknown."""
    policy = load_policy(session)
    this_year = now.astimezone(policy.tz).year
    return [(year, policy.calendar.year_source(year)) for year in (this_year, this_year + 1)]


def calendar_gaps(session: Session, now: datetime) -> list[CalendarGap]:
    """This year and the next, where nobody has entered the State Council's schedule.

    A year is known when the installed national calendar (chinesecalendar) has it, or an
    admin pasted its schedule (or, for a year no source knows, entered one day off of
    it). Otherwise it is *provisional* — the statutory holidays of the ``holidays``
    package, without 调休 make-up workdays — or, beyond that package, *unknown*.
    """
    return [
        CalendarGap(year, source)
        for year, source in year_sources(session, now)
        if source in _GAP_SOURCES
    ]


def special_days(session: Session, year: int) -> list[SpecialDay]:
    """Every day off and make-up workday of ``year`` with its source (the admin's own
    days are ENTERED), and the year's source as a whole."""
    calendar = load_policy(session).calendar
    return [SpecialDay(*item) for item in calendar.special_days(year)]


def set_calendar_day(
    session: Session, *, actor: Actor, clock: Clock, day: date, kind: str
) -> tuple[list[str], list[str]]:
    """Make ``day`` a local holiday, a make-up workday, or (``kind="national"``) neither.

    Saved through the policy, so deadlines computed from now on follow it.
    """
    require_admin(actor)
    if kind not in ("holiday", "workday", "national"):
        raise InvalidInput("kind must be holiday, workday or national", field="kind")
    with writing(session):
        data = _policy_data_for_update(session)
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
        save_policy(session, data, now=clock.now())
    return cal["holidays"], cal["workdays"]


def enter_year_schedule(
    session: Session, *, actor: Actor, clock: Clock, schedule: PastedSchedule
) -> YearSchedule:
    """Replace the local days of ``schedule.year`` with the schedule an admin pasted.

    The year's earlier local days off and workdays go; the pasted ones come in, and the
    year counts as entered (its provisional statutory days no longer apply). One policy
    change, so every process follows it from its next request. Returns the year as the
    calendar now sees it.
    """
    require_admin(actor)
    year = schedule.year
    with writing(session):
        data = _policy_data_for_update(session)
        cal = dict(data.get("calendar") or {})
        for key, days in (("holidays", schedule.days_off), ("workdays", schedule.workdays)):
            kept = {str(d) for d in cal.get(key) or [] if _year_of(d) != year}
            cal[key] = sorted(kept | {day.isoformat() for day in days})
        cal["entered_years"] = sorted({int(y) for y in cal.get("entered_years") or []} | {year})
        data["calendar"] = cal
        policy = save_policy(session, data, now=clock.now())
    return policy.calendar.year_schedule(year)


def paste_year_schedule(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    year: int,
    text: str | None = None,
    days_off: Iterable[object] = (),
    workdays: Iterable[object] = (),
) -> YearSchedule:
    """Read and enter ``year``'s schedule, pasted as ``text`` (``2027-02-14 班`` lines) or
    given as two lists of days and ranges; see :mod:`duban.reference.national`.

    Raises:
        InvalidInput: the paste cannot be read (``field="schedule"``, ``line`` set for
            text; the :class:`ScheduleError` is its cause). Nothing is written then.
    """
    require_admin(actor)
    try:
        schedule = (
            read_schedule_text(text, year)
            if text is not None
            else read_schedule_lists(days_off, workdays, year)
        )
    except ScheduleError as err:
        problem = err.text
        raise InvalidInput(
            Msg("line {line}: {problem}", line=err.line, problem=problem)
            if err.line is not None
            else problem,
            field="schedule",
            line=err.line,
        ) from err
    return enter_year_schedule(session, actor=actor, clock=clock, schedule=schedule)


def _year_of(value: object) -> int | None:
    try:
        return date.fromisoformat(str(value)).year
    except ValueError:
        return None  # not ours to judge here: the policy's own check names it


def _policy_data_for_update(session: Session) -> dict[str, Any]:
    """The live policy as data, its row locked until the write commits (PostgreSQL), so
    two admins' changes to the calendar cannot overwrite each other."""
    row = session.scalars(
        select(Setting)
        .where(Setting.key == POLICY_KEY)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    return copy.deepcopy(dict(row.value) if row is not None else shipped_policy_data())
