"""Scores entered by hand (第三方检查, 暗访 …), each with the evidence it rests on; the
archive of the monthly bulletins made."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class Bulletin(Base):
    """One monthly bulletin as it was made (月度通报存档): append-only, never changed.

    Making the bulletin of a month again adds a new version beside the earlier ones. The
    scheduled job makes each month's bulletin once: ``job_key`` is set on its rows only,
    and unique, so two runs at the same time cannot both add one.
    """

    __tablename__ = "evaluation_bulletins"
    __table_args__ = (
        UniqueConstraint(
            "period", "object", "scheme", "version", name="uq_evaluation_bulletins_version"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), comment="the month, YYYY-MM")
    object: Mapped[str] = mapped_column(String(16), comment="district, street, … dispatcher")
    scheme: Mapped[str] = mapped_column(String(64))
    scheme_version: Mapped[date] = mapped_column(
        Date, comment="the effective date of the scheme's version that scored it"
    )
    version: Mapped[int] = mapped_column(Integer, comment="1, 2, … per period, object, scheme")
    source: Mapped[str] = mapped_column(String(8), comment="request | job")
    job_key: Mapped[str | None] = mapped_column(
        String(100), unique=True, comment="period/object/scheme of a job's bulletin, else null"
    )
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="null: made by the scheduled job"
    )

    files: Mapped[list[BulletinFile]] = relationship(
        back_populates="bulletin", order_by="BulletinFile.format"
    )


class BulletinFile(Base):
    """One rendering (DOCX, PDF or XLSX) of an archived bulletin, its bytes kept as made."""

    __tablename__ = "evaluation_bulletin_files"
    __table_args__ = (UniqueConstraint("bulletin_id", "format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("evaluation_bulletins.id"), index=True)
    format: Mapped[str] = mapped_column(String(8), comment="docx | pdf | xlsx")
    filename: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    bulletin: Mapped[Bulletin] = relationship(back_populates="files")


class SummaryCount(Base):
    """The evaluation summary (``eval_summary``): per local month, object and indicator, the
    numerator and denominator summed over the cases' facts (``case_facts``), kept with
    them in the event's transaction by :mod:`duban.evaluation.summary`, so that a month's
    evaluation reads these rows instead of a row per case.

    ``object``: ``region`` (``key``: the district, street, community and grid codes of the
    cases, ``|``-joined), ``unit`` (the lead unit's id), ``creator`` (the reporter's user
    id) or a position (the staff member's user id). The ``indicator`` ``''`` counts the
    cases (an object appears with all counts zero)."""

    __tablename__ = "eval_summary"
    __table_args__ = ({"sqlite_with_rowid": False},)

    month: Mapped[int] = mapped_column(Integer, primary_key=True, comment="local YYYYMM")
    object: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    indicator: Mapped[str] = mapped_column(String(64), primary_key=True)
    numerator: Mapped[int] = mapped_column(BigInteger)
    denominator: Mapped[int] = mapped_column(BigInteger)


class MissedReport(Base):
    """A case counted as 漏报 against a collector: reported by someone else, during the
    collector's patrol hours, in a grid of their beat, as both stood when the case was
    reported (or when a later event moved it to another grid). Written with the summary's
    ``missed_report_count`` row by :mod:`duban.evaluation.missed`, in the report's
    transaction; the drill-down lists these rows, so a count and its list agree."""

    __tablename__ = "missed_reports"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    month: Mapped[int] = mapped_column(Integer, comment="local YYYYMM of the report")
