"""The one parser of numbers and times at the edges (kernel.parsing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from duban.kernel.errors import InvalidInput
from duban.kernel.parsing import parse_date, parse_datetime, parse_number, parse_whole

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("", None), ("  ", None), ("3", 3.0), (" -1.5 ", -1.5), ("1e3", 1000.0)],
)
def test_numbers_are_read_or_absent(text: str | None, expected: float | None) -> None:
    assert parse_number(text, "lat") == expected


@pytest.mark.parametrize("text", ["abc", "nan", "NaN", "inf", "-Infinity", "1,5", "\x00"])
def test_numbers_that_are_not_finite_numbers_name_their_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_number(text, "lat")
    assert refused.value.detail["field"] == "lat"


def test_whole_numbers_keep_to_their_range() -> None:
    assert parse_whole(None, "page", default=1, lo=1) == 1
    assert parse_whole("7", "page", default=1, lo=1) == 7
    for bad in ("0", "2147483648", "1.5", "x", "99999999999999999999999"):
        with pytest.raises(InvalidInput, match="'page'"):
            parse_whole(bad, "page", default=1, lo=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T09:00:00+08:00", datetime(2026, 11, 23, 1, tzinfo=UTC)),
        ("2026-11-23T01:00:00Z", datetime(2026, 11, 23, 1, tzinfo=UTC)),
        ("2026-11-23T09:00:00", datetime(2026, 11, 23, 1, tzinfo=UTC)),  # the city's zone
        ("2026-11-23", datetime(2026, 11, 22, 16, tzinfo=UTC)),  # local midnight
        ("", None),
    ],
)
def test_times_are_iso_8601_in_utc(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text, "start", SHANGHAI) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-13-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
def test_times_that_are_not_times_or_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_datetime(text, "start", SHANGHAI)
    assert refused.value.detail["field"] == "start"


def test_dates() -> None:
    assert parse_date("2026-11-01", "from") == date(2026, 11, 1)
    assert parse_date(" ", "from") is None
    with pytest.raises(InvalidInput, match="'from'"):
        parse_date("2026/11/01", "from")
