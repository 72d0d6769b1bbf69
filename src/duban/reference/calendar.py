"""Working calendars, time limits and deadlines (工作日历、办理时限与红黄绿灯).

A time limit (办理时限) is an amount and a unit. Work units (工作时, 工作日) run only inside
the working periods of working days; calendar units (小时, 天, 分钟) run all the time. The
clock starts at dispatch, stops while a case is parked (挂账) and each step is coloured
green below 80 % of its limit, yellow up to and including 100 %, red beyond (DESIGN.md,
"Rules that users rely on").

Which days are working days is decided, in this order, by the calendar's local overrides
(extra holidays, extra make-up workdays, a year's schedule pasted by an admin), then the
official national calendar with its 调休 swaps (``chinesecalendar``), then the statutory
holidays of the ``holidays`` package — *provisional*, without 调休 — and last plain
Monday–Friday (:mod:`duban.reference.national` says where each year's data comes from).
A calendar works each year out once and keeps it, so a deadline costs set lookups.

Everything here is pure: no I/O, no clock. Datetimes going in must be timezone-aware and
datetimes coming out are aware UTC, as they are stored; local (Asia/Shanghai) time is only
used to decide where the working periods of a day lie.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from duban.kernel.errors import BadSetting, Msg
from duban.reference.national import YearSchedule, YearSource, packaged_schedule

__all__ = [
    "DEFAULT_PERIODS",
    "DEFAULT_TZ_NAME",
    "RED_AT",
    "YELLOW_AT",
    "Light",
    "LimitUnit",
    "NationalSource",
    "TimeLimit",
    "WorkingCalendar",
    "YearSchedule",
    "YearSource",
    "light_for",
    "national_calendar_covers",
]


class LimitUnit(StrEnum):
    """The unit of a time limit. Work units count working time only."""

    WORK_HOURS = "work_hours"  # 工作时
    WORK_DAYS = "work_days"  # 工作日
    HOURS = "hours"  # 小时 (calendar)
    DAYS = "days"  # 天 (calendar, 24-hour spans)
    MINUTES = "minutes"  # 分钟 (calendar)

    @property
    def label_zh(self) -> str:
        """The Chinese label shown to users, e.g. ``工作日``."""
        return _UNIT_LABELS_ZH[self]

    @property
    def is_working_time(self) -> bool:
        """True for units that count only working time (工作时, 工作日)."""
        return self in _WORK_UNITS


_UNIT_LABELS_ZH: Final[Mapping[LimitUnit, str]] = {
    LimitUnit.WORK_HOURS: "工作时",
    LimitUnit.WORK_DAYS: "工作日",
    LimitUnit.HOURS: "小时",
    LimitUnit.DAYS: "天",
    LimitUnit.MINUTES: "分钟",
}
_WORK_UNITS: Final = frozenset({LimitUnit.WORK_HOURS, LimitUnit.WORK_DAYS})
# Seconds per unit for the units whose length does not depend on the calendar; a work day
# is as long as the calendar's working periods (WorkingCalendar.working_day_seconds).
_FIXED_UNIT_SECONDS: Final[Mapping[LimitUnit, float]] = {
    LimitUnit.WORK_HOURS: 3600.0,
    LimitUnit.HOURS: 3600.0,
    LimitUnit.DAYS: 86400.0,
    LimitUnit.MINUTES: 60.0,
}


def _unit_from(value: object) -> LimitUnit:
    """Read a unit from its value (``work_days``) or its Chinese label (``工作日``)."""
    if isinstance(value, LimitUnit):
        return value
    if isinstance(value, str):
        text = value.strip()
        for unit in LimitUnit:
            if text in (unit.value, unit.label_zh):
                return unit
    choices = ", ".join(f"{unit.value} ({unit.label_zh})" for unit in LimitUnit)
    raise BadSetting(
        "",
        Msg(
            "unknown time-limit unit {value}; use one of {choices}",
            value=repr(value),
            choices=choices,
        ),
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _format_amount(amount: float) -> str:
    return str(int(amount)) if amount.is_integer() else str(amount)


_LIMIT_TEXT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(\S+)\s*")


@dataclass(frozen=True)
class TimeLimit:
    """A time limit (办理时限) such as 2 工作日 or 30 分钟."""

    amount: float
    unit: LimitUnit

    def __post_init__(self) -> None:
        amount: object = self.amount
        # bool is an int to Python, but "True work days" is always a mistake.
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise BadSetting(
                "", Msg("time-limit amount must be a number, got {value}", value=repr(amount))
            )
        if not math.isfinite(amount) or amount <= 0:
            raise BadSetting(
                "",
                Msg("time-limit amount must be greater than 0, got {value}", value=repr(amount)),
            )
        # Normalise so that TimeLimit(2, ...) and a parsed "2 work_days" look the same.
        object.__setattr__(self, "amount", float(amount))
        object.__setattr__(self, "unit", _unit_from(self.unit))

    @classmethod
    def parse(cls, value: str | Mapping[str, Any]) -> TimeLimit:
        """Read a limit from ``{"amount": 2, "unit": "work_days"}`` or ``"2 work_days"``.

        The text form also accepts the Chinese label (``"2 工作日"``, ``"2工作日"``), so the
        output of ``str()`` reads back.

        Raises:
            BadSetting: (a ``ValueError``) the value is not a limit; its ``text`` says what
                is wrong, as a catalogue message.
        """
        if isinstance(value, str):
            match = _LIMIT_TEXT.fullmatch(value)
            if match is None:
                raise BadSetting(
                    "",
                    Msg(
                        "cannot read time limit {value}; write an amount and a unit, "
                        "e.g. {example}",
                        value=repr(value),
                        example="'2 work_days', '2 工作日'",
                    ),
                )
            return cls(float(match[1]), _unit_from(match[2]))
        if isinstance(value, Mapping):
            missing = [key for key in ("amount", "unit") if key not in value]
            unknown = sorted(set(value) - {"amount", "unit"}, key=str)
            if missing or unknown:
                raise BadSetting(
                    "",
                    Msg(
                        "a time limit has exactly the keys 'amount' and 'unit', got {value}",
                        value=_shown(dict(value)),
                    ),
                )
            return cls(value["amount"], _unit_from(value["unit"]))
        raise BadSetting(
            "",
            Msg(
                "a time limit is a mapping or a text such as '2 work_days', got {value}",
                value=_shown(value),
            ),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The mapping form that :meth:`parse` reads, for storing a limit as data."""
        amount: int | float = int(self.amount) if self.amount.is_integer() else self.amount
        return {"amount": amount, "unit": self.unit.value}

    def __str__(self) -> str:
        return f"{_format_amount(self.amount)} {self.unit.label_zh}"


