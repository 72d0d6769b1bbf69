"""Supervision orders (督办单), their addressees and problems, saved selection rules,
the steps of the escalation ladder taken, and the append-only event chain; campaigns
(专项行动), their scope, the cases tagged to them and their own event chain."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.accounts import Unit
from duban.kernel.db.base import Base, UTCDateTime, string_enum
from duban.supervision.campaign_rules import CampaignStatus
from duban.supervision.followup import RevisitState
from duban.supervision.rules import OrderStatus, ProblemStatus


class ReplyFields:
    """A unit's answer to a task (measures, photos, done) and the supervisor's review:
    the columns an order's problem and a joint session's decision share, so one path
    (:mod:`duban.supervision.replies`) answers and reviews both."""

    measures: Mapped[str | None] = mapped_column(Text, comment="整改措施 the unit reported")
    reply_photo_ids: Mapped[list[str] | None] = mapped_column(JSON)
    done: Mapped[bool | None] = mapped_column(Boolean, comment="the unit says it is fixed")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    send_back_reason: Mapped[str | None] = mapped_column(Text)
    send_back_count: Mapped[int] = mapped_column(Integer, default=0)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SupervisionOrder(Base):
    """A numbered supervision order (督办单 / 督查通知单) sent to one or more units."""

    __tablename__ = "supervision_orders"
    __table_args__ = (
        UniqueConstraint("series", "year", "sequence"),
        Index("ix_supervision_orders_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(
        String(100), unique=True, comment="督查通知单〔2026〕第12期"
    )
    series: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[OrderStatus] = mapped_column(
        string_enum(OrderStatus, "supervision_order_status")
    )
    reply_work_days: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="reply deadline")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, comment="提请领导督办")
    rule: Mapped[dict[str, object] | None] = mapped_column(JSON, comment="the rule that picked")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")

    addressees: Mapped[list[OrderUnit]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderUnit.position"
    )
    problems: Mapped[list[OrderProblem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderProblem.position"
    )


class OrderUnit(Base):
    """A unit an order is addressed to (主送)."""

    __tablename__ = "supervision_order_units"

    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_orders.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    order: Mapped[SupervisionOrder] = relationship(back_populates="addressees")
    unit: Mapped[Unit] = relationship()


class OrderProblem(ReplyFields, Base):
    """One problem of an order: a case now, a ledger item later (``subject_kind``), the
    unit that must answer it, and its reply and review."""

    __tablename__ = "supervision_problems"
    __table_args__ = (UniqueConstraint("order_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, comment="序号, from 1")
    subject_kind: Mapped[str] = mapped_column(
        String(16), default="case", comment="case | ledger_item"
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    ledger_item_id: Mapped[int | None] = mapped_column(
        Integer, comment="a ledger item (整改台账), when ledgers exist; no FK yet"
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(300), default="")
    photo_id: Mapped[str | None] = mapped_column(ForeignKey("photos.id"), comment="thumbnail")
    status: Mapped[ProblemStatus] = mapped_column(
        string_enum(ProblemStatus, "supervision_problem_status")
    )

    order: Mapped[SupervisionOrder] = relationship(back_populates="problems")
    unit: Mapped[Unit] = relationship()


class SupervisionRule(Base):
    """A saved rule that picks cases for orders (see :class:`rules.SelectionRule`)."""

    __tablename__ = "supervision_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, int]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderEscalation(Base):
    """A step of the escalation ladder taken on an order: at most once (the key)."""

    __tablename__ = "supervision_escalations"

    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_orders.id"), primary_key=True)
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SupervisionEvent(Base):
    """One append-only row per change to an order, chained per order:
    ``hash = HMAC(audit key, prev_hash + canonical row)``; the order keeps the head.
    Triggers refuse UPDATE and DELETE (migration 0005_supervision)."""

    __tablename__ = "supervision_events"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("supervision_orders.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    problem_id: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}", comment="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32), comment="the audit key that signed the row")


# --------------------------------------------------------------------------- joint handling


class JointSession(Base):
    """A joint session (会商 / 联席会议) on problems no single unit can solve: who took
    part, what it handled, its minutes and its decisions."""

    __tablename__ = "joint_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="when it met")
    place: Mapped[str] = mapped_column(String(200), default="")
    convened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    minutes: Mapped[str] = mapped_column(Text, default="", comment="会议纪要")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")

    units: Mapped[list[JointUnit]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="JointUnit.position"
    )
    subjects: Mapped[list[JointSubject]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="JointSubject.position"
    )
    decisions: Mapped[list[JointDecision]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="JointDecision.position"
    )


class JointUnit(Base):
    """A unit taking part in a joint session (参会单位)."""

    __tablename__ = "joint_session_units"

    session_id: Mapped[int] = mapped_column(ForeignKey("joint_sessions.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    session: Mapped[JointSession] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()


class JointSubject(Base):
    """A case or a ledger item a joint session handles (提请会商)."""

    __tablename__ = "joint_session_subjects"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("joint_sessions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[str] = mapped_column(String(16), comment="case | ledger_item")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    ledger_item_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_nodes.id"), index=True)

    session: Mapped[JointSession] = relationship(back_populates="subjects")


class JointDecision(ReplyFields, Base):
    """A decision of a joint session (议定事项): a task for one unit with a deadline,
    answered and reviewed as an order's problem is."""

    __tablename__ = "joint_decisions"
    __table_args__ = (
        UniqueConstraint("session_id", "position"),
        Index("ix_joint_decisions_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("joint_sessions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, comment="序号, from 1")
    text: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    ledger_item_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_nodes.id"))
    due_work_days: Mapped[int | None] = mapped_column(Integer, comment="when given in days")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[ProblemStatus] = mapped_column(
        string_enum(ProblemStatus, "joint_decision_status")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    session: Mapped[JointSession] = relationship(back_populates="decisions")
    unit: Mapped[Unit] = relationship()


class DecisionEscalation(Base):
    """A step of the escalation ladder taken on a decision: at most once (the key)."""

    __tablename__ = "joint_decision_escalations"

    decision_id: Mapped[int] = mapped_column(ForeignKey("joint_decisions.id"), primary_key=True)
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --------------------------------------------------------------------------- revisits


class Revisit(Base):
    """A revisit (回头看) of a signed-off case or ledger item: a check task, due some
    days after the sign-off (policy per category); one per sign-off (the key)."""

    __tablename__ = "revisits"
    __table_args__ = (
        UniqueConstraint("subject_kind", "subject_id", "signed_off_at"),
        Index("ix_revisits_state_due", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16), comment="case | ledger_item")
    subject_id: Mapped[int] = mapped_column(Integer, comment="the case or item id")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    ledger_item_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_nodes.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    category_code: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    signed_off_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="结案 / 销号")
    due_on: Mapped[date] = mapped_column(Date, comment="local day it falls due")
    state: Mapped[RevisitState] = mapped_column(string_enum(RevisitState, "revisit_state"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason_code: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    photo_ids: Mapped[list[str] | None] = mapped_column(JSON)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")

    unit: Mapped[Unit | None] = relationship()


class SupervisionRecord(Base):
    """One append-only row per change to a joint session or a revisit, chained per
    subject as the order events are (HMAC under the audit key; the subject keeps the
    head). Triggers refuse UPDATE and DELETE (migration 0012_jointrev)."""

    __tablename__ = "supervision_records"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16), comment="session | revisit")
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(Integer, comment="the decision, if any")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}", comment="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))


