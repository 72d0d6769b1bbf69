"""How a case reads to a person: its clocks as time left, overdue and traffic lights.

Presenters shape what the use cases return for the faces (API schemas, pages); they
decide nothing and write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
            start = case.clock_started_at or now
            total = cal.elapsed_in_limit_units(start, case.due_at, unit) - case.paused_seconds
            used = cal.elapsed_in_limit_units(start, now, unit) - case.paused_seconds
            light = policy.light(used / total if total > 0 else 1.0).value
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
        limit = policy.steps.get(case.step)
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
