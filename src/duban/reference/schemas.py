"""Request and response schemas of the admin's reference data: limits and the calendar."""

from __future__ import annotations

from pydantic import BaseModel, Field

from duban.api.schemas import Strict


class LimitUpdate(Strict):
    amount: float = Field(gt=0)
    unit: str = Field(description="work_hours | work_days | hours | days | minutes")


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
