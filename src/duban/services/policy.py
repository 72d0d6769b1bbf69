"""Policies as data: the working calendar, step limits and source rules.

The shipped defaults live in ``duban/data/policy.yaml``; the live copy is the ``policy``
row of the ``settings`` table, which admins may edit. It is parsed once per change and
cached per process (the row's ``updated_at`` tells when to re-read).
"""

from __future__ import annotations

import calendar as _calendar
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.calendar import Light, TimeLimit, WorkingCalendar, light_for
from duban.domain.errors import PolicyError
from duban.domain.workflow import Source
from duban.store.models import Setting

POLICY_KEY = "policy"


@dataclass(frozen=True)
class SourceRule:
    """A cap on the deadline of cases from one source."""

    max_limit: TimeLimit | None = None
    by_month_end: bool = False


@dataclass(frozen=True)
class Policy:
    """The parsed policy a use case works with."""

    calendar: WorkingCalendar
    steps: Mapping[str, TimeLimit]
    sources: Mapping[Source, SourceRule] = field(default_factory=dict)
    yellow_at: float = 0.8
    red_at: float = 1.0
    supervise_note: str = "超期未处置，系统自动督办"

    @property
    def tz(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.calendar.tz_name)

    def light(self, fraction_used: float) -> Light:
        """Green / yellow / red for a share of a limit used."""
        return light_for(fraction_used, yellow_at=self.yellow_at, red_at=self.red_at)

    def case_due_at(self, source: Source, start: datetime, limit: TimeLimit) -> datetime:
        """The unit's deadline for a case from ``source`` dispatched at ``start``."""
        due = self.calendar.due_at(start, limit)
        rule = self.sources.get(source)
        if rule is None:
            return due
        if rule.max_limit is not None:
            due = min(due, self.calendar.due_at(start, rule.max_limit))
        if rule.by_month_end:
            local = start.astimezone(self.tz)
            last_day = _calendar.monthrange(local.year, local.month)[1]
            end = datetime.combine(
                local.date().replace(day=last_day), time(23, 59, 59), tzinfo=self.tz
            )
            due = min(due, end.astimezone(UTC))
        return due


def shipped_policy_data() -> dict[str, Any]:
    """The default policy shipped in the package."""
    text = resources.files("duban.data").joinpath("policy.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Validate a policy mapping; raise :class:`PolicyError` naming what is wrong."""
    try:
        cal = WorkingCalendar.from_mapping(data.get("calendar") or {})
        steps = {str(k): TimeLimit.parse(v) for k, v in (data.get("steps") or {}).items()}
        sources: dict[Source, SourceRule] = {}
        for key, rule in (data.get("sources") or {}).items():
            src = Source(key)
            by = rule.get("by")
            if by not in (None, "month_end"):
                raise ValueError(f"sources.{key}.by must be 'month_end', not {by!r}")
            max_limit = TimeLimit.parse(rule["max"]) if rule.get("max") else None
            sources[src] = SourceRule(max_limit=max_limit, by_month_end=by == "month_end")
        lights = data.get("lights") or {}
        sweep = data.get("sweep") or {}
        return Policy(
            calendar=cal,
            steps=steps,
            sources=sources,
            yellow_at=float(lights.get("yellow_at", 0.8)),
            red_at=float(lights.get("red_at", 1.0)),
            supervise_note=str(sweep.get("supervise_note", "超期未处置，系统自动督办")),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise PolicyError(f"the policy is invalid: {err}", field="policy") from err


_cache_lock = threading.Lock()
_cache: dict[tuple[str, datetime | None], Policy] = {}


def load_policy(session: Session) -> Policy:
    """The live policy (from the settings table, else the shipped default), cached."""
    row = session.execute(
        select(Setting.value, Setting.updated_at).where(Setting.key == POLICY_KEY)
    ).first()
    bind_key = str(session.get_bind().engine.url)
    key = (bind_key, row.updated_at if row else None)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    policy = parse_policy(row.value if row else shipped_policy_data())
    with _cache_lock:
        _cache.clear()  # one live policy per process is enough
        _cache[key] = policy
    return policy


def save_policy(session: Session, data: Mapping[str, Any], *, now: datetime) -> Policy:
    """Validate and store a new policy (admins). The caller commits."""
    policy = parse_policy(data)
    row = session.get(Setting, POLICY_KEY)
    # A strictly later stamp, so every process notices the change even within a tick.
    stamp = (
        now if row is None or row.updated_at < now else row.updated_at + timedelta(microseconds=1)
    )
    if row is None:
        session.add(Setting(key=POLICY_KEY, value=dict(data), updated_at=stamp))
    else:
        row.value = dict(data)
        row.updated_at = stamp
    return policy