class Light(StrEnum):
    """The traffic light of a step against its time limit (红黄绿灯)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


#: Share of the limit used from which a step turns yellow (预警).
YELLOW_AT: Final = 0.8
#: Share of the limit used beyond which a step turns red (超时).
RED_AT: Final = 1.0


def light_for(
    fraction_used: float, *, yellow_at: float = YELLOW_AT, red_at: float = RED_AT
) -> Light:
    """Colour a step: green below ``yellow_at``, yellow up to and including ``red_at``, then red.

    Exactly 100 % is still yellow: a case finished at the last moment is on time.
    """
    if yellow_at > red_at:
        raise ValueError(
            f"the yellow threshold ({yellow_at}) must not be above the red one ({red_at})"
        )
    if fraction_used < yellow_at:
        return Light.GREEN
    if fraction_used <= red_at:
        return Light.YELLOW
    return Light.RED


#: What the national sources know of a year (``packaged_schedule`` in production; a test
#: may pass a fake). Asked at most once per year by each calendar.
NationalSource = Callable[[int], YearSchedule]


def national_calendar_covers(year: int) -> bool:
    """Whether the installed national calendar knows ``year``'s holidays and 调休 days.

    For other years :class:`WorkingCalendar` falls back to the provisional statutory
    holidays or to Monday–Friday, so an admin should be warned to enter that year's
    schedule (:meth:`WorkingCalendar.year_source` says which).
    """
    return packaged_schedule(year).source is YearSource.OFFICIAL


DEFAULT_PERIODS: Final[tuple[tuple[time, time], ...]] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(18, 0)),
)
DEFAULT_TZ_NAME: Final = "Asia/Shanghai"

_ZERO: Final = timedelta(0)
_ONE_DAY: Final = timedelta(days=1)
# A guard against runaway loops from absurd amounts (the day loops below are linear in
# calendar days). No real time limit comes near 50 years.
_MAX_SCAN_DAYS: Final = 366 * 50
#: What the calendar's settings must be, as a refusal says it.
PERIODS: Final = Msg("a list of working periods such as ['08:30-12:00', '14:00-18:00']")
YEARS: Final = Msg("a list of years such as [2027]")
DATES: Final = Msg("a list of dates such as ['2026-05-06'] (YYYY-MM-DD)")
TIME_ZONE: Final = Msg("a time zone such as Asia/Shanghai")
ORDERED_PERIODS: Final = Msg(
    "at least one working period, in time order, not overlapping, each ending after it starts"
)
NOT_HOLIDAYS: Final = Msg("days not also listed under holidays")
_CALENDAR_KEYS: Final = frozenset(
    {"periods", "timezone", "holidays", "workdays", "national_calendar", "entered_years"}
)
_PERIOD_TEXT = re.compile(r"\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*-\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*")


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second or value.microsecond else "%H:%M")


def _period_text(period: tuple[time, time]) -> str:
    return f"{_clock(period[0])}-{_clock(period[1])}"


def _time_of_day(text: str, period: str) -> time:
    parts = [int(part) for part in text.split(":")]
    hour, minute, second = [*parts, 0][:3]
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"working period {period!r}: {text} is not a time of day (00:00 to 23:59)")
    return time(hour, minute, second)


def _parse_period(value: object) -> tuple[time, time]:
    if not isinstance(value, str) or (match := _PERIOD_TEXT.fullmatch(value)) is None:
        raise ValueError(
            f"cannot read working period {value!r}; write it as 'HH:MM-HH:MM', e.g. '08:30-12:00'"
        )
    return _time_of_day(match[1], value), _time_of_day(match[2], value)


def _parse_dates(values: object, key: str) -> frozenset[date]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise BadSetting.wrong(key, DATES, values)
    days: set[date] = set()
    for value in values:
        # YAML already turns 2026-05-06 into a date; JSON gives text.
        if isinstance(value, date) and not isinstance(value, datetime):
            days.add(value)
            continue
        try:
            days.add(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise BadSetting.wrong(key, DATES, value) from None
    return frozenset(days)


def _check_periods(periods: tuple[tuple[time, time], ...]) -> None:
    if not periods:
        raise ValueError("a working calendar needs at least one working period, e.g. 08:30-12:00")
    previous: tuple[time, time] | None = None
    for period in periods:
        if (
            len(period) != 2
            or not all(isinstance(moment, time) for moment in period)
            or any(moment.tzinfo is not None for moment in period)
        ):
            raise ValueError(
                f"a working period is a pair of local times without time zone, got {period!r}"
            )
        start, end = period
        if start >= end:
            raise ValueError(
                f"working period {_period_text(period)} must start before it ends "
                "(periods cannot run past midnight)"
            )
        if previous is not None:
            if start < previous[0]:
                raise ValueError(
                    f"list working periods in time order: {_period_text(period)} "
                    f"should come before {_period_text(previous)}"
                )
            if start < previous[1]:
                raise ValueError(
                    f"working periods {_period_text(previous)} and {_period_text(period)} overlap"
                )
        previous = period


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware (got naive {value.isoformat()}); "
            "pass aware UTC datetimes as stored"
        )


def _seconds(value: float, name: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    # Working arithmetic happens in timedelta (whole microseconds), so sums are exact and
    # "lands exactly on a period end" is a true equality, not a float near-miss.
    return timedelta(seconds=value)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and working hours of a city, and deadline arithmetic over them.

    ``periods`` are the local working periods of every working day (default 08:30–12:00
    and 14:00–18:00). A day is a working day if it is in ``extra_workdays``; it is not
    if it is in ``extra_holidays``; otherwise the year's national schedule decides (with
    its 调休 make-up workdays) when ``use_national_calendar`` is on; otherwise
    Monday–Friday work. ``national`` gives each year's schedule and its source — official
    or provisional, see :mod:`duban.reference.national`. A year in ``entered_years`` has
    its whole schedule entered by an admin: the provisional guess is dropped for it, as it
    is for a year no source knows once an admin entered a day off in it.

    Calendar days are 24-hour spans and working periods are measured in real elapsed
    time; in a zone with daylight saving the day of a change would be an hour short or
    long, which Asia/Shanghai never is.
    """

    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    tz_name: str = DEFAULT_TZ_NAME
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    use_national_calendar: bool = True
    entered_years: frozenset[int] = frozenset()
    national: NationalSource = field(default=packaged_schedule, repr=False)
    # Each year's merged schedule and working-day prefix sums, worked out on first use.
    # The calendar lives as long as its parsed policy, so a year is worked out once per
    # policy change and process; every later deadline only looks it up.
    _years: dict[int, YearSchedule] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _prefixes: dict[int, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # Accept lists and sets from callers but keep the instance hashable.
        object.__setattr__(self, "periods", tuple(tuple(period) for period in self.periods))
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        object.__setattr__(self, "entered_years", frozenset(self.entered_years))
        if any(isinstance(year, bool) or not isinstance(year, int) for year in self.entered_years):
            raise ValueError(f"entered_years must hold years, got {sorted(self.entered_years)!r}")
        _check_periods(self.periods)
        try:
            ZoneInfo(self.tz_name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(
                f"unknown time zone {self.tz_name!r}; use an IANA name such as 'Asia/Shanghai'"
            ) from None
        for name in ("extra_holidays", "extra_workdays"):
            if any(isinstance(day, datetime) for day in getattr(self, name)):
                raise ValueError(f"{name} must hold dates, not datetimes")
        clash = self.extra_holidays & self.extra_workdays
        if clash:
            listed = ", ".join(day.isoformat() for day in sorted(clash))
            raise ValueError(f"{listed}: a day cannot be both an extra holiday and a workday")
        if not isinstance(self.use_national_calendar, bool):
            raise ValueError(
                f"use_national_calendar must be true or false, got {self.use_national_calendar!r}"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkingCalendar:
        """Build a calendar from configuration data, e.g.::

            {"periods": ["08:30-12:00", "14:00-18:00"], "timezone": "Asia/Shanghai",
             "holidays": ["2026-05-06"], "workdays": ["2026-05-09"],
             "national_calendar": true}

        Every key is optional and defaults to the values above (no extra days).

        Raises:
            ValueError: unknown keys, unreadable values, periods out of order, overlapping
                or ending before they start, an unknown time zone, or a day listed both as
                holiday and workday. The message names the offending value.
        """
        if not isinstance(data, Mapping):
            raise BadSetting.wrong("", Msg("a mapping of settings"), data)
        unknown = sorted(set(data) - _CALENDAR_KEYS, key=str)
        if unknown:
            raise BadSetting.unknown(str(unknown[0]), ", ".join(sorted(_CALENDAR_KEYS)))
        periods = DEFAULT_PERIODS
        if "periods" in data:
            raw = data["periods"]
            if isinstance(raw, str) or not isinstance(raw, Iterable):
                raise BadSetting.wrong("periods", PERIODS, raw)
            read = []
            for item in raw:
                try:
                    read.append(_parse_period(item))
                except ValueError as err:
                    raise BadSetting.wrong("periods", PERIODS, item) from err
            periods = tuple(read)
        tz_name = data.get("timezone", DEFAULT_TZ_NAME)
        if not isinstance(tz_name, str):
            raise BadSetting.wrong("timezone", TIME_ZONE, tz_name)
        national = data.get("national_calendar", True)
        if not isinstance(national, bool):
            raise BadSetting.wrong("national_calendar", Msg("true or false"), national)
        entered = data.get("entered_years", ())
        if isinstance(entered, str | bytes) or not isinstance(entered, Iterable):
            raise BadSetting.wrong("entered_years", YEARS, entered)
        if any(isinstance(year, bool) or not isinstance(year, int) for year in entered):
            raise BadSetting.wrong("entered_years", YEARS, entered)
        try:
            _check_periods(periods)
        except ValueError as err:
            raise BadSetting.wrong("periods", ORDERED_PERIODS, data.get("periods")) from err
        try:
            ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
            raise BadSetting.wrong("timezone", TIME_ZONE, tz_name) from err
        holidays = _parse_dates(data.get("holidays", ()), "holidays")
        workdays = _parse_dates(data.get("workdays", ()), "workdays")
        clash = sorted(holidays & workdays)
        if clash:
            raise BadSetting.wrong("workdays", NOT_HOLIDAYS, clash[0].isoformat())
        return cls(
            periods=periods,
            tz_name=tz_name,
            extra_holidays=holidays,
            extra_workdays=workdays,
            use_national_calendar=national,
            entered_years=frozenset(entered),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The configuration form that :meth:`from_mapping` reads back."""
        return {
            "periods": [_period_text(period) for period in self.periods],
            "timezone": self.tz_name,
            "holidays": [day.isoformat() for day in sorted(self.extra_holidays)],
            "workdays": [day.isoformat() for day in sorted(self.extra_workdays)],
            "national_calendar": self.use_national_calendar,
            "entered_years": sorted(self.entered_years),
        }

    # -- days -------------------------------------------------------------------------

    def is_workday(self, day: date) -> bool:
        """Whether local ``day`` is a working day: overrides, then national, then Mon–Fri."""
        if isinstance(day, datetime):
            # A datetime would never match the date overrides and its UTC date may be the
            # wrong local day, so refuse it rather than answer wrongly.
            raise TypeError("is_workday takes a local date, not a datetime")
        schedule = self._years.get(day.year) or self.year_schedule(day.year)
        return schedule.is_workday(day)

    def year_schedule(self, year: int) -> YearSchedule:
        """``year``'s special days with the local overrides applied, and its source.

        The source is the best one that knows the year: official (national calendar),
        else entered (an admin's schedule), else provisional (statutory holidays), else
        unknown. Local days off and workdays apply on top of any of them.
        """
        known = self._years.get(year)
        if known is not None:
            return known
        local_off = frozenset(day for day in self.extra_holidays if day.year == year)
        local_work = frozenset(day for day in self.extra_workdays if day.year == year)
        base = (
            self.national(year)
            if self.use_national_calendar
            else YearSchedule(year, YearSource.UNKNOWN)
        )
        # Before pasting existed, entering one day off of an unknown year was how an admin
        # entered its schedule; a provisional year needs the explicit paste, so that one
        # local holiday does not drop the statutory days of the whole year.
        entered = year in self.entered_years or (
            base.source is YearSource.UNKNOWN and bool(local_off)
        )
        source = base.source
        if entered and source is not YearSource.OFFICIAL:
            source = YearSource.ENTERED
            base = YearSchedule(year, source)
        schedule = YearSchedule(
            year,
            source,
            days_off=(base.days_off - local_work) | local_off,
            workdays=(base.workdays - local_off) | local_work,
        )
        self._years[year] = schedule
        return schedule

    def year_source(self, year: int) -> YearSource:
        """Where ``year``'s days off and make-up workdays come from."""
        return self.year_schedule(year).source

    def special_days(self, year: int) -> list[tuple[date, bool, YearSource]]:
        """Every day of ``year`` that is not simply Monday–Friday work, weekend rest:
        ``(day, is_workday, source)``, the source ENTERED for the admin's own days."""
        schedule = self.year_schedule(year)
        local = self.extra_holidays | self.extra_workdays
        return [
            (day, schedule.is_workday(day), YearSource.ENTERED if day in local else schedule.source)
            for day in sorted(schedule.days_off | schedule.workdays)
        ]

    @property
    def working_day_seconds(self) -> float:
        """Length of one working day in seconds (7.5 h = 27000 s for the default periods)."""
        return self._day_length().total_seconds()

    def _day_length(self) -> timedelta:
        return sum(
            (_since_midnight(end) - _since_midnight(start) for start, end in self.periods), _ZERO
        )

    def _zone(self) -> ZoneInfo:
        # ZoneInfo keeps its own cache of instances, so this is a dictionary lookup.
        return ZoneInfo(self.tz_name)

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._zone()).date()

    def _periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of local ``day`` as UTC instants."""
        zone = self._zone()
        # Convert to UTC before any arithmetic: Python subtracts two datetimes that
        # share a tzinfo by wall clock, which is wrong across a DST change.
        return [
            (
                datetime.combine(day, start, tzinfo=zone).astimezone(UTC),
                datetime.combine(day, end, tzinfo=zone).astimezone(UTC),
            )
            for start, end in self.periods
        ]

    # -- working time -----------------------------------------------------------------

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start`` (aware in, aware UTC out).

        Time outside working periods does not count, so from 20:00 the clock starts at
        the next period start. An amount that runs out exactly at a period end returns
        that end (18:00), not the next morning. Negative ``seconds`` go back in time, and
        an amount that runs out exactly at a period start returns that start. Zero
        returns ``start`` itself.
        """
        _require_aware(start, "start")
        amount = _seconds(seconds, "seconds")
        cursor = start.astimezone(UTC)
        if amount > _ZERO:
            return self._forward(cursor, amount)
        if amount < _ZERO:
            return self._backward(cursor, -amount)
        return cursor

    def _forward(self, cursor: datetime, remaining: timedelta) -> datetime:
        day = self._local_date(cursor)
        day_length = self._day_length()
        for scanned in range(_MAX_SCAN_DAYS):
            if self.is_workday(day):
                # After the first day the cursor lies before the whole day, so a day that
                # cannot finish the amount is used up in one subtraction.
                if scanned and remaining > day_length:
                    remaining -= day_length
                else:
                    for begin, end in self._periods_on(day):
                        if end <= cursor:
                            continue
                        begin = max(begin, cursor)
                        available = end - begin
                        # "<=" so that an exact fit ends at the period end, not next morning.
                        if remaining <= available:
                            return begin + remaining
                        remaining -= available
            day += _ONE_DAY
        raise ValueError(f"the amount does not fit into {_MAX_SCAN_DAYS} days of working time")

    def _backward(self, cursor: datetime, remaining: timedelta) -> datetime:
        day = self._local_date(cursor)
        day_length = self._day_length()
        for scanned in range(_MAX_SCAN_DAYS):
            if self.is_workday(day):
                if scanned and remaining > day_length:
                    remaining -= day_length
                else:
                    for begin, end in reversed(self._periods_on(day)):
                        if begin >= cursor:
                            continue
                        end = min(end, cursor)
                        available = end - begin
                        if remaining <= available:
                            return end - remaining
                        remaining -= available
            day -= _ONE_DAY
        raise ValueError(f"the amount does not fit into {_MAX_SCAN_DAYS} days of working time")

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working time in ``[start, end)``, in seconds; negative if ``end`` is before ``start``."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        return self._working_between(start.astimezone(UTC), end.astimezone(UTC)).total_seconds()

    def _working_between(self, start: datetime, end: datetime) -> timedelta:
        if end < start:
            return -self._working_between(end, start)
        first, last = self._local_date(start), self._local_date(end)
        total = _ZERO
        # The first and last days count period by period; the days between count whole,
        # in O(years) through per-year prefix sums (a case overdue for a year would
        # otherwise walk 365 days on every page that shows its traffic light).
        for day in {first, last}:
            if self.is_workday(day):
                for begin, finish in self._periods_on(day):
                    overlap = min(finish, end) - max(begin, start)
                    if overlap > _ZERO:
                        total += overlap
        if last > first + _ONE_DAY:
            middle = self._count_workdays(first + _ONE_DAY, last - _ONE_DAY)
            total += self._day_length() * middle
        return total

    def _count_workdays(self, first: date, last: date) -> int:
        """How many working days lie in ``[first, last]`` (local dates)."""
        total = 0
        for year in range(first.year, last.year + 1):
            low = first if year == first.year else date(year, 1, 1)
            high = last if year == last.year else date(year, 12, 31)
            prefix = self._prefixes.get(year) or self._workday_prefix(year)
            total += prefix[high.timetuple().tm_yday] - prefix[low.timetuple().tm_yday - 1]
        return total

    def _workday_prefix(self, year: int) -> tuple[int, ...]:
        """``prefix[n]`` = working days among the first ``n`` days of ``year``."""
        day = date(year, 1, 1)
        counts = [0]
        while day.year == year:
            counts.append(counts[-1] + (1 if self.is_workday(day) else 0))
            day += _ONE_DAY
        prefix = tuple(counts)
        self._prefixes[year] = prefix
        return prefix

    # -- limits -----------------------------------------------------------------------

    def _unit_seconds(self, unit: LimitUnit) -> float:
        if unit is LimitUnit.WORK_DAYS:
            return self.working_day_seconds
        return _FIXED_UNIT_SECONDS[unit]

    def due_at(self, start: datetime, limit: TimeLimit) -> datetime:
        """When a step started at ``start`` with ``limit`` falls due (aware UTC).

        Work hours and work days count working time (one work day is
        :attr:`working_day_seconds`, so Wednesday 15:00 plus 2 work days is Friday
        15:00 in a week without holidays); hours, days and minutes are plain durations.
        """
        seconds = limit.amount * self._unit_seconds(limit.unit)
        if limit.unit.is_working_time:
            return self.add_working_seconds(start, seconds)
        _require_aware(start, "start")
        return start.astimezone(UTC) + timedelta(seconds=seconds)

    def _elapsed_seconds(self, start: datetime, end: datetime, unit: LimitUnit) -> float:
        if unit.is_working_time:
            return self.working_seconds_between(start, end)
        _require_aware(start, "start")
        _require_aware(end, "end")
        return (end - start).total_seconds()

    def elapsed_in_limit_units(self, start: datetime, now: datetime, unit: LimitUnit) -> float:
        """Time from ``start`` to ``now`` in ``unit`` (e.g. 1.5 work days).

        Work units count working time only; calendar units count all time.
        """
        return self._elapsed_seconds(start, now, unit) / self._unit_seconds(unit)

    def fraction_used(self, start: datetime, now: datetime, limit: TimeLimit) -> float:
        """Share of ``limit`` used between ``start`` and ``now`` (1.0 = exactly at the limit).

        Measured in the limit's own kind of time, so a work-day limit does not run over a
        weekend. Feed the result to :func:`light_for`.
        """
        return self.elapsed_in_limit_units(start, now, limit.unit) / limit.amount

    def remaining_seconds(self, now: datetime, due: datetime, unit: LimitUnit) -> float:
        """Time left from ``now`` until ``due``; negative when overdue.

        Working seconds for work units (so it stays still over a weekend), calendar
        seconds otherwise.
        """
        return self._elapsed_seconds(now, due, unit)

    def shift_due_for_pause(
        self, due: datetime, paused_at: datetime, resumed_at: datetime, unit: LimitUnit
    ) -> datetime:
        """The new due time after a case was parked (挂账) from ``paused_at`` to ``resumed_at``.

        The clock stops while parked: the time left at ``paused_at`` (working time for
        work units, calendar time otherwise) is counted again from ``resumed_at``. A case
        already overdue when parked is just as overdue when it resumes.
        """
        _require_aware(due, "due")
        _require_aware(paused_at, "paused_at")
        _require_aware(resumed_at, "resumed_at")
        if resumed_at < paused_at:
            raise ValueError(
                f"a case cannot resume ({resumed_at.isoformat()}) before it was parked "
                f"({paused_at.isoformat()})"
            )
        if unit.is_working_time:
            left = self.working_seconds_between(paused_at, due)
            return self.add_working_seconds(resumed_at, left)
        # Exact in timedelta: the same calendar time left, counted from the resume.
        return (resumed_at + (due - paused_at)).astimezone(UTC)


def _since_midnight(moment: time) -> timedelta:
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )
