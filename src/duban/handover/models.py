"""The responsibility list (权责清单) and the hand-overs (移交) of cases to bodies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.accounts import Unit
from duban.kernel.db.base import Base, UTCDateTime


class Responsibility(Base):
    """One line of the responsibility list: a matter (a category or filing condition) and
    the body it belongs to, with the note and legal basis a dispatcher shows."""

    __tablename__ = "responsibilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_code: Mapped[str | None] = mapped_column(
        String(32), comment="a major class or subclass (none: the condition says)"
    )
    condition_code: Mapped[str | None] = mapped_column(String(40), comment="a filing condition")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), comment="the responsible body")
    note: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="", comment="法律依据")
    at_once: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="hand over at filing, without waiting for a dispatcher"
    )
    reply_days: Mapped[int | None] = mapped_column(
        Integer, comment="working days the body has to answer (none: the policy's)"
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()


class CaseTransfer(Base):
    """A hand-over of a case to a body outside 城管, tracked until the body answers.

    Written only together with a case event (``transfer`` and its answers); ``event_seq``
    is the seq of the ``transfer`` event.
    """

    __tablename__ = "case_transfers"
    __table_args__ = (Index("ix_case_transfers_state_due", "state", "reply_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), comment="the body")
    event_seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), comment="open | accepted | refused | done")
    note: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    reply_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="when it was refused or done"
    )
    answer_note: Mapped[str] = mapped_column(Text, default="")
    answered_via: Mapped[str | None] = mapped_column(String(16), comment="link | dispatcher")
    overdue_marked_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="set once by the sweep when no answer came by reply_due_at"
    )

    unit: Mapped[Unit] = relationship()
