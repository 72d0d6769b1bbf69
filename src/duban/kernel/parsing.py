"""The one parser for numbers and times that arrive as text at the edges.

Query strings, form fields, CSV and XLSX cells and Open311 parameters all arrive as text.
Each face reads them with these functions, so a number means the same thing everywhere
(finite, no NaN or infinity), a time is ISO 8601 (``Z`` accepted; without a zone it is
the city's local time; a date alone is its local midnight), stored as aware UTC, and a
bad value is an :class:`InvalidInput` naming its field — a 422, never a 500, even for
times at the ends of the calendar (``0001-01-01T00:00:00+14:00``).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, tzinfo

from duban.kernel.errors import InvalidInput

#: Whole numbers that fit a database integer (ids, page numbers, counts).
MAX_WHOLE = 2**31 - 1


def parse_number(text: str | None, field: str) -> float | None:
    """A finite number, or None when the text is absent or blank."""
    if text is None or not text.strip():
        return None
    try:
        number = float(text)
    except ValueError as err:
        raise InvalidInput(
            f"'{field}' must be a number, not '{text.strip()}'", field=field
        ) from err
    if not math.isfinite(number):
        raise InvalidInput(f"'{field}' must be a finite number", field=field)
    return number


def parse_whole(
    text: str | None, field: str, *, default: int, lo: int = 0, hi: int = MAX_WHOLE
) -> int:
    """A whole number between ``lo`` and ``hi``; ``default`` when absent or blank."""
    if text is None or not text.strip():
        return default
    try:
        number = int(text.strip())
    except ValueError as err:
        raise InvalidInput(f"'{field}' must be a whole number", field=field) from err
    if not lo <= number <= hi:
        raise InvalidInput(f"'{field}' must be between {lo} and {hi}", field=field)
    return number


def parse_datetime(text: str | None, field: str, tz: tzinfo) -> datetime | None:
    """An ISO 8601 / W3C datetime as aware UTC, or None when absent or blank.

    ``Z`` means UTC; a value without a zone is in ``tz`` (the city's); a date alone is
    its midnight in ``tz``.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidInput(
            f"'{field}' must be an ISO 8601 time such as 2026-11-23T09:00:00+08:00, "
            f"not '{text.strip()}'",
            field=field,
        ) from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return as_utc(parsed, field)


def parse_date(text: str | None, field: str) -> date | None:
    """An ISO 8601 calendar date (``2026-11-23``), or None when absent or blank."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as err:
        raise InvalidInput(
            f"'{field}' must be a date such as 2026-11-23, not '{text.strip()}'", field=field
        ) from err


def as_utc(value: datetime, field: str) -> datetime:
    """An aware time in UTC; a time that UTC cannot hold (year 1 east of Greenwich, year
    9999 west of it) is refused instead of overflowing."""
    try:
        return value.astimezone(UTC)
    except OverflowError as err:
        raise InvalidInput(
            f"'{field}' is outside the range of times Duban keeps", field=field
        ) from err
