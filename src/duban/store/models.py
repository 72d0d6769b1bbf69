"""Typed SQLAlchemy models: the system of record.

Statuses and roles are stored as their string values with a CHECK constraint (no native
PostgreSQL enums), so SQLite and PostgreSQL share one schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.domain.workflow import CaseStatus, Role, Source
from duban.store.base import Base, UTCDateTime


def _enum(enum_cls: type[Any], name: str) -> Enum:
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Setting(Base):
    """Key/value settings and policies (working calendar, step limits, secrets, versions)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Unit(Base):
    """A responsible unit (专业部门 / 责任单位 / 街道办): cases are sent to units."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(
        String(32), default="professional", comment="professional 专业部门 | territorial 属地"
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    """A person who signs in. Handlers belong to a unit; collectors may have a beat."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    phone: Mapped[str | None] = mapped_column(String(32))
    beat: Mapped[Any | None] = mapped_column(
        JSON, comment="collector's patrol beat (责任区) as a GeoJSON geometry in WGS84"
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit | None] = relationship()


class Category(Base):
    """A class of the 部件/事件 taxonomy. ``code`` is unique across both kinds."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), comment="component 部件 | event 事件")
    level: Mapped[int] = mapped_column(Integer, comment="1 major class 大类, 2 subclass 小类")
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    conditions: Mapped[list[FilingCondition]] = relationship(
        back_populates="category", order_by="FilingCondition.position"
    )


class FilingCondition(Base):
    """A filing condition (立案条件) under a subclass, with its own time limit."""

    __tablename__ = "filing_conditions"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    name: Mapped[str] = mapped_column(String(300))
    limit_amount: Mapped[float] = mapped_column(Float)
    limit_unit: Mapped[str] = mapped_column(String(16))
    close_rule: Mapped[str] = mapped_column(Text, default="", comment="结案条件")
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category] = relationship(back_populates="conditions")


class Photo(Base):
    """An uploaded photo (before/after evidence). Files live in the photo store."""

    __tablename__ = "photos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), comment="EXIF capture time")
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    """A case (案卷): one problem in public space on its way through the closed loop.

    ``status`` and every other workflow field are written only by use cases in
    ``services/cases.py``, each together with one :class:`CaseEvent`.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_due", "status", "due_at"),
        Index("ix_cases_unit_status", "unit_id", "status"),
        Index("ix_cases_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, comment="案卷号")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    source: Mapped[Source] = mapped_column(_enum(Source, "case_source"))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    kind: Mapped[str] = mapped_column(String(32))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    condition_code: Mapped[str | None] = mapped_column(ForeignKey("filing_conditions.code"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text)
    grid_code: Mapped[str | None] = mapped_column(String(32), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), comment="lead unit 主办")
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), index=True, comment="collector holding the verify/check task"
    )
    task: Mapped[str | None] = mapped_column(String(16), comment="verify | check")
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    is_supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    supervise_note: Mapped[str | None] = mapped_column(Text)
    overdue_marked_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="set by the deadline sweep; cleared when the deadline moves"
    )
    limit_amount: Mapped[float | None] = mapped_column(Float)
    limit_unit: Mapped[str | None] = mapped_column(String(16))
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_seconds: Mapped[float] = mapped_column(
        Float, default=0.0, comment="clock time spent parked, in the limit's kind of time"
    )
    handled_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="when the unit last reported the fix (处理反馈)"
    )
    step: Mapped[str | None] = mapped_column(String(16))
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    step_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pending_extension_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pending_extension_reason: Mapped[str | None] = mapped_column(Text)
    pending_park_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")

    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    helpers: Mapped[list[CaseHelper]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.seq")
    photos: Mapped[list[CasePhoto]] = relationship(back_populates="case", order_by="CasePhoto.id")

    # Optimistic locking: an UPDATE that finds another version raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it as is


class CaseHelper(Base):
    """A helper unit (协办) of a case; the lead unit (主办) is ``cases.unit_id``."""

    __tablename__ = "case_helpers"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)

    case: Mapped[Case] = relationship(back_populates="helpers")
    unit: Mapped[Unit] = relationship()


class CasePhoto(Base):
    """A photo attached to a case: ``before`` (the problem) or ``after`` (the fix)."""

    __tablename__ = "case_photos"
    __table_args__ = (UniqueConstraint("case_id", "photo_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    photo_id: Mapped[str] = mapped_column(ForeignKey("photos.id"))
    stage: Mapped[str] = mapped_column(String(16), comment="before | after | check")
    event_seq: Mapped[int] = mapped_column(Integer)

    case: Mapped[Case] = relationship(back_populates="photos")
    photo: Mapped[Photo] = relationship()


class CaseEvent(Base):
    """One append-only row per action on a case: timeline, audit log and statistics input.

    Rows are hash-chained per case: ``hash = sha256(prev_hash + canonical row)``, and the
    case keeps the head (``event_count``, ``last_event_hash``), so editing or deleting
    any row directly in the database is detected by ``duban audit verify``.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        Index("ix_case_events_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}", comment="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    case: Mapped[Case] = relationship(back_populates="events")


class IdempotencyKey(Base):
    """Remembers ``Idempotency-Key`` headers so a retried create returns the first case."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Counter(Base):
    """Named counters, e.g. the daily sequence of case codes (案卷号)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
