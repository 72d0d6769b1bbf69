"""Request and response schemas of the supervision API."""

from __future__ import annotations

from datetime import datetime

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
