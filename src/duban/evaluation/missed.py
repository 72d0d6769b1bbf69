"""漏报 (missed reports): problems others reported in a collector's beat (责任区) while the
collector was on patrol.

Patrol hours are policy data (``patrol:`` of ``data/evaluation.yaml``: week days and
local time spans, with per-collector overrides by username). A case counts against a
collector when it was reported in the period, during their patrol hours, in a unit grid
their beat covers (``collector_beat_grids``, resolved from the beat's geometry when it is
drawn: see :mod:`duban.accounts.beats`), by someone else. One statement for every
collector: the cases' ``grid_code`` joined with the beats' grids, the local time of the
report as a second of the local week tested against the patrol windows (parameters).

The statement runs for the new cases when they are reported (:func:`record_missed`, in the
report's transaction) and again for a case moved to another grid — an action's place
correction or any other write of ``cases.grid_code`` through the ORM, with or without an
event (:func:`relocate_missed`, after the flush that wrote it): each case counted is a
row of ``missed_reports`` and one more in the summary's ``missed_report_count`` of the
collector (``eval_summary``, object ``collector``, key the user id, the local month of the
report). So a month keeps the beats and patrol hours in force when its cases were
reported; a beat drawn later, or a places import that redraws the grids (cases keep the
grid they were filed with), changes only the cases reported after it.
:func:`rebuild_missed` (``rebuild_summary``, the migration's backfill) counts every case
again with today's beats and patrol hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from duban.accounts import CollectorBeatGrid, User
from duban.cases import Case
from duban.evaluation.indicators import months_of
from duban.evaluation.models import MissedReport, SummaryCount
from duban.evaluation.summary import Sums, write_sums
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
) -> Select[int, int, datetime]:
    """(collector id, case id, report time) of every case missed among the cases reported
    in ``[start, end)`` that pass ``where`` (conditions on ``cases``), by today's beats."""
    default, overrides = patrols()
    # The second of the week once per case (PostgreSQL would inline the subquery and
    # compute it again for every patrol window).
    reported = (
        select(
            Case.id,
            Case.created_at,
            Case.grid_code,
            Case.created_by_id,
            ((_local_epoch(session, tz, start, end) - MONDAY) % WEEK).label("second"),
        )
        .where(Case.created_at >= start, Case.created_at < end, Case.grid_code.is_not(None), *where)
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
        select(beat.user_id, reported.c.id, reported.c.created_at)
        .join(beat, beat.grid_code == reported.c.grid_code)
        .join(User, User.id == beat.user_id)
        .where(
            User.role == Role.COLLECTOR,
            or_(reported.c.created_by_id.is_(None), reported.c.created_by_id != beat.user_id),
            on_patrol,
        )
    )


M = MissedReport


def _tz(session: Session) -> tzinfo:
    from duban.reference import load_policy  # deferred: the policy is read per call

    return load_policy(session).tz


def _count(session: Session, rows: Sequence[tuple[int, int]], sign: int) -> None:
    """Add ``sign`` per (user id, month) to the summary's ``missed_report_count``."""
    sums: Sums = {}
    for user_id, month in rows:
        have = sums.setdefault((month, Role.COLLECTOR.value, str(user_id), CODE), [0, 0])
        have[0] += sign
    write_sums(session, sums)


def _write(session: Session, found: Any, tz: tzinfo) -> list[tuple[int, int]]:
    rows = [
        {"case_id": int(c), "user_id": int(u), "month": _month(_utc(at), tz)} for u, c, at in found
    ]
    if rows:
        session.execute(insert(M), rows)
    return [(r["user_id"], r["month"]) for r in rows]


def _month(at: datetime, tz: tzinfo) -> int:
    local = at.astimezone(tz)
    return local.year * 100 + local.month


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def record_missed(
    session: Session, case_ids: Sequence[int], first: datetime, last: datetime
) -> None:
    """Count the new cases ``case_ids`` (reported in ``[first, last]``) against the
    collectors who missed them, by the beats and patrol hours in force now. The one
    writer of ``missed_reports`` and its summary rows, in the report's transaction."""
    if not case_ids:
        return
    tz = _tz(session)
    end = _utc(last) + timedelta(seconds=1)
    found = session.execute(_missed(session, _utc(first), end, tz, Case.id.in_(case_ids))).all()
    _count(session, _write(session, found, tz), 1)


def relocate_missed(session: Session, case_ids: Sequence[int]) -> None:
    """Cases moved to another grid: their 漏报 out of the old collectors' counts, and in
    again by the beats now, in the month and patrol hours of their report. Called for
    every flush that changed a case's ``grid_code`` (:mod:`duban.cases.facts`), whatever
    changed it; idempotent."""
    if not case_ids:
        return
    ids = sorted(set(case_ids))
    gone = session.execute(delete(M).where(M.case_id.in_(ids)).returning(M.user_id, M.month)).all()
    _count(session, [(int(u), int(m)) for u, m in gone], -1)
    first, last = session.execute(
        select(func.min(Case.created_at), func.max(Case.created_at)).where(Case.id.in_(ids))
    ).one()
    if first is not None:
        record_missed(session, ids, first, last)


def rebuild_missed(session: Session) -> None:
    """Recompute ``missed_reports`` for every case with today's beats and patrol hours (the
    summary's rows are recounted from it by ``rebuild_summary``)."""
    session.execute(delete(M))
    first, last = session.execute(
        select(func.min(Case.created_at), func.max(Case.created_at))
    ).one()
    if first is None:
        return
    tz = _tz(session)
    found = session.execute(
        _missed(session, _utc(first), _utc(last) + timedelta(seconds=1), tz)
    ).all()
    for i in range(0, len(found), 10_000):
        _write(session, found[i : i + 10_000], tz)


def missed_sums(session: Session) -> Sums:
    """The summary's ``missed_report_count`` rows counted from ``missed_reports``."""
    rows = session.execute(select(M.month, M.user_id, func.count()).group_by(M.month, M.user_id))
    return {(int(m), Role.COLLECTOR.value, str(u), CODE): [int(n), 0] for m, u, n in rows}


def missed_counts(session: Session, start: datetime, end: datetime, tz: tzinfo) -> dict[str, int]:
    """collector id (as text) → how many cases they missed in ``[start, end)``: a local
    month is read from the summary, any other range counts ``missed_reports``."""
    months = months_of(start, end, tz)
    if months is not None and len(months) == 1:
        s = SummaryCount
        stmt: Any = select(s.key, s.numerator).where(
            s.month == months[0], s.object == Role.COLLECTOR.value, s.indicator == CODE
        )
        return {str(k): int(n) for k, n in session.execute(stmt) if n}
    stmt = (
        select(M.user_id, func.count())
        .join(Case, Case.id == M.case_id)
        .where(Case.created_at >= start, Case.created_at < end)
        .group_by(M.user_id)
    )
    return {str(u): int(n) for u, n in session.execute(stmt)}


def missed_cases(
    session: Session, user_id: int, start: datetime, end: datetime, tz: tzinfo
) -> list[tuple[int, str]]:
    """The (id, code) of the cases one collector missed in ``[start, end)``, by id."""
    stmt = (
        select(Case.id, Case.code)
        .join(M, M.case_id == Case.id)
        .where(M.user_id == user_id, Case.created_at >= start, Case.created_at < end)
        .order_by(Case.id)
    )
    return [(int(i), str(c)) for i, c in session.execute(stmt)]
