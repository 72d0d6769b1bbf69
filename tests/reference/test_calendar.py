"""Working calendar, time limits and traffic lights (duban.reference.calendar).

Holiday cases use the real national calendar shipped in ``chinesecalendar``; the first
test pins the days they rely on, so a change in that data fails there and not in the
middle of an arithmetic test. All expectations are written in Shanghai local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban.reference import calendar as calendar_module
from duban.reference.calendar import (
    RED_AT,
    YELLOW_AT,
    Light,
    LimitUnit,
    TimeLimit,
    WorkingCalendar,
    light_for,
    national_calendar_covers,
)

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()
# The same hours without the national calendar: plain Monday–Friday.
MON_FRI = WorkingCalendar(use_national_calendar=False)
HOUR = 3600.0


def at(text: str) -> datetime:
    """A Shanghai local moment from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def local(moment: datetime) -> str:
    """A result as 'YYYY-MM-DD HH:MM' Shanghai time, after checking it is aware UTC."""
    assert moment.tzinfo is UTC
    return moment.astimezone(SH).strftime("%Y-%m-%d %H:%M")


def limit(text: str) -> TimeLimit:
    return TimeLimit.parse(text)


# -- the national data the holiday tests rely on ------------------------------------------


@pytest.mark.parametrize(
    ("day", "is_workday"),
    [
        (date(2025, 9, 28), True),  # Sunday, 调休 workday before National Day
        (date(2025, 9, 30), True),  # Tuesday, eve of National Day
        (date(2025, 10, 1), False),  # National Day + Mid-autumn: 1–8 October off
        (date(2025, 10, 8), False),
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # Saturday, 调休 workday after the holiday
        (date(2025, 12, 31), True),
        (date(2026, 1, 1), False),  # New Year: 1–3 January off
        (date(2026, 1, 4), True),  # Sunday, 调休 workday
        (date(2026, 2, 14), True),  # Saturday, 调休 before Spring Festival
        (date(2026, 2, 15), False),  # Spring Festival: 15–23 February off
        (date(2026, 2, 23), False),
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, 调休 after Spring Festival
    ],
)
def test_national_calendar_data_is_what_the_holiday_tests_expect(
    day: date, is_workday: bool
) -> None:
    assert chinese_calendar.is_workday(day) is is_workday
    assert CAL.is_workday(day) is is_workday


def test_national_calendar_covers_2004_to_2026_at_least() -> None:
    assert national_calendar_covers(2004)
    assert national_calendar_covers(2025)
    assert national_calendar_covers(2026)
    assert not national_calendar_covers(2003)
    assert not national_calendar_covers(2199)


# -- due dates with work units ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "time_limit", "due"),
    [
        # No holidays: Wed 15:00 + 2 work days is Fri 15:00 (3 h + 7.5 h + 4.5 h).
        ("2025-06-11 15:00", "2 work_days", "2025-06-13 15:00"),
        # Eve of National Day 2025: 2 h on 30 Sep, then 1–8 Oct off, then Thu 9 and Fri 10.
        ("2025-09-30 16:00", "1 work_days", "2025-10-09 16:00"),
        ("2025-09-30 16:00", "2 work_days", "2025-10-10 16:00"),
        # The third work day is Saturday 11 Oct, a 调休 workday.
        ("2025-09-30 16:00", "3 work_days", "2025-10-11 16:00"),
        # Friday before the holiday: Sunday 28 Sep is a 调休 workday and counts.
        ("2025-09-26 16:00", "1 work_days", "2025-09-28 16:00"),
        # Spring Festival 2026: Sat 14 Feb works, 15–23 Feb off.
        ("2026-02-13 17:00", "2 work_days", "2026-02-24 17:00"),
        # Across the new year into the 调休 Sunday 4 Jan 2026.
        ("2025-12-31 10:00", "1 work_days", "2026-01-04 10:00"),
        # Work hours during a holiday start on the first morning after it.
        ("2025-10-03 10:00", "4 work_hours", "2025-10-09 14:30"),
        ("2025-10-03 10:00", "3.5 work_hours", "2025-10-09 12:00"),
    ],
)
def test_due_at_on_the_national_calendar(start: str, time_limit: str, due: str) -> None:
    assert local(CAL.due_at(at(start), limit(time_limit))) == due


def test_a_make_up_sunday_counts_only_with_the_national_calendar() -> None:
    start, one_day = at("2025-09-26 16:00"), limit("1 work_days")
    assert local(CAL.due_at(start, one_day)) == "2025-09-28 16:00"
    assert local(MON_FRI.due_at(start, one_day)) == "2025-09-29 16:00"


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2025-06-09 07:00", "2025-06-09 09:30"),  # before 08:30: clock starts at 08:30
        ("2025-06-09 08:30", "2025-06-09 09:30"),
        ("2025-06-09 11:30", "2025-06-09 14:30"),  # runs over lunch
        ("2025-06-09 12:00", "2025-06-09 15:00"),  # start at a period end
        ("2025-06-09 12:30", "2025-06-09 15:00"),  # lunch break
        ("2025-06-09 17:30", "2025-06-10 09:00"),  # runs over the night
        ("2025-06-09 18:00", "2025-06-10 09:30"),
        ("2025-06-09 20:00", "2025-06-10 09:30"),  # evening
        ("2025-06-13 20:00", "2025-06-16 09:30"),  # Friday evening → Monday
        ("2025-06-14 10:00", "2025-06-16 09:30"),  # Saturday
        ("2025-10-01 09:00", "2025-10-09 09:30"),  # on a holiday
    ],
)
def test_start_outside_working_hours_waits_for_the_next_period(start: str, due: str) -> None:
    assert local(CAL.due_at(at(start), limit("1 work_hours"))) == due


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2025-06-09 08:30", 3.5, "2025-06-09 12:00"),  # not 14:00
        ("2025-06-09 08:30", 7.5, "2025-06-09 18:00"),  # not next morning
        ("2025-06-09 20:00", 7.5, "2025-06-10 18:00"),
        ("2025-06-09 14:00", 4 + 7.5 * 4, "2025-06-13 18:00"),  # Friday 18:00, not Monday
        ("2025-09-30 14:00", 4, "2025-09-30 18:00"),  # not after the holiday
    ],
)
def test_an_amount_ending_on_a_period_end_returns_that_end(
    start: str, hours: float, due: str
) -> None:
    assert local(CAL.add_working_seconds(at(start), hours * HOUR)) == due


def test_one_work_day_from_the_morning_ends_the_same_evening() -> None:
    assert local(CAL.due_at(at("2025-06-09 08:30"), limit("1 work_days"))) == "2025-06-09 18:00"


def test_zero_seconds_returns_the_start_even_outside_working_hours() -> None:
    assert local(CAL.add_working_seconds(at("2025-06-09 20:00"), 0)) == "2025-06-09 20:00"


@pytest.mark.parametrize(
    ("start", "hours", "result"),
    [
        ("2025-06-10 09:30", -1, "2025-06-10 08:30"),  # lands on a period start
        ("2025-06-10 09:00", -1, "2025-06-09 17:30"),
        ("2025-06-09 15:00", -3, "2025-06-09 10:00"),  # back over lunch
        ("2025-10-09 09:00", -1, "2025-09-30 17:30"),  # back over National Day
    ],
)
def test_negative_amounts_go_back_in_working_time(start: str, hours: float, result: str) -> None:
    assert local(CAL.add_working_seconds(at(start), hours * HOUR)) == result


def test_sixty_work_days_is_quick_to_compute() -> None:
    # Whole days are skipped in one step; this must not loop minute by minute.
    due = CAL.due_at(at("2025-03-03 09:00"), limit("60 work_days"))
    assert CAL.working_seconds_between(at("2025-03-03 09:00"), due) == 60 * 7.5 * HOUR


