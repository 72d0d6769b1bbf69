"""Scores entered by hand (第三方检查, 暗访 …), each with the evidence it rests on."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime


class ManualScore(Base):
    """The points of a ``manual`` or ``bonus`` item of a scheme for one object and period.

    An evaluation uses the entries whose period lies within its own (their mean, when
    it spans several). Entering the same item, object and period again replaces it.
    """

    __tablename__ = "evaluation_manual_scores"
    __table_args__ = (
        UniqueConstraint("scheme", "item", "object", "object_code", "period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(64))
    item: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(16), comment="district, street, … dispatcher")
    object_code: Mapped[str] = mapped_column(String(64), comment="region or unit code, username")
    period_start: Mapped[date] = mapped_column(Date, comment="local date, inclusive")
    period_end: Mapped[date] = mapped_column(Date, comment="local date, exclusive")
    score: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, comment="the evidence: who checked what, where")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
