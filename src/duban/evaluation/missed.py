"""漏报 (missed reports): problems others reported in a collector's beat (责任区) while the
collector was on patrol.

Patrol hours are policy data (``patrol:`` of ``data/evaluation.yaml``: week days and
local time spans, with per-collector overrides by username). A case counts against a
collector when it was reported in the period, during their patrol hours, in a unit grid
their beat covers (``collector_beat_grids``, resolved from the beat's geometry when it is
drawn: see :mod:`duban.accounts.beats`), by someone else. One statement for every
collector: the cases' ``grid_code`` joined with the beats' grids, the local time of the
report as a second of the local week tested against the patrol windows (parameters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml
from sqlalchemy import BigInteger, ColumnElement, and_, cast, extract, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from duban.accounts import CollectorBeatGrid, User
from duban.cases import Case
from duban.kernel.errors import Msg, PolicyError
from duban.kernel.roles import Role

CODE = "missed_report_count"
LABEL = ("漏报数", "Missed reports")


@dataclass(frozen=True)
class Patrol:
    """When a collector is on patrol: ISO week days (1 = Monday) and local time spans."""

    days: frozenset[int]
    spans: tuple[tuple[time, time], ...]

    def windows(self) -> list[tuple[int, int]]:
        """The patrol as ``[from, to)`` seconds of the local week (0: Monday 00:00)."""
        return [
            ((d - 1) * DAY + _seconds(a), (d - 1) * DAY + _seconds(b))
            for d in sorted(self.days)
            for a, b in self.spans
        ]

    def covers(self, local: datetime) -> bool:
        at = week_second(local)
        return any(lo <= at < hi for lo, hi in self.windows())


DAY: Final = 86_400
WEEK: Final = 7 * DAY
#: 1970-01-05, the first Monday of the Unix epoch: seconds since it, modulo a week, are
#: the second of the week.
MONDAY: Final = 4 * DAY


def _seconds(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def week_second(local: datetime) -> int:
    """The second of the week of a local time (0: Monday 00:00)."""
    return (local.isoweekday() - 1) * DAY + _seconds(local.time())


def _patrol(raw: Any, where: str, default: Patrol | None = None) -> Patrol:
    if not isinstance(raw, dict):
        raise PolicyError(Msg("{where}: expected days and hours", where=where))
    days = raw.get("days", sorted(default.days) if default else None)
    hours = raw.get("hours")
    try:
        spans = (
            tuple(
                (time.fromisoformat(a), time.fromisoformat(b))
                for a, b in (str(h).split("-") for h in hours)
            )
            if hours is not None
            else (default.spans if default else None)
        )
        week = frozenset(int(d) for d in days or ())
    except (TypeError, ValueError) as exc:
        raise PolicyError(Msg("{where}: days 1..7 and hours as HH:MM-HH:MM", where=where)) from exc
    if not spans or not week <= set(range(1, 8)) or any(a >= b for a, b in spans):
        raise PolicyError(Msg("{where}: days 1..7 and hours as HH:MM-HH:MM", where=where))
    return Patrol(days=week, spans=spans)


def parse_patrols(raw: Any) -> tuple[Patrol, Mapping[str, Patrol]]:
    """The default patrol hours and the overrides by collector username."""
    if not isinstance(raw, dict):
        raise PolicyError("patrol: expected days, hours and optionally collectors")
    default = _patrol(raw, "patrol")
    overrides = raw.get("collectors") or {}
    if not isinstance(overrides, dict):
        raise PolicyError("patrol.collectors: expected username: days and hours")
    return default, {
        str(name): _patrol(body, f"patrol.collectors.{name}", default)
        for name, body in overrides.items()
    }


@cache
def patrols() -> tuple[Patrol, Mapping[str, Patrol]]:
    """The shipped patrol hours (``duban/data/evaluation.yaml``)."""
    text = resources.files("duban.data").joinpath("evaluation.yaml").read_text(encoding="utf-8")
    return parse_patrols((yaml.safe_load(text) or {}).get("patrol"))


def _fixed_offset(tz: tzinfo, start: datetime, end: datetime) -> int | None:
    """The zone's UTC offset in seconds when it is the same over ``[start, end]``
    (Asia/Shanghai since 1991), else None."""
    offsets = set()
    at = start
    while at < end:
        offsets.add(at.astimezone(tz).utcoffset())
        at += timedelta(days=14)
    offsets.add(end.astimezone(tz).utcoffset())
    if len(offsets) != 1 or None in offsets:
        return None
    (offset,) = offsets
    assert offset is not None
    return int(offset.total_seconds())


def _local_epoch(session: Session, tz: tzinfo, start: datetime, end: datetime) -> Any:
    """``cases.created_at`` as local wall-clock seconds since 1970 (one expression per
    dialect: PostgreSQL knows the zones; SQLite adds a fixed offset, or asks Python when
    the offset changes in the period)."""
    if session.get_bind().dialect.name == "postgresql":
        local = func.timezone(literal(str(tz)), Case.created_at)
        return cast(func.floor(extract("epoch", local)), BigInteger)
    offset = _fixed_offset(tz, start, end)
    if offset is not None:
        return cast(func.strftime("%s", Case.created_at, f"{offset:+d} seconds"), BigInteger)
    raw = session.connection().connection.driver_connection

    def epoch(stamp: str | None) -> int | None:
        if stamp is None:
            return None
        at = datetime.fromisoformat(stamp).replace(tzinfo=UTC).astimezone(tz)
        return int(at.replace(tzinfo=UTC).timestamp())

    raw.create_function("duban_local_epoch", 1, epoch, deterministic=True)  # type: ignore[union-attr]
    return func.duban_local_epoch(Case.created_at)


def _on_patrol(second: Any, patrol: Patrol) -> ColumnElement[bool]:
    return or_(*[and_(second >= lo, second < hi) for lo, hi in patrol.windows()])


def _missed(
    session: Session, start: datetime, end: datetime, tz: tzinfo, *where: Any
) -> Select[int, int, str]:
    """(collector id, case id, case code) of every case missed in ``[start, end)``."""
    default, overrides = patrols()
    # The second of the week once per case (PostgreSQL would inline the subquery and
    # compute it again for every patrol window).
    reported = (
        select(
            Case.id,
            Case.code,
            Case.grid_code,
            Case.created_by_id,
            ((_local_epoch(session, tz, start, end) - MONDAY) % WEEK).label("second"),
        )
        .where(Case.created_at >= start, Case.created_at < end, Case.grid_code.is_not(None))
        .cte("reported")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    second = reported.c.second
    on_default = _on_patrol(second, default)
    if overrides:
        on_default = and_(User.username.not_in(sorted(overrides)), on_default)
    on_patrol = or_(
        on_default,
        *[and_(User.username == name, _on_patrol(second, p)) for name, p in overrides.items()],
    )
    beat = CollectorBeatGrid
    return (
        select(beat.user_id, reported.c.id, reported.c.code)
        .join(beat, beat.grid_code == reported.c.grid_code)
        .join(User, User.id == beat.user_id)
        .where(
            User.role == Role.COLLECTOR,
            or_(reported.c.created_by_id.is_(None), reported.c.created_by_id != beat.user_id),
            on_patrol,
            *where,
        )
    )


def missed_counts(session: Session, start: datetime, end: datetime, tz: tzinfo) -> dict[str, int]:
    """collector id (as text) → how many cases they missed in ``[start, end)``."""
    missed = _missed(session, start, end, tz).subquery("missed")
    rows = session.execute(select(missed.c.user_id, func.count()).group_by(missed.c.user_id))
    return {str(uid): int(n) for uid, n in rows}


def missed_cases(
    session: Session, user_id: int, start: datetime, end: datetime, tz: tzinfo
) -> list[tuple[int, str]]:
    """The (id, code) of the cases one collector missed in ``[start, end)``, by id."""
    stmt = _missed(session, start, end, tz, CollectorBeatGrid.user_id == user_id)
    return [
        (int(i), str(c)) for _, i, c in session.execute(stmt.order_by(stmt.selected_columns.id))
    ]