# -- working time between two moments -----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2025-06-09 08:30", "2025-06-09 18:00", 7.5),
        ("2025-06-09 07:00", "2025-06-09 13:00", 3.5),
        ("2025-06-09 12:00", "2025-06-09 14:00", 0),
        ("2025-06-09 17:00", "2025-06-10 09:30", 2),
        ("2025-06-13 17:00", "2025-06-16 09:30", 2),  # weekend
        ("2025-09-30 16:00", "2025-10-09 09:30", 3),  # National Day
        ("2025-06-09 10:00", "2025-06-09 09:00", -1),  # reversed
    ],
)
def test_working_seconds_between(start: str, end: str, hours: float) -> None:
    assert CAL.working_seconds_between(at(start), at(end)) == hours * HOUR


def test_default_working_day_is_seven_and_a_half_hours() -> None:
    assert CAL.working_day_seconds == 7.5 * HOUR


def test_utc_and_local_inputs_give_the_same_answer() -> None:
    start = at("2025-09-30 16:00")
    in_utc = start.astimezone(UTC)
    assert in_utc.hour == 8
    assert CAL.due_at(in_utc, limit("2 work_days")) == CAL.due_at(start, limit("2 work_days"))


# -- local overrides ----------------------------------------------------------------------


def test_an_extra_holiday_is_skipped() -> None:
    start = at("2025-06-09 16:00")
    closed_tuesday = WorkingCalendar(extra_holidays=frozenset({date(2025, 6, 10)}))
    assert local(CAL.due_at(start, limit("1 work_days"))) == "2025-06-10 16:00"
    assert local(closed_tuesday.due_at(start, limit("1 work_days"))) == "2025-06-11 16:00"


def test_an_extra_workday_beats_a_national_holiday() -> None:
    on_duty = WorkingCalendar(extra_workdays=frozenset({date(2025, 10, 8)}))
    assert on_duty.is_workday(date(2025, 10, 8))
    assert local(on_duty.due_at(at("2025-09-30 16:00"), limit("2 work_days"))) == (
        "2025-10-09 16:00"
    )


def test_an_extra_holiday_beats_a_national_make_up_workday() -> None:
    no_saturday = WorkingCalendar(extra_holidays=frozenset({date(2025, 10, 11)}))
    assert not no_saturday.is_workday(date(2025, 10, 11))
    assert local(no_saturday.due_at(at("2025-09-30 16:00"), limit("3 work_days"))) == (
        "2025-10-13 16:00"
    )


def test_overrides_apply_without_the_national_calendar_too() -> None:
    custom = WorkingCalendar(
        use_national_calendar=False,
        extra_holidays=frozenset({date(2025, 10, 1)}),
        extra_workdays=frozenset({date(2025, 10, 4)}),
    )
    assert not custom.is_workday(date(2025, 10, 1))  # Wednesday off
    assert custom.is_workday(date(2025, 10, 2))  # national holiday ignored
    assert custom.is_workday(date(2025, 10, 4))  # Saturday on


# -- years the national calendar does not cover -------------------------------------------


def test_an_uncovered_year_falls_back_to_monday_to_friday() -> None:
    # 2199-01-01 is a Tuesday; New Year is not known for that year, so it is a workday.
    week = [date(2199, 1, 1) + timedelta(days=offset) for offset in range(7)]
    assert [CAL.is_workday(day) for day in week] == [day.weekday() < 5 for day in week]
    assert CAL.is_workday(date(2199, 1, 1))
    # Friday 4 January 16:00 + 1 work day skips the weekend.
    assert local(CAL.due_at(at("2199-01-04 16:00"), limit("1 work_days"))) == "2199-01-07 16:00"


def test_crossing_from_an_uncovered_into_a_covered_year() -> None:
    # 2003 is before the package's data (Mon–Fri); 1 January 2004 is a national holiday.
    assert local(CAL.due_at(at("2003-12-31 16:00"), limit("1 work_days"))) == "2004-01-02 16:00"


