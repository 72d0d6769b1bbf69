"""Rectification ledgers (整改台账): the tree, sign-offs with evidence, events, snapshots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime

_STATUSES = "'未开始', '推进中', '已整改', '已整改需长期坚持', '逾期'"
_KINDS = "'aspect', 'category', 'problem', 'item', 'measure'"


class Ledger(Base):
    """A ledger: the rectification of one round of findings (巡察整改台账…)."""

    __tablename__ = "ledgers"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_event_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")


class LedgerNode(Base):
    """One entry of the tree 方面 → 类别 → 问题 → 具体表现 (item) → 整改措施 (measure).

    Items and measures carry the responsible leader, the lead unit (a Duban unit when
    one matched by name or code, its text either way), helper units, a deadline and a
    status; an item's status is its measures' rolled up. An item may belong to a case.
    """

    __tablename__ = "ledger_nodes"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="kind"),
        CheckConstraint(f"status IS NULL OR status IN ({_STATUSES})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledgers.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_nodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, comment="order among its siblings")
    text: Mapped[str] = mapped_column(Text)
    leader: Mapped[str] = mapped_column(String(100), default="")
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    lead_unit_text: Mapped[str] = mapped_column(String(200), default="")
    helper_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON,
        default=list,
        server_default="[]",
        comment='[{"date": "2026-12-31", "text": …, "done": false}] of an item or measure',
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerSignoff(Base):
    """A sign-off request (销号申请) of a measure, with its evidence; approved (销号) or
    refused with a reason. A refused one is kept; a new request may follow."""

    __tablename__ = "ledger_signoffs"
    __table_args__ = (CheckConstraint("state IN ('pending', 'approved', 'refused')", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("ledger_nodes.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    long_term: Mapped[bool] = mapped_column(default=False, comment="已整改需长期坚持 when approved")
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="", comment="why it was refused")


class LedgerEvidence(Base):
    """An evidence file of a sign-off request (photo, PDF, DOCX, XLSX), in the file store."""

    __tablename__ = "ledger_evidence"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    signoff_id: Mapped[int] = mapped_column(ForeignKey("ledger_signoffs.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerNoteFile(Base):
    """A file of a progress note (photo, PDF, DOCX, XLSX), in the file store; the note is
    the ``note`` event it was sent with."""

    __tablename__ = "ledger_note_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("ledger_nodes.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("ledger_events.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerEvent(Base):
    """Every change of a ledger, one row each; append-only (triggers refuse UPDATE and
    DELETE, migration 0004_ledgers) and chained per ledger as the orders' events are:
    ``hash = HMAC(audit key, prev_hash + canonical row)``, the ledger keeps the head
    (migration 0020_ledger_chain; rows from before it are plain sha256 links, ``key_id``
    NULL)."""

    __tablename__ = "ledger_events"
    __table_args__ = (Index("uq_ledger_events_seq", "ledger_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledgers.id"), index=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_nodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(Integer, comment="place in the ledger's chain")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(
        String(32), comment="the audit key that signed the row (NULL: before the chain)"
    )


class LedgerSnapshot(Base):
    """A week's progress of a ledger, kept as taken (append-only, one per ledger and week)."""

    __tablename__ = "ledger_snapshots"
    __table_args__ = (UniqueConstraint("ledger_id", "week", name="uq_ledger_snapshots_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledgers.id"), index=True)
    week: Mapped[str] = mapped_column(String(10), comment="ISO week, e.g. 2026-W49")
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)


class LedgerNodeCase(Base):
    """A case raised by a measure or an item (整改措施 → 案件); the case's page shows it."""

    __tablename__ = "ledger_node_cases"

    node_id: Mapped[int] = mapped_column(ForeignKey("ledger_nodes.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
