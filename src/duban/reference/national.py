"""Whose holidays a year has: the national schedules, and the text an admin pastes.

China's days off and make-up workdays (调休) are set each year by a State Council notice,
usually published in November for the next year. Duban takes a year's schedule from the
first of these that has it:

1. the admin: a schedule pasted from the notice (policy data, see :mod:`.holidays`);
2. ``chinesecalendar`` — the notices themselves, 调休 included, for the years its
   installed release knows (2004 up to the year it was released for): *official*;
3. the ``holidays`` package's ``China`` calendar — the statutory holidays worked out from
   the law and the lunar calendar, for any year up to 2100, but without the 调休 swaps
   the notice adds: *provisional*;
4. nobody: Monday to Friday, Spring Festival included: *unknown*.

The package sources are read once per process and year (:func:`packaged_schedule`); the
working calendar merges them with the admin's days (:class:`~.calendar.WorkingCalendar`).
This module also reads a pasted schedule (:func:`read_schedule_text`,
:func:`read_schedule_lists`). Pure: no database, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, Final

import chinese_calendar

from duban.kernel.errors import Msg

__all__ = [
    "PastedSchedule",
    "ScheduleError",
    "YearSchedule",
    "YearSource",
    "packaged_schedule",
    "read_schedule_lists",
    "read_schedule_text",
]


class YearSource(StrEnum):
    """Where a year's days off and make-up workdays come from, best first."""

    OFFICIAL = "official"  # the State Council's notice, via chinesecalendar
    ENTERED = "entered"  # pasted or entered by an admin
    PROVISIONAL = "provisional"  # statutory holidays only (holidays package), no 调休
    UNKNOWN = "unknown"  # nobody: Monday to Friday

    @property
    def label(self) -> str:
        """An English label for pages and the CLI (the catalogue has the Chinese)."""
        return _SOURCE_LABELS[self]


_SOURCE_LABELS: Final[Mapping[YearSource, str]] = {
    YearSource.OFFICIAL: "official (national calendar)",
    YearSource.ENTERED: "entered by an admin",
    YearSource.PROVISIONAL: "provisional (statutory holidays, no make-up workdays)",
    YearSource.UNKNOWN: "unknown (Monday to Friday)",
}


