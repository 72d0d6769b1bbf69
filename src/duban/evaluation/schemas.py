"""Request and response schemas of the evaluation (考核)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from duban.api.schemas import Strict


class IndicatorValue(BaseModel):
    value: float | None = Field(description="the rate (0..1) or the count; null: nothing to count")
    numerator: int
    denominator: int | None = Field(description="null for a count")


class EvaluationRow(BaseModel):
    object: str
    code: str = Field(description="region or unit code, or the staff member's username")
    name: str
    indicators: dict[str, IndicatorValue]
    score: float | None = Field(description="the scheme's composite; null: not scored by it")
    grade: str | None
    rank: int | None = Field(description="competition ranking: ties share a rank (1, 1, 3)")
    change: float | None = Field(description="环比: the score minus that of the period before")
    change_yoy: float | None = Field(
        default=None, description="同比: the score minus that of the same dates a year earlier"
    )


class EvaluationPage(BaseModel):
    scheme: str
    rows: list[EvaluationRow]


class CaseRef(BaseModel):
    id: int
    code: str


class DrillDown(BaseModel):
    indicator: str
    part: str
    count: int
    cases: list[CaseRef]


class ManualScoreCreate(Strict):
    scheme: str = Field(min_length=1, max_length=64)
    item: str = Field(min_length=1, max_length=64)
    object: str = Field(min_length=1, max_length=16)
    code: str = Field(min_length=1, max_length=64, description="region/unit code or username")
    from_: date = Field(alias="from", description="local date, inclusive")
    to: date = Field(description="local date, exclusive")
    score: float
    note: str = Field(max_length=2000, description="the evidence the score rests on")


class ManualScoreRead(BaseModel):
    id: int
    scheme: str
    item: str
    object: str
    code: str
    score: float
    note: str
    entered_at: datetime


class BulletinRead(BaseModel):
    id: int
    period: str = Field(description="the month, YYYY-MM")
    object: str
    scheme: str
    scheme_version: date = Field(description="effective date of the scheme version used")
    version: int = Field(description="1, 2, … for the same month, object and scheme")
    source: str = Field(description="request | job")
    title: str
    created_at: datetime
    created_by: str | None = Field(description="username, or 'job' for the scheduled job")
    formats: list[str]
    downloads: dict[str, str] = Field(description="format → download path")


class BulletinList(BaseModel):
    bulletins: list[BulletinRead]


class HotspotRow(BaseModel):
    rank: int = Field(description="competition ranking by recurrences, then cases")
    place: str = Field(description="the unit grid's code")
    place_name: str
    category_code: str
    category_name: str
    cases: int = Field(description="cases reported in the period at this place and category")
    recurrences: int = Field(
        description="of them, reported within `days` days after another such case was closed"
    )
    last_closed_at: datetime | None = Field(description="the last closing before `to`")


class HotspotPage(BaseModel):
    from_: str = Field(alias="from")
    to: str
    days: int = Field(description="the recurrence window used")
    category: str | None
    rows: list[HotspotRow]
