"""Tables the kernel owns: settings (key → JSON value) and named counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime


class Setting(Base):
    """Key/value settings and policies (working calendar, step limits, secrets, versions)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Counter(Base):
    """Named counters, e.g. the daily sequence of case codes (案卷号)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