class Campaign(Base):
    """A named, time-boxed campaign (专项整治 / 专项巡护 / 攻坚月) over a scope of
    categories, regions and sources; the cases reported inside it are tagged to it."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), comment="a code of campaign_kinds (policy)")
    status: Mapped[CampaignStatus] = mapped_column(string_enum(CampaignStatus, "campaign_status"))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date, comment="first local day")
    ends_on: Mapped[date] = mapped_column(Date, comment="last local day")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="local midnight, UTC")
    ends_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), comment="local midnight after the last day, UTC (exclusive)"
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tagged_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="when its cases were last tagged"
    )
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")

    scope_rows: Mapped[list[CampaignScope]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignScope.id"
    )


class CampaignScope(Base):
    """One code of a campaign's scope: a category, a region or a source."""

    __tablename__ = "campaign_scopes"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), comment="category | region | source")
    code: Mapped[str] = mapped_column(String(32))

    campaign: Mapped[Campaign] = relationship(back_populates="scope_rows")


class CampaignCase(Base):
    """A case tagged to a campaign (a case may be in several)."""

    __tablename__ = "campaign_cases"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)
    tagged_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignEvent(Base):
    """One append-only row per change to a campaign, chained per campaign as the orders'
    events are (triggers refuse UPDATE and DELETE, migration 0010_campaigns)."""

    __tablename__ = "campaign_events"
    __table_args__ = (UniqueConstraint("campaign_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}", comment="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32), comment="the audit key that signed the row")
