"""Working time over long spans (counted by prefix sums) equals a day-by-day count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from duban.reference.calendar import WorkingCalendar

CAL = WorkingCalendar(extra_holidays=frozenset({date(2026, 5, 6)}))
START = datetime(2024, 12, 1, tzinfo=UTC)


def _day_by_day(cal: WorkingCalendar, start: datetime, end: datetime) -> float:
    total = 0.0
    day = cal._local_date(start) - timedelta(days=1)
    while day <= cal._local_date(end) + timedelta(days=1):
        if cal.is_workday(day):
            for begin, finish in cal._periods_on(day):
                overlap = (min(finish, end) - max(begin, start)).total_seconds()
                total += max(overlap, 0.0)
        day += timedelta(days=1)
    return total


@settings(max_examples=60)
@given(
    st.integers(min_value=0, max_value=900 * 24 * 60),
    st.integers(min_value=0, max_value=900 * 24 * 60),
)
def test_long_spans_match_a_day_by_day_count(a: int, b: int) -> None:
    start, end = sorted((START + timedelta(minutes=a), START + timedelta(minutes=b)))
    assert CAL.working_seconds_between(start, end) == _day_by_day(CAL, start, end)