# -- calendar units -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time_limit", "due"),
    [
        ("2 days", "2025-10-02 16:00"),
        ("24 hours", "2025-10-01 16:00"),
        ("90 minutes", "2025-09-30 17:30"),
        ("0.5 days", "2025-10-01 04:00"),
    ],
)
def test_calendar_units_ignore_the_working_calendar(time_limit: str, due: str) -> None:
    assert local(CAL.due_at(at("2025-09-30 16:00"), limit(time_limit))) == due


def test_elapsed_and_fraction_use_the_limits_own_kind_of_time() -> None:
    start = at("2025-06-13 16:00")  # Friday
    monday_morning = at("2025-06-16 09:30")
    # Over the weekend only 2 + 1 working hours passed, but 65.5 calendar hours.
    assert CAL.elapsed_in_limit_units(start, monday_morning, LimitUnit.WORK_HOURS) == 3
    assert CAL.elapsed_in_limit_units(start, monday_morning, LimitUnit.WORK_DAYS) == 3 / 7.5
    assert CAL.elapsed_in_limit_units(start, monday_morning, LimitUnit.HOURS) == 65.5
    assert CAL.elapsed_in_limit_units(start, monday_morning, LimitUnit.MINUTES) == 65.5 * 60
    assert CAL.fraction_used(start, monday_morning, limit("1 work_days")) == 0.4
    assert CAL.fraction_used(start, monday_morning, limit("1 days")) == pytest.approx(65.5 / 24)


def test_remaining_seconds_stands_still_over_a_weekend_and_goes_negative() -> None:
    due = at("2025-06-16 10:00")  # Monday
    assert CAL.remaining_seconds(at("2025-06-13 18:00"), due, LimitUnit.WORK_DAYS) == 1.5 * HOUR
    assert CAL.remaining_seconds(at("2025-06-15 12:00"), due, LimitUnit.WORK_DAYS) == 1.5 * HOUR
    assert CAL.remaining_seconds(at("2025-06-16 11:00"), due, LimitUnit.WORK_HOURS) == -HOUR
    assert CAL.remaining_seconds(at("2025-06-15 10:00"), due, LimitUnit.HOURS) == 24 * HOUR


# -- parking (挂账) stops the clock ------------------------------------------------------


def test_pause_shifts_a_work_unit_deadline_by_the_working_time_left() -> None:
    dispatched = at("2025-06-09 09:00")
    due = CAL.due_at(dispatched, limit("2 work_days"))
    assert local(due) == "2025-06-11 09:00"
    # Parked after 1 working hour (14 h left), resumed Thursday 14:00:
    # 4 h Thursday + 7.5 h Friday + 2.5 h Monday morning.
    new_due = CAL.shift_due_for_pause(
        due, at("2025-06-09 10:00"), at("2025-06-12 14:00"), LimitUnit.WORK_DAYS
    )
    assert local(new_due) == "2025-06-16 11:00"


def test_pause_outside_working_hours_changes_nothing() -> None:
    due = at("2025-06-16 11:00")
    new_due = CAL.shift_due_for_pause(
        due, at("2025-06-13 19:00"), at("2025-06-15 20:00"), LimitUnit.WORK_HOURS
    )
    assert new_due == due


def test_pause_resumed_in_the_evening_counts_from_the_next_morning() -> None:
    due = at("2025-06-09 18:00")
    new_due = CAL.shift_due_for_pause(
        due, at("2025-06-09 17:00"), at("2025-06-10 20:00"), LimitUnit.WORK_HOURS
    )
    assert local(new_due) == "2025-06-11 09:30"


def test_a_case_overdue_when_parked_is_as_overdue_when_it_resumes() -> None:
    due = at("2025-06-09 12:00")
    new_due = CAL.shift_due_for_pause(
        due, at("2025-06-09 14:30"), at("2025-06-10 09:00"), LimitUnit.WORK_DAYS
    )
    assert local(new_due) == "2025-06-10 08:30"
    assert CAL.remaining_seconds(at("2025-06-10 09:00"), new_due, LimitUnit.WORK_DAYS) == (
        -0.5 * HOUR
    )


def test_pause_shifts_a_calendar_deadline_by_the_pause_length() -> None:
    dispatched = at("2025-09-30 16:00")
    due = CAL.due_at(dispatched, limit("2 days"))
    new_due = CAL.shift_due_for_pause(
        due, at("2025-10-01 16:00"), at("2025-10-04 16:00"), LimitUnit.DAYS
    )
    assert local(new_due) == "2025-10-05 16:00"


def test_resuming_before_parking_is_refused() -> None:
    with pytest.raises(ValueError, match="before it was parked"):
        CAL.shift_due_for_pause(
            at("2025-06-11 09:00"), at("2025-06-10 10:00"), at("2025-06-10 09:00"), LimitUnit.DAYS
        )


# -- traffic lights -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "light"),
    [
        (0.0, Light.GREEN),
        (0.79, Light.GREEN),
        (0.8, Light.YELLOW),
        (0.95, Light.YELLOW),
        (1.0, Light.YELLOW),
        (1.0001, Light.RED),
        (3.0, Light.RED),
    ],
)
def test_light_for_boundaries(fraction: float, light: Light) -> None:
    assert light_for(fraction) is light


def test_light_for_takes_other_thresholds() -> None:
    assert (YELLOW_AT, RED_AT) == (0.8, 1.0)
    assert light_for(0.6, yellow_at=0.5) is Light.YELLOW
    assert light_for(1.1, red_at=1.2) is Light.YELLOW
    with pytest.raises(ValueError, match="must not be above"):
        light_for(0.5, yellow_at=1.1, red_at=1.0)


def test_a_step_is_yellow_exactly_at_its_deadline_and_red_after() -> None:
    start, two_days = at("2025-09-30 16:00"), limit("2 work_days")
    due = CAL.due_at(start, two_days)
    assert light_for(CAL.fraction_used(start, due, two_days)) is Light.YELLOW
    later = due + timedelta(minutes=1)
    assert light_for(CAL.fraction_used(start, later, two_days)) is Light.RED


# -- time limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"amount": 2, "unit": "work_days"}, TimeLimit(2, LimitUnit.WORK_DAYS)),
        ("2 work_days", TimeLimit(2, LimitUnit.WORK_DAYS)),
        ("  1.5 hours ", TimeLimit(1.5, LimitUnit.HOURS)),
        ("2 工作日", TimeLimit(2, LimitUnit.WORK_DAYS)),
        ("4工作时", TimeLimit(4, LimitUnit.WORK_HOURS)),
        ("30 分钟", TimeLimit(30, LimitUnit.MINUTES)),
    ],
)
def test_time_limit_parse(value: str | dict[str, object], expected: TimeLimit) -> None:
    assert TimeLimit.parse(value) == expected


