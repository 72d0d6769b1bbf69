"""Request and response schemas of the supervision API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from duban.api.schemas import Strict


class RuleSpec(Strict):
    kind: str = Field(
        max_length=16,
        description="overdue (params: work_days) | reworked (times) | hotspot (reports, days)"
        " | flagged",
    )
    params: dict[str, int] = Field(default_factory=dict, max_length=4)


class OrderCreate(Strict):
    title: str = Field(min_length=1, max_length=200, description="关于……的通知")
    case_ids: list[int] = Field(
        default_factory=list, max_length=200, description="cases picked by hand"
    )
    ledger_item_ids: list[int] = Field(
        default_factory=list,
        max_length=200,
        description="ledger items (具体表现) picked by hand; addressed to their lead units",
    )
    rule: RuleSpec | None = Field(default=None, description="or pick the cases by a rule")
    rule_id: int | None = Field(default=None, description="or by a saved rule")
    units: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="addressed unit codes; default: the cases' responsible units",
    )
    series: str | None = Field(default=None, max_length=40, description="default 督查通知单")
    reply_work_days: int | None = Field(default=None, ge=1, le=365)
    body: str = Field(default="", max_length=4000)


class ReplyCreate(Strict):
    measures: str = Field(min_length=1, max_length=4000, description="整改措施")
    done: bool = Field(description="whether the problem is fixed")
    photo_ids: list[str] = Field(default_factory=list, max_length=10)


class SendBack(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class RuleCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(max_length=16)
    params: dict[str, int] = Field(default_factory=dict, max_length=4)


class RuleRead(BaseModel):
    id: int
    name: str
    kind: str
    params: dict[str, int]


class UnitRef(BaseModel):
    code: str
    name: str


class ProblemRead(BaseModel):
    id: int
    position: int
    subject_kind: str
    case_id: int | None
    case_code: str | None = Field(default=None, description="the case's code (案件编号)")
    ledger_item_id: int | None
    unit: UnitRef
    description: str
    place: str
    photo_url: str | None
    status: str
    status_label: str
    measures: str | None
    reply_photo_ids: list[str]
    done: bool | None
    answered_at: datetime | None
    send_back_reason: str | None
    send_back_count: int


class EventRead(BaseModel):
    seq: int
    action: str
    problem_id: int | None
    actor_role: str
    occurred_at: datetime
    note: str


class OrderRead(BaseModel):
    id: int
    number: str = Field(description="督查通知单〔2026〕第12期")
    title: str
    body: str
    status: str = Field(description="issued | in_progress | closed")
    status_label: str
    units: list[UnitRef]
    reply_work_days: int
    issued_at: datetime
    due_at: datetime
    closed_at: datetime | None
    escalated: bool
    problems: list[ProblemRead]
    events: list[EventRead]
    docx_url: str
    pdf_url: str


class OrderSummary(BaseModel):
    id: int
    number: str
    title: str
    status: str
    status_label: str
    units: list[UnitRef]
    issued_at: datetime
    due_at: datetime
    problems: int
    accepted: int


class OrderPage(BaseModel):
    items: list[OrderSummary]
    total: int
    page: int
    page_size: int


# --------------------------------------------------------------------------- joint handling


class DecisionCreate(Strict):
    text: str = Field(min_length=1, max_length=2000, description="议定事项")
    unit: str = Field(min_length=1, max_length=32, description="the responsible unit's code")
    due_work_days: int | None = Field(default=None, ge=1, le=365, description="or due_on")
    due_on: date | None = Field(default=None, description="a local day; or due_work_days")
    case_id: int | None = Field(default=None, description="default: the session's only subject")
    ledger_item_id: int | None = None


class JointSessionCreate(Strict):
    title: str = Field(min_length=1, max_length=200)
    held_at: datetime = Field(description="when it met; without a zone: the city's time")
    place: str = Field(default="", max_length=200)
    units: list[str] = Field(min_length=1, max_length=100, description="units taking part")
    case_ids: list[int] = Field(default_factory=list, max_length=100)
    ledger_item_ids: list[int] = Field(default_factory=list, max_length=100)
    minutes: str = Field(default="", max_length=20000, description="会议纪要")
    decisions: list[DecisionCreate] = Field(default_factory=list, max_length=100)


class MinutesUpdate(Strict):
    minutes: str = Field(min_length=1, max_length=20000)


class DecisionRead(BaseModel):
    id: int
    position: int
    text: str
    unit: UnitRef
    case_id: int | None
    ledger_item_id: int | None
    due_work_days: int | None
    due_at: datetime
    is_overdue: bool
    status: str = Field(description="open | answered | sent_back | accepted")
    status_label: str
    measures: str | None
    reply_photo_ids: list[str]
    done: bool | None
    answered_at: datetime | None
    send_back_reason: str | None
    send_back_count: int


class RecordRead(BaseModel):
    seq: int
    action: str
    item_id: int | None
    actor_role: str
    occurred_at: datetime
    note: str


class JointSessionRead(BaseModel):
    id: int
    title: str
    held_at: datetime
    place: str
    units: list[UnitRef]
    case_ids: list[int]
    ledger_item_ids: list[int]
    minutes: str
    decisions: list[DecisionRead]
    events: list[RecordRead]
    minutes_docx_url: str


class JointSessionSummary(BaseModel):
    id: int
    title: str
    held_at: datetime
    units: list[UnitRef]
    decisions: int
    accepted: int


# --------------------------------------------------------------------------- revisits


class RevisitResult(Strict):
    passed: bool
    reason_code: str | None = Field(
        default=None,
        max_length=16,
        description="when failed: recurred | not_kept | not_fixed | other",
    )
    reason: str = Field(default="", max_length=2000)
    photo_ids: list[str] = Field(default_factory=list, max_length=10)


class RevisitAssign(Strict):
    collector: str = Field(
        min_length=1, max_length=64, description="a collector's or supervisor's username"
    )


class RevisitRead(BaseModel):
    id: int
    subject_kind: str = Field(description="case | ledger_item")
    case_id: int | None
    ledger_item_id: int | None
    unit: UnitRef | None
    category_code: str | None
    description: str
    signed_off_at: datetime
    due_on: date
    state: str = Field(description="due | passed | failed (回潮)")
    state_label: str
    assignee: str | None
    result_at: datetime | None
    reason_code: str | None
    reason: str | None
    photo_ids: list[str]
    events: list[RecordRead]


# --------------------------------------------------------------------------- campaigns


class CampaignCreate(Strict):
    name: str = Field(min_length=1, max_length=200, description="市容环境专项整治")
    kind: str = Field(
        max_length=32,
        description="a code of the policy's campaign_kinds: rectification 专项整治 |"
        " patrol 专项巡护 | assault_month 攻坚月",
    )
    starts_on: date = Field(description="first local day (Asia/Shanghai), YYYY-MM-DD")
    ends_on: date = Field(description="last local day, inclusive")
    categories: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="category codes; a major class (E01) covers its subclasses",
    )
    regions: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="region codes: a district, street, community or unit grid",
    )
    sources: list[str] = Field(
        default_factory=list, max_length=10, description="optional: only these sources"
    )
    description: str = Field(default="", max_length=4000)


class CampaignClose(Strict):
    note: str = Field(default="", max_length=2000)


class BreakdownRow(BaseModel):
    key: str = Field(description="unit code or category code ('' for no unit)")
    label: str = Field(description="the unit's or category's name")
    found: int
    fixed: int
    open: int
    overdue: int


class DayCount(BaseModel):
    day: date
    found: int


class CampaignStatsRead(BaseModel):
    found: int = Field(description="cases tagged, as the caller may see them")
    fixed: int = Field(description="closed (已结案)")
    open: int
    overdue: int
    fixed_percent: float | None
    by_unit: list[BreakdownRow]
    by_category: list[BreakdownRow]
    by_day: list[DayCount]


class CampaignSummary(BaseModel):
    id: int
    name: str
    kind: str
    kind_label: str
    status: str = Field(description="active | closed")
    status_label: str
    starts_on: date
    ends_on: date
    categories: list[str]
    regions: list[str]
    sources: list[str]


class CampaignRead(CampaignSummary):
    description: str
    created_at: datetime
    closed_at: datetime | None
    tagged_at: datetime | None = Field(description="when its cases were last tagged")
    stats: CampaignStatsRead
    cases_url: str
    report_url: str


class CampaignCaseRead(BaseModel):
    id: int
    code: str
    status: str
    status_label: str
    category_code: str
    unit: UnitRef | None
    address: str
    reported_at: datetime
    overdue: bool
    url: str


class CampaignCasePage(BaseModel):
    items: list[CampaignCaseRead]
    total: int
    page: int
    page_size: int