@dataclass(frozen=True)
class YearSchedule:
    """One year's special days — days off and make-up workdays — and their source.

    Any day not listed is a working day from Monday to Friday. ``days_off`` may list
    weekend days inside a holiday span; they change nothing but read like the notice.
    """

    year: int
    source: YearSource
    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` (of this year) is a working day under this schedule."""
        if day in self.workdays:
            return True
        if day in self.days_off:
            return False
        return day.weekday() < 5


# -- the packages ---------------------------------------------------------------------------

#: The years the installed chinesecalendar has the State Council's notices for.
_OFFICIAL_YEARS: Final = frozenset(day.year for day in chinese_calendar.holidays)


@cache
def packaged_schedule(year: int) -> YearSchedule:
    """What the installed packages know of ``year``: official, provisional or unknown.

    Built once per process and year (a few milliseconds): deadlines only ever look up
    the frozen sets it returns.
    """
    if year in _OFFICIAL_YEARS:
        return YearSchedule(
            year,
            YearSource.OFFICIAL,
            days_off=frozenset(d for d in chinese_calendar.holidays if d.year == year),
            workdays=frozenset(d for d in chinese_calendar.workdays if d.year == year),
        )
    days_off = _statutory_holidays(year)
    if days_off:
        return YearSchedule(year, YearSource.PROVISIONAL, days_off=days_off)
    return YearSchedule(year, YearSource.UNKNOWN)


def _statutory_holidays(year: int) -> frozenset[date]:
    """China's statutory holidays of ``year`` (with the days moved off weekends), or none.

    The ``holidays`` package does not know the 调休 make-up workdays a notice adds, so a
    year from here is only provisional. Imported here, on first need, because most
    processes only ever ask about years chinesecalendar knows.
    """
    import holidays

    if not 1950 <= year <= 2100:  # the package's lunar tables end at 2100
        return frozenset()
    return frozenset(holidays.country_holidays("CN", years=year, categories=("public",)))


# -- a pasted schedule ------------------------------------------------------------------------

_OFF_WORDS: Final = frozenset({"休", "休息", "放假", "假", "off", "day off", "holiday", "rest"})
_WORK_WORDS: Final = frozenset({"班", "上班", "补班", "work", "workday", "working day"})
# A date: 2027-02-06, 2027/2/6, 2027.2.6, 2027年2月6日, or without the year: 2-6, 2月6日.
_DATE: Final = (
    r"(?:(?P<{p}y>\d{{4}})\s*[-/.年]\s*)?(?P<{p}m>\d{{1,2}})\s*[-/.月]\s*(?P<{p}d>\d{{1,2}})\s*日?"
)
# The end of a range may also be a bare day of the start's month: 2月6日至12日.
_END_DAY: Final = r"(?P<ed>\d{1,2})\s*日?"
_RANGE_SEP: Final = r"\s*(?:\.\.|~|～|至|到|—|–)\s*"
_ITEM: Final = re.compile(
    rf"\s*{_DATE.format(p='a')}(?:{_RANGE_SEP}(?:{_DATE.format(p='b')}|{_END_DAY}))?\s*"
)
_KINDS: Final = "|".join(
    re.escape(word) for word in sorted(_OFF_WORDS | _WORK_WORDS, key=len, reverse=True)
)
_LINE: Final = re.compile(rf"(?P<dates>.*?)[\s:：,，]*(?P<kind>{_KINDS})", re.IGNORECASE)
# Notes in brackets, as the notice writes weekdays: 2月14日（星期日）上班.
_BRACKETS: Final = re.compile(r"[（(][^）)]*[）)]")
#: A notice lists a few dozen days; a longer range is a typo (2027-02-06..2027-12-02).
_MAX_RANGE_DAYS: Final = 31


class ScheduleError(ValueError):
    """A pasted schedule that cannot be read: ``problem`` (English, with ``{names}`` filled
    from ``values``) and, for text, the 1-based ``line`` it is on."""

    def __init__(self, problem: str, *, line: int | None = None, **values: Any) -> None:
        self.problem = problem
        self.line = line
        self.values = values
        text = problem.format(**values)
        super().__init__(f"line {line}: {text}" if line is not None else text)

    @property
    def text(self) -> Msg:
        """The problem as a catalogue template and its values (without the line)."""
        return Msg(self.problem, **self.values)


@dataclass(frozen=True)
class PastedSchedule:
    """A year's schedule as an admin gave it: every day off and every make-up workday.

    Raises:
        ScheduleError: a day outside ``year``, a day both off and worked, or no day off
            at all (every notice has some; an empty paste is a mistake).
    """

    year: int
    days_off: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for day in sorted(self.days_off | self.workdays):
            if day.year != self.year:
                raise ScheduleError("{day} is not in {year}.", day=day.isoformat(), year=self.year)
        both = sorted(self.days_off & self.workdays)
        if both:
            raise ScheduleError(
                "{day} is listed both as a day off and as a workday.", day=both[0].isoformat()
            )
        if not self.days_off:
            raise ScheduleError("The schedule of {year} lists no day off.", year=self.year)


def read_schedule_text(text: str, year: int) -> PastedSchedule:
    """Read a schedule pasted as text, one day or range per line with 休 or 班::

        # 2027 (国务院办公厅通知)
        2027-01-01 休
        2027-02-06..2027-02-13 休      (also 2月6日至13日 放假, 2027-02-06 ~ 02-13 off)
        2027-02-14 班

    Blank lines and ``#`` comments are skipped; a date without a year is in ``year``.

    Raises:
        ScheduleError: naming the first line that cannot be read, or what is wrong with
            the whole (see :class:`PastedSchedule`).
    """
    days_off: set[date] = set()
    workdays: set[date] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _BRACKETS.sub("", raw.split("#", 1)[0]).strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None or not match["dates"]:
            raise ScheduleError(
                "{item!r} must be a day or a range ending with 休 (day off) or 班 (workday), "
                "e.g. '2027-02-14 班'.",
                line=number,
                item=raw.strip(),
            )
        target = days_off if match["kind"].lower() in _OFF_WORDS else workdays
        target.update(_read_item(match["dates"], year, line=number))
    return PastedSchedule(year, frozenset(days_off), frozenset(workdays))


def read_schedule_lists(
    days_off: Iterable[object], workdays: Iterable[object], year: int
) -> PastedSchedule:
    """Read a schedule given as two lists of days or ranges (``"2027-02-06..2027-02-13"``).

    Raises:
        ScheduleError: naming the first item that cannot be read.
    """
    off = {day for item in days_off for day in _read_item(_item_text(item), year)}
    work = {day for item in workdays for day in _read_item(_item_text(item), year)}
    return PastedSchedule(year, frozenset(off), frozenset(work))


def _item_text(item: object) -> str:
    # YAML gives dates; JSON gives text.
    if isinstance(item, date) and not isinstance(item, datetime):
        return item.isoformat()
    if isinstance(item, str):
        return item
    raise ScheduleError("{item!r} is not a date or a range of dates.", item=item)


def _read_item(text: str, year: int, *, line: int | None = None) -> list[date]:
    """The days of one item: a date, or a range of dates (both ends included)."""
    match = _ITEM.fullmatch(text)
    if match is None:
        raise ScheduleError(
            "{item!r} is not a date or a range of dates, e.g. 2027-02-06..2027-02-13.",
            line=line,
            item=text.strip(),
        )
    first = _date_of(match, "a", year, text, line)
    if match["bm"] is not None:
        last = _date_of(match, "b", first.year, text, line)
    elif match["ed"] is not None:
        last = _make_date(first.year, first.month, int(match["ed"]), text, line)
    else:
        last = first
    for end in (first, last):
        if end.year != year:
            raise ScheduleError(
                "{day} is not in {year}.", line=line, day=end.isoformat(), year=year
            )
    if last < first:
        raise ScheduleError("The range {item!r} ends before it starts.", line=line, item=text)
    span = (last - first).days + 1
    if span > _MAX_RANGE_DAYS:
        raise ScheduleError(
            "The range {item!r} is {days} days long; a holiday is at most {most}.",
            line=line,
            item=text.strip(),
            days=span,
            most=_MAX_RANGE_DAYS,
        )
    return [first + timedelta(days=offset) for offset in range(span)]


def _date_of(match: re.Match[str], prefix: str, year: int, text: str, line: int | None) -> date:
    given_year = match[f"{prefix}y"]
    return _make_date(
        int(given_year) if given_year else year,
        int(match[f"{prefix}m"]),
        int(match[f"{prefix}d"]),
        text,
        line,
    )


def _make_date(year: int, month: int, day: int, text: str, line: int | None) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ScheduleError(
            "{item!r} is not a date in the calendar.", line=line, item=text.strip()
        ) from None
