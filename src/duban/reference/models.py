"""The taxonomy in the database: categories (大类/小类) and filing conditions (立案条件)
with their limits.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.kernel.db.base import Base


class Category(Base):
    """A class of the 部件/事件 taxonomy. ``code`` is unique across both kinds."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), comment="component 部件 | event 事件")
    level: Mapped[int] = mapped_column(Integer, comment="1 major class 大类, 2 subclass 小类")
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    conditions: Mapped[list[FilingCondition]] = relationship(
        back_populates="category", order_by="FilingCondition.position"
    )


class FilingCondition(Base):
    """A filing condition (立案条件) under a subclass, with its own time limit."""

    __tablename__ = "filing_conditions"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    name: Mapped[str] = mapped_column(String(300))
    #: The English face shows it; empty where a city's taxonomy gives none (then the name).
    name_en: Mapped[str] = mapped_column(String(300), default="", server_default="")
    limit_amount: Mapped[float] = mapped_column(Float)
    limit_unit: Mapped[str] = mapped_column(String(16))
    close_rule: Mapped[str] = mapped_column(Text, default="", comment="结案条件")
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category] = relationship(back_populates="conditions")
