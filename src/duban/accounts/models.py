"""Users and responsible units (责任单位)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.kernel.db.base import Base, UTCDateTime, string_enum
from duban.kernel.roles import Role

#: The kind of a unit outside 城管 (交警, 燃气, 电力, 通信, 公安, 供水).
EXTERNAL = "external"


class Unit(Base):
    """A responsible unit (专业部门 / 责任单位 / 街道办): cases are sent to units."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(
        String(200), comment="English name, shown on English pages (optional: else the name)"
    )
    kind: Mapped[str] = mapped_column(
        String(32),
        default="professional",
        comment="professional 专业部门 | territorial 属地 | external 城管以外的单位 (移交)",
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Contacts: an external body (交警, 燃气, …) has no account; its hand-overs name them.
    phone: Mapped[str | None] = mapped_column(String(64), comment="contact phone (external bodies)")
    email: Mapped[str | None] = mapped_column(String(200), comment="contact email")
    address: Mapped[str | None] = mapped_column(String(300), comment="contact address")
    region_code: Mapped[str | None] = mapped_column(
        String(32),
        index=True,
        comment="二级派遣: the district or street platform the unit belongs to (none: the city)",
    )

    @property
    def is_external(self) -> bool:
        """A body outside 城管: cases are handed over to it (移交), never dispatched."""
        return self.kind == EXTERNAL


class User(Base):
    """A person who signs in. Handlers belong to a unit; collectors may have a beat; staff
    of a district or street belong to its region (their territory)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(string_enum(Role, "user_role"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    region_code: Mapped[str | None] = mapped_column(
        String(32),
        comment="the district or street whose cases the user sees and acts on (none: city-wide)",
    )
    phone: Mapped[str | None] = mapped_column(String(32))
    beat: Mapped[Any | None] = mapped_column(
        JSON, comment="collector's patrol beat (责任区) as a GeoJSON geometry in WGS84"
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    token_epoch: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        comment="bumped by a password change, deactivation or sign-out: ends every "
        "token and web session issued before",
    )

    unit: Mapped[Unit | None] = relationship()


class CollectorBeatGrid(Base):
    """A unit grid (单元网格) a collector's beat covers: resolved from ``users.beat`` when
    the beat is set and when grids are imported (:func:`~duban.accounts.beats.resolve_beat_grids`),
    so that counting 漏报 is a join on the cases' ``grid_code``, no geometry."""

    __tablename__ = "collector_beat_grids"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
