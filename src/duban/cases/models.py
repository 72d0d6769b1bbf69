"""Cases and their append-only, hash-chained events, helpers, photos, idempotency keys
and citizen trackers.

Statuses and sources are stored as their string values with a CHECK constraint (no native
PostgreSQL enums), so SQLite and PostgreSQL share one schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.accounts import Unit
from duban.cases.workflow import CaseStatus, Source
from duban.evidence import Photo
from duban.kernel.db.base import Base, UTCDateTime, string_enum

#: The predicate of the partial index of cases with an extension or parking request.
_PENDING_REQUEST = "pending_extension_until IS NOT NULL OR pending_park_reason IS NOT NULL"
#: What the evaluation's summary counts a case's facts under (region codes, lead unit,
#: reporter, source: ``counted_as``), as of now.
COUNTED_KEY_SQL = (
    "COALESCE(district_code, '') || '|' || COALESCE(street_code, '') || '|' || "
    "COALESCE(community_code, '') || '|' || COALESCE(grid_code, '') || '|' || "
    "COALESCE(CAST(unit_id AS VARCHAR(12)), '') || '|' || "
    "COALESCE(CAST(created_by_id AS VARCHAR(12)), '') || '|' || source"
)
#: The cases whose facts are counted under other keys than theirs (moved without an
#: event, or never counted): the evaluation corrects for these few at read.
RECOUNT_SQL = f"counted_as IS DISTINCT FROM ({COUNTED_KEY_SQL})"

#: Map flags of a case (``map_counts.flags``): done (handled or parked) past its deadline —
#: the part of "overdue" that no longer changes with the clock — and merged as a duplicate.
MAP_LATE: Final = 1
MAP_DUPLICATE: Final = 2
MAP_FLAGS_SQL = (
    "(CASE WHEN (status NOT IN ('dispatched', 'handling') AND handled_at IS NOT NULL"
    " AND due_at IS NOT NULL AND handled_at > due_at)"
    " OR (status = 'parked' AND parked_at > due_at) THEN 1 ELSE 0 END"
    " + CASE WHEN duplicate_of_id IS NOT NULL THEN 2 ELSE 0 END)"
)
#: The row of ``map_counts`` a case belongs in (``cases.mapped_as``), as of now.
MAP_KEY_SQL = (
    f"COALESCE(grid_code, '') || '|' || status || '|' || CAST({MAP_FLAGS_SQL} AS VARCHAR(2))"
)


class Case(Base):
    """A case (案卷): one problem in public space on its way through the closed loop.

    ``status`` and every other workflow field are written only by use cases in
    ``services/cases.py``, each together with one :class:`CaseEvent`.
    """

    __tablename__ = "cases"
    __table_args__ = (
        # The deadline sweep; with grid and duplicate, the zoomed-out maps' running-late
        # count reads the index alone (mapcounts.counts_by_grid).
        Index("ix_cases_status_due", "status", "due_at", "grid_code", "duplicate_of_id"),
        Index("ix_cases_unit_status", "unit_id", "status"),
        # An operator's list: open cases of a category, by time left or newest first. The
        # page is chosen and the total counted from this index alone (id included for
        # PostgreSQL's index-only scan), whatever statuses and subclasses it asks for.
        Index(
            "ix_cases_status_category_due", "status", "category_code", "due_at", "created_at", "id"
        ),
        Index("ix_cases_created_at", "created_at"),
        # The public list and feed of a street or community, newest first (a district's
        # reports are found on ix_cases_created_at, a grid's are few enough to sort).
        Index("ix_cases_street_created", "street_code", "created_at"),
        Index("ix_cases_community_created", "community_code", "created_at"),
        # The workbenches' step queues, in the order their timers run out (with the id:
        # a page of ids from the index alone).
        Index("ix_cases_status_step_due", "status", "step_due_at", "id"),
        # The queues by time left (workbench._order: the deadline, none last): the
        # parked queue's first page without sorting every parked case.
        Index("ix_cases_status_time_left", "status", text("(due_at IS NULL)"), "due_at", "id"),
        # The dispatcher's approvals: only the few cases with a request waiting.
        Index(
            "ix_cases_pending_requests",
            "status",
            sqlite_where=text(_PENDING_REQUEST),
            postgresql_where=text(_PENDING_REQUEST),
        ),
        Index(
            "ix_cases_recount",
            "id",
            sqlite_where=text(RECOUNT_SQL),
            postgresql_where=text(RECOUNT_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, comment="案卷号")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    source: Mapped[Source] = mapped_column(string_enum(Source, "case_source"))
    status: Mapped[CaseStatus] = mapped_column(string_enum(CaseStatus, "case_status"))
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
    routing_reason_data: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="why: template and codes, named in the reader's language when read"
    )
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
    hotline_ticket: Mapped[str | None] = mapped_column(
        String(40), index=True, comment="12345 热线工单号 of a hotline case"
    )
    fixed_on_site: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=text("false"),
        comment="即查即改: fixed by the reporter on the spot, born closed, never dispatched",
    )
    supervise_note: Mapped[str | None] = mapped_column(Text)
    platform_code: Mapped[str | None] = mapped_column(
        String(32),
        index=True,
        comment="二级派遣: the district or street platform the city sent the case down to",
    )
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
    #: The keys (:data:`COUNTED_KEY_SQL`) the evaluation summary counts the case's facts
    #: under; None: not counted. Kept by :mod:`duban.cases.facts` with each event.
    counted_as: Mapped[str | None] = mapped_column(String(200), default=None)
    #: The row of ``map_counts`` the case is counted in (:data:`MAP_KEY_SQL`); None: not
    #: counted. Kept by :mod:`duban.cases.mapcounts` with each event.
    mapped_as: Mapped[str | None] = mapped_column(String(80), default=None)

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

    Rows are chained per case: ``hash = HMAC(audit key, prev_hash + canonical row)``
    (see :mod:`duban.cases.audit`), the case keeps the head (``event_count``,
    ``last_event_hash``) and each row seals the case's workflow columns as it left them
    (``case_digest``), so editing or deleting any row, or editing the case without an
    event, directly in the database is detected by ``duban audit verify``. On PostgreSQL
    triggers refuse UPDATE, DELETE and TRUNCATE of the table (migration 0002_audit).
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
    key_id: Mapped[str | None] = mapped_column(
        String(32), comment="the audit key that signed the row; NULL: a sha256 link from before"
    )
    case_digest: Mapped[str | None] = mapped_column(
        String(64), comment="HMAC of the case's workflow columns as this event left them"
    )

    case: Mapped[Case] = relationship(back_populates="events")


class IdempotencyKey(Base):
    """Remembers ``Idempotency-Key`` headers so a retried create returns the first case.

    Also the per-form token of a web report (one form, one case); a citizen without an
    account has no user, and such a key (an unguessable token) is unique on its own.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index(
            "uq_idempotency_keys_anonymous_key",
            "key",
            unique=True,
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="none: a citizen without an account (a form token)"
    )
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
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


