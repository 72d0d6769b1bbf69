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
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
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


#: The predicate of the partial index of cases with an extension or parking request.
_PENDING_REQUEST = "pending_extension_until IS NOT NULL OR pending_park_reason IS NOT NULL"


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
        # The workbenches' step queues, in the order their timers run out.
        Index("ix_cases_status_step_due", "status", "step_due_at"),
        # The dispatcher's approvals: only the few cases with a request waiting.
        Index(
            "ix_cases_pending_requests",
            "status",
            sqlite_where=text(_PENDING_REQUEST),
            postgresql_where=text(_PENDING_REQUEST),
        ),
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
    community_code: Mapped[str | None] = mapped_column(String(32), index=True)
    street_code: Mapped[str | None] = mapped_column(String(32), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    routing_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id"), comment="lead unit the routing rules suggest"
    )
    routing_helpers: Mapped[list[str] | None] = mapped_column(
        JSON, comment="helper unit codes the routing rules suggest"
    )
    routing_rule_id: Mapped[int | None] = mapped_column(
        Integer, comment="the rule that chose the suggestion (none: territorial fallback)"
    )
    routing_reason: Mapped[str | None] = mapped_column(Text, comment="why, for the dispatcher")
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
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
    routing_unit: Mapped[Unit | None] = relationship(foreign_keys=[routing_unit_id])
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


# --- Open311 ---


class ApiKey(Base):
    """A key issued by an admin to one Open311 client (FixMyStreet, a city app, a vendor).

    Only a SHA-256 hash of the key is kept; the key itself is printed once, when created.
    Keys are 240-bit random strings, so a fast hash is as strong as a slow KDF here and
    keeps every POST cheap; ``prefix`` finds the row without scanning.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(
        String(64), unique=True, comment="the client it was issued to"
    )
    prefix: Mapped[str] = mapped_column(
        String(16), index=True, comment="first characters of the key, to look it up"
    )
    key_hash: Mapped[str] = mapped_column(String(64), comment="sha256 of the whole key, hex")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Open311Request(Base):
    """What an Open311 POST or a bulk import carried beyond the case itself.

    ``contact`` (email, names, device and account ids) is private: it is kept for staff
    and never rendered in any public response.
    """

    __tablename__ = "open311_requests"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), comment="open311 | import")
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    external_id: Mapped[str | None] = mapped_column(
        String(64), index=True, comment="the request's id in the file it was imported from"
    )
    batch: Mapped[str | None] = mapped_column(String(64), comment="import batch id")
    service_code: Mapped[str] = mapped_column(String(40))
    address_id: Mapped[str | None] = mapped_column(String(200))
    is_pinpointed: Mapped[bool] = mapped_column(
        Boolean, default=True, comment="false when only an address was given"
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, comment="imported fields kept as they came (dates, status, agency)"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Open311Update(Base):
    """An update a client pushed (POST servicerequestupdates); idempotent on its update_id."""

    __tablename__ = "open311_updates"
    __table_args__ = (UniqueConstraint("api_key_id", "update_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    update_id: Mapped[str] = mapped_column(String(64), comment="the client's id of the update")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    status: Mapped[str] = mapped_column(String(40), comment="the status the client sent")
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Citizens ---


class CaseTracker(Base):
    """The tracking code (查询码) a citizen got for a report: the key to its status page.

    Whoever holds the code may follow the case and, once it is closed, rate it or say it
    is not fixed. Only a SHA-256 hash of the code is kept, like an API key's.
    """

    __tablename__ = "case_trackers"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="sha256, hex")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Places ---
#
# Regions (区 → 街道 → 社区 → 单元网格) are versioned: a redrawn region gets a new row with a
# new ``valid_from`` and the old row is closed with ``valid_to``; the current version of a
# code is the row with ``valid_to IS NULL``. Cases keep the codes they were filed with.
# Geometry is WKB in WGS84 (lon/lat), decoded by shapely in process (no PostGIS).

REGION_LEVELS = ("district", "street", "community", "grid")
ZONE_KINDS = ("leader_grid", "road_segment", "shopfront")
RULE_PLACE_LEVELS = (*REGION_LEVELS, "zone")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Region(Base):
    """One version of a region: district 区, street 街道, community 社区 or unit grid 单元网格."""

    __tablename__ = "regions"
    __table_args__ = (
        UniqueConstraint("code", "valid_from"),
        Index("ix_regions_level_valid_to", "level", "valid_to"),
        # One current version per code.
        Index(
            "uq_regions_current_code",
            "code",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        CheckConstraint(_one_of("level", REGION_LEVELS), name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(
        String(32), index=True, comment="6 district, 9 street, 12 community, 15 grid digits"
    )
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(32), index=True)
    geometry: Mapped[bytes] = mapped_column(LargeBinary, comment="WKB, WGS84 lon/lat")
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, comment="other properties of the imported feature"
    )
    source: Mapped[str] = mapped_column(
        String(200), default="", comment="the file it was imported from, or 'generated'"
    )
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RegionUnit(Base):
    """The territorial unit (属地) of a region: routing falls back to it (属地兜底)."""

    __tablename__ = "region_units"

    region_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))

    unit: Mapped[Unit] = relationship()


class Zone(Base):
    """A responsibility layer beside the regions, with the person who answers for it.

    ``leader_grid`` 网格分包 (a block of grids and its leader), ``road_segment`` 路长制/街长制
    (a line and its road chief; a point within ``buffer_m`` of the line belongs to it) and
    ``shopfront`` 门前三包 (a frontage and whoever keeps it). ``area`` is the polygon that
    points are matched against (the buffered line for road segments).
    """

    __tablename__ = "zones"
    __table_args__ = (CheckConstraint(_one_of("kind", ZONE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[bytes] = mapped_column(LargeBinary, comment="WKB as drawn, WGS84")
    buffer_m: Mapped[float] = mapped_column(Float, default=0.0)
    area: Mapped[bytes] = mapped_column(LargeBinary, comment="WKB polygon matched against")
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    person_name: Mapped[str] = mapped_column(
        String(100), default="", comment="网格长 / 路长 / 责任人"
    )
    person_phone: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class RoutingRule(Base):
    """(category or filing condition, place) → lead unit and helper units.

    Empty category/condition/place mean "any". The most specific matching rule wins; see
    ``services/routing.py`` for the precedence.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (
        CheckConstraint(
            f"place_level IS NULL OR {_one_of('place_level', RULE_PLACE_LEVELS)}",
            name="place_level",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_code: Mapped[str | None] = mapped_column(
        ForeignKey("categories.code"), comment="a major class or a subclass"
    )
    condition_code: Mapped[str | None] = mapped_column(ForeignKey("filing_conditions.code"))
    place_level: Mapped[str | None] = mapped_column(String(16))
    place_code: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), comment="lead unit 主办")
    helper_units: Mapped[list[str]] = mapped_column(JSON, default=list, comment="unit codes 协办")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()


# Nearby/duplicate search: a bounding box on the case's point.
Index("ix_cases_lat_lon", Case.lat, Case.lon)
