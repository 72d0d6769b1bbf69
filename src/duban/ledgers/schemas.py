"""Request and response schemas of the ledgers' API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from duban.api.schemas import Strict


class LedgerCounts(BaseModel):
    aspects: int
    categories: int
    problems: int
    items: int
    measures: int


class LedgerCreated(BaseModel):
    id: int
    counts: LedgerCounts


class LedgerSummary(BaseModel):
    id: int
    title: str
    created_at: datetime
    measures: int
    done: int
    done_percent: float


class SignoffBrief(BaseModel):
    id: int
    state: str
    reason: str


class Milestone(Strict):
    """A milestone (时间节点) of an item or a measure."""

    date: str = Field(description="2026-12-31 (also 2026/12/31, 2026年12月31日)", max_length=20)
    text: str = Field(min_length=1, max_length=500)
    done: bool = False


class MilestonesPut(Strict):
    milestones: list[Milestone] = Field(max_length=50)


class MilestonesRead(BaseModel):
    id: int
    kind: str
    milestones: list[Milestone]


class NoteFileRead(BaseModel):
    id: str
    filename: str
    content_type: str
    url: str


class NoteRead(BaseModel):
    """A progress note as written: its event and its files."""

    event_id: int
    node_id: int
    text: str
    files: list[NoteFileRead]


class RaisedCase(BaseModel):
    id: int
    code: str = Field(description="案卷号")


class LedgerNodeRead(BaseModel):
    """An entry of the tree; items and measures carry the fields after ``text``."""

    id: int
    kind: str = Field(
        description="aspect 方面 | category 类别 | problem 问题 | item 具体表现 | measure 整改措施"
    )
    text: str
    leader: str | None = None
    lead_unit: str | None = None
    lead_unit_id: int | None = None
    helper_units: list[str] | None = None
    deadline: str | None = None
    status: str | None = None
    note: str | None = None
    case_id: int | None = Field(default=None, description="the case an item belongs to")
    cases: list[RaisedCase] | None = Field(
        default=None, description="the cases an item or a measure raised"
    )
    milestones: list[Milestone] | None = None
    signoff: SignoffBrief | None = None
    children: list[LedgerNodeRead] | None = None


class LedgerTree(BaseModel):
    id: int
    title: str
    created_at: datetime
    aspects: list[LedgerNodeRead]


class GroupFigures(BaseModel):
    items: int = Field(description="the items (具体表现) with a measure in this group")
    measures: int = Field(description="the measures (整改措施) of this group")
    done: int
    overdue: int
    done_percent: float


class UnitFigures(GroupFigures):
    unit: str


class LeaderFigures(GroupFigures):
    leader: str


class LedgerProgress(BaseModel):
    """Progress of a ledger: items (具体表现) and measures (整改措施, one per template row)
    counted as the import counts them; done, overdue and % done are of the measures."""

    ledger_id: int
    title: str
    as_of: str
    items: int = Field(description="the items (具体表现)")
    measures: int = Field(description="the measures (整改措施)")
    done: int = Field(description="measures signed off")
    by_status: dict[str, int] = Field(description="measures by status")
    items_by_status: dict[str, int] = Field(description="items by their rolled-up status")
    overdue: int
    done_percent: float
    by_unit: list[UnitFigures]
    by_leader: list[LeaderFigures]


class StatusChange(Strict):
    status: str = Field(description="未开始 or 推进中 (done needs a sign-off; 逾期 is the sweep's)")


class NoteCreate(Strict):
    text: str = Field(min_length=1, max_length=4000)


class RefusalCreate(Strict):
    reason: str = Field(min_length=1, max_length=4000)


class CaseLink(Strict):
    case_id: int | None


class NodeRead(BaseModel):
    id: int
    kind: str
    status: str | None
    case_id: int | None


class EvidenceRead(BaseModel):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    url: str


class SignoffRead(BaseModel):
    id: int
    node_id: int
    state: str
    long_term: bool
    note: str
    reason: str
    requested_at: datetime
    reviewed_at: datetime | None
    evidence: list[EvidenceRead]


class EventRead(BaseModel):
    id: int
    node_id: int | None
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any]


class SnapshotRead(BaseModel):
    id: int
    ledger_id: int
    week: str
    taken_at: datetime
    figures: dict[str, Any]


class CaseItemRead(BaseModel):
    id: int
    ledger_id: int
    kind: str = Field(description="item (具体表现) or measure (整改措施)")
    text: str
    status: str | None


class CaseRaise(Strict):
    """A case raised by a measure or an item: the report as ``POST /api/v1/cases`` takes it."""

    source: str = Field(
        default="supervision", max_length=16, description="supervision | inspection | …"
    )
    category_code: str = Field(min_length=1, max_length=32, description="e.g. E0102")
    condition_code: str | None = Field(default=None, max_length=40)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str = Field(default="", max_length=300)
    description: str = Field(min_length=1, max_length=5000)
    photo_ids: list[str] = Field(default_factory=list, max_length=20)
    crs: str = Field(default="wgs84", max_length=16)


class CaseRaised(BaseModel):
    id: int
    code: str
    node_id: int