# Nearby/duplicate search, the maps and the public list of a box or a point: a bounding
# box on the case's point.
Index("ix_cases_lat_lon", Case.lat, Case.lon)


class ImportedCase(Base):
    """A case replayed from an old platform's history (``duban import history``), by the
    old system's id, so importing the same file again adds nothing twice."""

    __tablename__ = "imported_cases"

    ref: Mapped[str] = mapped_column(
        String(100), primary_key=True, comment="the old system's case id (the file's 'case')"
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    rows: Mapped[int] = mapped_column(Integer, comment="the file's rows replayed for it")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="when, by the real clock")


class CaseFact(Base):
    """What a case's events of one local month set, as bits (``data/case_facts.yaml``):
    one row for the case as a whole (``actor_role`` ``''``, ``actor_id`` 0) and one per
    staff member who acted on it that month. Written with each event, in its transaction,
    by :mod:`duban.cases.facts`; the evaluation counts cases over these rows."""

    __tablename__ = "case_facts"
    # A month's rows lie together, by position and staff member (SQLite: clustered).
    __table_args__ = (
        Index("ix_case_facts_case_id", "case_id"),
        {"sqlite_with_rowid": False},
    )

    month: Mapped[int] = mapped_column(Integer, primary_key=True, comment="local YYYYMM")
    actor_role: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor_id: Mapped[int] = mapped_column(Integer, primary_key=True, comment="0: the case")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    flags: Mapped[int] = mapped_column(BigInteger, comment="a bit per fact")


class MapCount(Base):
    """How many cases lie in a unit grid with a status and map flags (``MAP_LATE``: done
    past the deadline, ``MAP_DUPLICATE``: merged into another): the zoomed-out maps read
    these few thousand rows instead of the cases. Kept with each event, in its
    transaction, by :mod:`duban.cases.mapcounts`."""

    __tablename__ = "map_counts"
    __table_args__ = ({"sqlite_with_rowid": False},)

    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True, comment="'': none")
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    flags: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)


class SavedFilter(Base):
    """A case-list query a person kept under a name (their own; nobody else sees it)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(2000), comment="the /cases query string")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