@pytest.mark.parametrize(
    ("time_limit", "text"),
    [
        (TimeLimit(2, LimitUnit.WORK_DAYS), "2 工作日"),
        (TimeLimit(1.5, LimitUnit.WORK_HOURS), "1.5 工作时"),
        (TimeLimit(3, LimitUnit.HOURS), "3 小时"),
        (TimeLimit(7, LimitUnit.DAYS), "7 天"),
        (TimeLimit(30, LimitUnit.MINUTES), "30 分钟"),
    ],
)
def test_time_limit_text_is_chinese_and_reads_back(time_limit: TimeLimit, text: str) -> None:
    assert str(time_limit) == text
    assert TimeLimit.parse(text) == time_limit
    assert TimeLimit.parse(time_limit.to_mapping()) == time_limit


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"amount": 0, "unit": "work_days"}, "greater than 0"),
        ({"amount": -1, "unit": "hours"}, "greater than 0"),
        ({"amount": float("nan"), "unit": "hours"}, "greater than 0"),
        ({"amount": True, "unit": "hours"}, "must be a number"),
        ({"amount": "2", "unit": "hours"}, "must be a number"),
        ({"amount": 2, "unit": "weeks"}, "unknown time-limit unit 'weeks'"),
        ({"amount": 2}, "exactly the keys"),
        ({"amount": 2, "unit": "days", "soft": True}, "exactly the keys"),
        ("two work_days", "cannot read time limit"),
        ("2", "cannot read time limit"),
        ("2 fortnights", "unknown time-limit unit"),
        (["2", "days"], "a time limit is a mapping"),
    ],
)
def test_time_limit_parse_rejects_bad_input(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeLimit.parse(value)  # type: ignore[arg-type]


def test_limit_unit_labels_and_kinds() -> None:
    assert [unit.label_zh for unit in LimitUnit] == ["工作时", "工作日", "小时", "天", "分钟"]
    assert {unit for unit in LimitUnit if unit.is_working_time} == {
        LimitUnit.WORK_HOURS,
        LimitUnit.WORK_DAYS,
    }


# -- configuration ------------------------------------------------------------------------


def test_from_mapping_reads_configuration() -> None:
    cal = WorkingCalendar.from_mapping(
        {
            "periods": ["08:00-12:00", "13:30-17:30"],
            "timezone": "Asia/Shanghai",
            "holidays": ["2026-05-06"],
            "workdays": ["2026-05-09", date(2026, 5, 10)],  # YAML gives dates
            "national_calendar": True,
        }
    )
    assert cal.periods == ((time(8), time(12)), (time(13, 30), time(17, 30)))
    assert cal.working_day_seconds == 8 * HOUR
    assert cal.extra_holidays == {date(2026, 5, 6)}
    assert cal.extra_workdays == {date(2026, 5, 9), date(2026, 5, 10)}
    assert not cal.is_workday(date(2026, 5, 6))  # a Wednesday
    assert cal.is_workday(date(2026, 5, 10))  # a Sunday
    assert WorkingCalendar.from_mapping(cal.to_mapping()) == cal


def test_from_mapping_defaults_to_the_standard_calendar() -> None:
    assert WorkingCalendar.from_mapping({}) == WorkingCalendar()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"periods": ["12:00-08:30"]},
            'setting periods must be .*ending after it starts.*"12:00-08:30"',
        ),
        ({"periods": ["08:30-08:30"]}, "setting periods must be .*ending after it starts"),
        ({"periods": ["14:00-18:00", "08:30-12:00"]}, "in time order"),
        ({"periods": ["08:30-12:00", "11:00-14:00"]}, "setting periods must be .*not overlapping"),
        ({"periods": []}, "at least one working period"),
        ({"periods": "08:30-12:00"}, "must be a list"),
        (
            {"periods": ["8.30-12.00"]},
            'setting periods must be a list of working periods.*not "8.30-12.00"',
        ),
        ({"periods": ["08:30-24:00"]}, 'setting periods must be .*not "08:30-24:00"'),
        ({"timezone": "Asia/Beijing"}, 'setting timezone must be a time zone .*not "Asia/Beijing"'),
        (
            {"holidays": ["2026-13-01"]},
            'setting holidays must be a list of dates.*not "2026-13-01"',
        ),
        ({"holidays": "2026-05-06"}, "must be a list of dates"),
        (
            {"holidays": ["2026-05-06"], "workdays": ["2026-05-06"]},
            'setting workdays must be days not also listed under holidays, not "2026-05-06"',
        ),
        ({"national_calendar": "yes"}, "must be true or false"),
        ({"holiday": ["2026-05-06"]}, "there is no setting holiday; the settings here are entered"),
    ],
)
def test_from_mapping_rejects_bad_configuration(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.from_mapping(data)


def test_calendar_is_hashable_even_when_built_from_sets() -> None:
    cal = WorkingCalendar(extra_holidays={date(2026, 5, 6)})  # type: ignore[arg-type]
    assert hash(cal) == hash(WorkingCalendar(extra_holidays=frozenset({date(2026, 5, 6)})))


# -- input checks -------------------------------------------------------------------------


NAIVE = datetime(2025, 6, 9, 9, 0)  # noqa: DTZ001 - deliberately naive, to be refused


@pytest.mark.parametrize(
    "call",
    [
        lambda: CAL.add_working_seconds(NAIVE, 60),
        lambda: CAL.working_seconds_between(NAIVE, at("2025-06-10 09:00")),
        lambda: CAL.working_seconds_between(at("2025-06-10 09:00"), NAIVE),
        lambda: CAL.due_at(NAIVE, limit("1 work_days")),
        lambda: CAL.due_at(NAIVE, limit("1 days")),
        lambda: CAL.fraction_used(NAIVE, at("2025-06-10 09:00"), limit("1 hours")),
        lambda: CAL.remaining_seconds(NAIVE, at("2025-06-10 09:00"), LimitUnit.MINUTES),
        lambda: CAL.shift_due_for_pause(NAIVE, NAIVE, NAIVE, LimitUnit.DAYS),
    ],
)
def test_naive_datetimes_are_refused(call: object) -> None:
    with pytest.raises(ValueError, match="must be timezone-aware"):
        call()  # type: ignore[operator]


def test_is_workday_refuses_a_datetime() -> None:
    with pytest.raises(TypeError, match="local date"):
        CAL.is_workday(at("2025-06-09 09:00"))


def test_public_api() -> None:
    assert sorted(calendar_module.__all__) == sorted(
        [
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
    )


# -- properties ---------------------------------------------------------------------------

# Moments from Christmas 2024 to early 2027: both covered years plus the fall-back year.
_BASE = at("2024-12-25 00:00")
moments = st.integers(min_value=0, max_value=800 * 86_400 * 10**6).map(
    lambda microseconds: _BASE + timedelta(microseconds=microseconds)
)
# Up to 40 working days, in whole microseconds (the arithmetic's resolution).
amounts = st.integers(min_value=0, max_value=40 * 27_000 * 10**6).map(lambda us: us / 10**6)
# Keep hypothesis from writing its example database into the source tree.
_settings = settings(database=None, max_examples=200)


@pytest.fixture(autouse=True, scope="module")
def _years_known_before_the_properties() -> None:
    """Look up every year the moments reach once, before any example runs.

    The first question about a year chinesecalendar does not cover (2027) imports the
    ``holidays`` package: most of a second, once per process. Paid inside an example, it
    made the first property fail its deadline now and then; the properties are about the
    arithmetic, which takes a few milliseconds.
    """
    for year in range(_BASE.year, (_BASE + timedelta(days=800 + 40)).year + 2):
        CAL.year_schedule(year)


@_settings
@given(start=moments, seconds=amounts)
def test_adding_then_measuring_gives_the_amount_back(start: datetime, seconds: float) -> None:
    due = CAL.add_working_seconds(start, seconds)
    assert due >= start
    assert CAL.working_seconds_between(start, due) == seconds


@_settings
@given(start=moments, seconds=amounts)
def test_going_back_then_measuring_gives_the_amount_back(start: datetime, seconds: float) -> None:
    earlier = CAL.add_working_seconds(start, -seconds)
    assert earlier <= start
    assert CAL.working_seconds_between(earlier, start) == seconds


@_settings
@given(start=moments, first=amounts, second=amounts)
def test_adding_more_time_never_ends_earlier(start: datetime, first: float, second: float) -> None:
    low, high = sorted((first, second))
    assert CAL.add_working_seconds(start, low) <= CAL.add_working_seconds(start, high)


@_settings
@given(start=moments, seconds=amounts.filter(lambda seconds: seconds > 0))
def test_a_due_time_lies_inside_a_working_period(start: datetime, seconds: float) -> None:
    due = CAL.add_working_seconds(start, seconds).astimezone(SH)
    assert CAL.is_workday(due.date())
    assert any(begin < due.time() <= end for begin, end in CAL.periods)


@_settings
@given(a=moments, b=moments, c=moments)
def test_working_time_adds_up_over_consecutive_spans(a: datetime, b: datetime, c: datetime) -> None:
    whole = CAL.working_seconds_between(a, c)
    parts = CAL.working_seconds_between(a, b) + CAL.working_seconds_between(b, c)
    assert whole == pytest.approx(parts, abs=1e-6)
