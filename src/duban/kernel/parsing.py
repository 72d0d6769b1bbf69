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
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TypeVar

from duban.kernel.errors import InvalidInput, Msg

E = TypeVar("E", bound=StrEnum)

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
            Msg("'{field}' must be a number, not '{value}'", field=field, value=text.strip()),
            field=field,
        ) from err
    if not math.isfinite(number):
        raise InvalidInput(Msg("'{field}' must be a finite number", field=field), field=field)
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
        raise InvalidInput(
            Msg("'{field}' must be a whole number", field=field), field=field
        ) from err
    if not lo <= number <= hi:
        raise InvalidInput(
            Msg("'{field}' must be between {lo} and {hi}", field=field, lo=lo, hi=hi), field=field
        )
    return number


def parse_datetime(
    text: str | None,
    field: str,
    tz: tzinfo,
    *,
    kind: str = "an ISO 8601 time",
    example: str = "2026-11-23T09:00:00+08:00",
) -> datetime | None:
    """An ISO 8601 / W3C datetime as aware UTC, or None when absent or blank.

    ``Z`` means UTC; a value without a zone is in ``tz`` (the city's); a date alone is
    its midnight in ``tz``. ``kind`` and ``example`` word the error as the face's own
    documents do (Open311: "a W3C datetime such as 2010-01-01T00:00:00Z").
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
            Msg(
                "'{field}' must be {kind} such as {example}, not '{value}'",
                field=field,
                kind=kind,
                example=example,
                value=text.strip(),
            ),
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
            Msg(
                "'{field}' must be a date such as 2026-11-23, not '{value}'",
                field=field,
                value=text.strip(),
            ),
            field=field,
        ) from err


def parse_bound(text: str | None, field: str, tz: tzinfo, *, end: bool) -> datetime | None:
    """One end of a period as aware UTC: a date alone is the whole day (its start, or as
    an ``end`` the next day's start, exclusive); a time is taken as it is."""
    if text is None or not text.strip():
        return None
    if len(text.strip()) == 10:
        day = parse_date(text, field)
        assert day is not None
        if end:
            day += timedelta(days=1)
        return as_utc(datetime.combine(day, time(0), tzinfo=tz), field)
    return parse_datetime(text, field, tz)


def parse_choices(text: str | Sequence[str] | None, enum: type[E], field: str) -> tuple[E, ...]:
    """Values of ``enum`` given comma-separated (or as repeated parameters); empty is none."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else [p for v in text for p in v.split(",")]
    chosen: list[E] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            chosen.append(enum(part))
        except ValueError as err:
            names = ", ".join(member.value for member in enum)
            raise InvalidInput(
                Msg(
                    "unknown {field} '{part}'; one of: {names}", field=field, part=part, names=names
                ),
                field=field,
            ) from err
    return tuple(chosen)


def as_utc(value: datetime, field: str) -> datetime:
    """An aware time in UTC; a time that UTC cannot hold (year 1 east of Greenwich, year
    9999 west of it) is refused instead of overflowing."""
    try:
        return value.astimezone(UTC)
    except OverflowError as err:
        raise InvalidInput(
            Msg("'{field}' is outside the range of times Duban keeps", field=field), field=field
        ) from err
