"""Prints of photos (hash bands indexed for the reuse lookup) and findings per feedback photo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime


class PhotoPrint(Base):
    """What the checks read of a photo, computed once at upload.

    ``phash`` is the 64-bit perceptual hash as a signed BIGINT; ``band0..band3`` are its four
    16-bit bands, each indexed, so near hashes are found by equality on a band (an index
    look-up) and then measured, never by scanning the table. The indexes cover the hash
    and the photo id too: the candidates are read from the index alone. ``chash`` and
    ``cband0..3`` do the same for the hash of the picture's centre, which a cropped copy's
    ``probes`` find (``prints.CROP_PROBES``); NULL for a picture of one colour or a strip.
    """

    __tablename__ = "photo_prints"
    __table_args__ = tuple(
        Index(f"ix_photo_prints_band{b}_cover", f"band{b}", "phash", "photo_id") for b in range(4)
    ) + tuple(
        Index(f"ix_photo_prints_cband{b}_cover", f"cband{b}", "chash", "photo_id") for b in range(4)
    )

    photo_id: Mapped[str] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True
    )
    phash: Mapped[int] = mapped_column(BigInteger)
    band0: Mapped[int] = mapped_column(Integer)
    band1: Mapped[int] = mapped_column(Integer)
    band2: Mapped[int] = mapped_column(Integer)
    band3: Mapped[int] = mapped_column(Integer)
    chash: Mapped[int | None] = mapped_column(BigInteger, comment="hash of the centre 80 %")
    cband0: Mapped[int | None] = mapped_column(Integer)
    cband1: Mapped[int | None] = mapped_column(Integer)
    cband2: Mapped[int | None] = mapped_column(Integer)
    cband3: Mapped[int | None] = mapped_column(Integer)
    probes: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="hashes of where an original's centre would be, uint64 each"
    )
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, comment="EXIF summary, JPEG quality")
    keypoints: Mapped[bytes] = mapped_column(LargeBinary, comment="ORB positions, float32 N×2")
    descriptors: Mapped[bytes] = mapped_column(LargeBinary, comment="ORB descriptors, N×32")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PhotoFinding(Base):
    """One check's finding on one after-photo of a case's feedback."""

    __tablename__ = "photo_findings"
    __table_args__ = (
        UniqueConstraint("case_id", "photo_id", "check", name="uq_photo_findings_case_photo_check"),
        Index("ix_photo_findings_photo", "photo_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    photo_id: Mapped[str] = mapped_column(ForeignKey("photos.id"))
    check: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(40))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
