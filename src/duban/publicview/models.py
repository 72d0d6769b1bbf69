"""Subscriptions to an area by email (FixMyStreet's "local alerts")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime


class PublicSubscription(Base):
    """One email address following one area: pending until the link in the confirmation
    email is opened (double opt-in), then active until unsubscribed.

    The area is kept as written (:attr:`duban.publicview.rules.Area.spec`) and, so that
    "who follows the place of this case" is an index lookup and not a scan, as the region
    code it names (a region area) or the box around it (a box or a point).
    """

    __tablename__ = "public_subscriptions"
    __table_args__ = (
        Index("ix_public_subscriptions_region", "region_code", "confirmed_at"),
        Index("ix_public_subscriptions_box", "south", "north"),
        Index("ix_public_subscriptions_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    area: Mapped[str] = mapped_column(
        String(120), comment="region:CODE | bbox:W,S,E,N | point:LAT,LON,M"
    )
    region_code: Mapped[str | None] = mapped_column(String(32), comment="a region area's code")
    south: Mapped[float | None] = mapped_column(Float, comment="the box around a box or point area")
    west: Mapped[float | None] = mapped_column(Float)
    north: Mapped[float | None] = mapped_column(Float)
    east: Mapped[float | None] = mapped_column(Float)
    lang: Mapped[str] = mapped_column(
        String(8), default="zh", comment="zh | en: the emails' language"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
