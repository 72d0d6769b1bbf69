"""漏报 (missed reports): problems others reported in a collector's beat (责任区) while the
collector was on patrol.

Patrol hours are policy data (``patrol:`` of ``data/evaluation.yaml``: week days and
local time spans, with per-collector overrides by username). A case counts against a
collector when it was reported in the period, during their patrol hours, at a point
their beat covers, by someone else. Not a case fact (it depends on the beat's geometry
and the report's time of day): counted here from the cases, for the collectors' rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import User
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

    def covers(self, local: datetime) -> bool:
        if local.isoweekday() not in self.days:
            return False
        at = local.time()
        return any(a <= at < b for a, b in self.spans)


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


def missed_reports(
    session: Session, start: datetime, end: datetime, tz: tzinfo
) -> dict[str, list[int]]:
    """collector id (as text) → the ids of the cases they missed in ``[start, end)``."""
    from shapely.geometry import Point, shape  # deferred: only this count needs geometry

    default, overrides = patrols()
    beats = []
    for user in session.scalars(
        select(User).where(User.role == Role.COLLECTOR, User.beat.is_not(None)).order_by(User.id)
    ):
        try:
            beats.append((user.id, shape(user.beat), overrides.get(user.username, default)))
        except (ValueError, TypeError, AttributeError, KeyError):
            continue  # a malformed beat counts nothing
    out: dict[str, list[int]] = {str(uid): [] for uid, _, _ in beats}
    if not beats:
        return out
    rows = session.execute(
        select(Case.id, Case.lat, Case.lon, Case.created_at, Case.created_by_id)
        .where(Case.created_at >= start, Case.created_at < end)
        .order_by(Case.id)
    )
    for case_id, lat, lon, created_at, by in rows:
        point = Point(lon, lat)
        local = created_at.astimezone(tz)
        for uid, beat, patrol in beats:
            if by != uid and patrol.covers(local) and beat.covers(point):
                out[str(uid)].append(case_id)
    return out
