"""Regions, territorial units, zones and routing rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
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

from duban.accounts import Unit, User
from duban.kernel.db.base import Base, UTCDateTime

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
    name_en: Mapped[str | None] = mapped_column(
        String(200), comment="the English name; the English face falls back to name"
    )
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
