"""Open311 clients (API keys), the requests they posted and the updates they sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime

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
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id"),
        comment="a lower platform's key: its updates are this unit's feedback (issue 15)",
    )
    region_code: Mapped[str | None] = mapped_column(
        String(32),
        comment="the district or street whose cases the client may see (none: the city)",
    )


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
