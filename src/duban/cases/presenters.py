"""How a case reads to a person: its clocks as time left, overdue and traffic lights.

Presenters shape what the use cases return for the faces (API schemas, pages); they
decide nothing and write nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from duban.cases.models import Case
from duban.cases.workflow import CLOCK_RUNNING, CaseStatus
from duban.reference import LimitUnit, Policy


@dataclass(frozen=True)
class DeadlineView:
    """How a case stands against its clocks, as a person reads it."""

    due_at: datetime | None
    seconds_left: float | None
    is_overdue: bool
    light: str | None
    step: str | None
    step_due_at: datetime | None
    step_light: str | None
    clock: str  # running | paused | stopped | not_started


def share_used(
    policy: Policy,
    *,
    started: datetime,
    due: datetime,
    unit: LimitUnit,
    paused: float,
    now: datetime,
) -> float:
    """Share of a running case's time limit used at ``now`` (1.0: at its deadline).

    Measured in the limit's own kind of time — working time for work-day and work-hour
    limits, so a weekend or a holiday uses none of it — with the parked time (``paused``,
    in limit units) left out. The case's light and the yellow-light warning both read
    this, so the warning comes when the light turns yellow.
    """
    cal = policy.calendar
    total = cal.elapsed_in_limit_units(started, due, unit) - paused
    used = cal.elapsed_in_limit_units(started, now, unit) - paused
    return used / total if total > 0 else 1.0


def deadline_view(case: Case, policy: Policy, now: datetime) -> DeadlineView:
    """Time left, overdue state and traffic lights of a case at ``now``."""
    cal = policy.calendar
    clock_state = "not_started"
    seconds_left: float | None = None
    light: str | None = None
    overdue = False
    if case.due_at is not None and case.limit_unit:
        unit = LimitUnit(case.limit_unit)
        if case.status in CLOCK_RUNNING:
            clock_state = "running"
            seconds_left = cal.remaining_seconds(now, case.due_at, unit)
            overdue = now > case.due_at
            used = share_used(
                policy,
                started=case.clock_started_at or now,
                due=case.due_at,
                unit=unit,
                paused=case.paused_seconds,
                now=now,
            )
            light = policy.light(used).value
        elif case.status == CaseStatus.PARKED:
            clock_state = "paused"
            at = case.parked_at or now
            seconds_left = cal.remaining_seconds(at, case.due_at, unit)
            overdue = at > case.due_at
        else:
            # The unit's clock stops when it reports the fix (处理反馈).
            clock_state = "stopped"
            overdue = case.handled_at is not None and case.handled_at > case.due_at
    step_light: str | None = None
    if case.step and case.step_started_at and case.step_due_at:
        limit = policy.step_limit(case.step)
        if limit is not None:
            step_light = policy.light(cal.fraction_used(case.step_started_at, now, limit)).value
    return DeadlineView(
        due_at=case.due_at,
        seconds_left=seconds_left,
        is_overdue=overdue,
        light=light,
        step=case.step,
        step_due_at=case.step_due_at,
        step_light=step_light,
        clock=clock_state,
    )


@dataclass(frozen=True)
class LevelView:
    """二级派遣: how one level's dispatch step stands — the city's (派遣 or 下派) or a
    platform's (its dispatch to its own unit). Running: the case waits at this level now
    (``due_at`` and ``light`` of its step timer); done: when, and whether it was late."""

    level: str  # city | platform
    platform: str | None
    started_at: datetime | None
    due_at: datetime | None = None
    light: str | None = None
    done_at: datetime | None = None
    late: bool = False

    @property
    def running(self) -> bool:
        return self.done_at is None


class LevelEvent(Protocol):
    """What :func:`dispatch_levels` reads of an event (a timeline entry)."""

    @property
    def from_status(self) -> str | None: ...
    @property
    def to_status(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


_CITY_QUEUE = frozenset({CaseStatus.FILED.value, CaseStatus.RETURNED.value})
_AT_PLATFORM = CaseStatus.AT_PLATFORM.value


def dispatch_levels(
    case: Case, events: Sequence[LevelEvent], policy: Policy, now: datetime
) -> list[LevelView]:
    """The last dispatch step of each level of a case that went through a platform
    (二级派遣), city first; empty for a case dispatched at one level."""
    if case.platform_code is None and not any(
        e.to_status == _AT_PLATFORM or e.from_status == _AT_PLATFORM for e in events
    ):
        return []
    city: LevelView | None = None
    platform: LevelView | None = None
    city_start: datetime | None = None
    platform_start: datetime | None = None
    platform_code: str | None = None
    for e in events:
        if e.to_status in _CITY_QUEUE and e.from_status != e.to_status:
            city_start = e.occurred_at
        if e.to_status == _AT_PLATFORM and e.from_status != _AT_PLATFORM:
            platform_start = e.occurred_at
            platform_code = str(e.payload.get("platform") or case.platform_code or "") or None
        late = e.payload.get("step_late") is True
        if e.from_status in _CITY_QUEUE and e.to_status in (
            _AT_PLATFORM,
            CaseStatus.DISPATCHED.value,
        ):
            city = LevelView("city", None, city_start, done_at=e.occurred_at, late=late)
        if e.from_status == _AT_PLATFORM and e.to_status != _AT_PLATFORM:
            platform = LevelView(
                "platform", platform_code, platform_start, done_at=e.occurred_at, late=late
            )
    view = deadline_view(case, policy, now)
    running = LevelView(
        "city", None, case.step_started_at, due_at=case.step_due_at, light=view.step_light
    )
    if case.status.value in _CITY_QUEUE and city is not None:
        city = running
    if case.status == CaseStatus.AT_PLATFORM:
        platform = replace(running, level="platform", platform=case.platform_code)
    return [v for v in (city, platform) if v is not None]
