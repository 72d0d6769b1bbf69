"""Which cases a selection rule picks (reads only)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import TERMINAL, Case
from duban.kernel.context import Clock
from duban.reference import LimitUnit, load_policy
from duban.supervision.rules import RuleKind, SelectionRule

#: At most this many cases go into one order.
MAX_PROBLEMS = 200


def place_key(case: Case) -> str:
    """Where a case is, for "reports at one place": its grid, else its address, else
    its point rounded to about 10 m."""
    if case.grid_code:
        return f"grid:{case.grid_code}"
    if case.address:
        return f"address:{case.address}"
    return f"point:{case.lat:.4f},{case.lon:.4f}"


def select_cases(session: Session, rule: SelectionRule, *, clock: Clock) -> list[Case]:
    """The open cases ``rule`` picks, oldest first (at most :data:`MAX_PROBLEMS`)."""
    now = clock.now()
    open_case = Case.status.not_in([s.value for s in TERMINAL])
    query = select(Case).where(open_case).order_by(Case.created_at, Case.id)
    if rule.kind is RuleKind.OVERDUE:
        calendar = load_policy(session).calendar
        days = rule.params["work_days"]
        rows = session.scalars(query.where(Case.due_at.is_not(None), Case.due_at < now)).all()
        picked = [
            c
            for c in rows
            if c.due_at is not None
            and calendar.elapsed_in_limit_units(c.due_at, now, LimitUnit.WORK_DAYS) > days
        ]
    elif rule.kind is RuleKind.REWORKED:
        picked = list(session.scalars(query.where(Case.rework_count >= rule.params["times"])).all())
    elif rule.kind is RuleKind.FLAGGED:
        picked = list(session.scalars(query.where(Case.is_supervised.is_(True))).all())
    else:
        since = now - timedelta(days=rule.params["days"])
        recent = session.scalars(
            select(Case).where(Case.created_at >= since).order_by(Case.created_at, Case.id)
        ).all()
        groups: dict[str, list[Case]] = defaultdict(list)
        for case in recent:
            groups[place_key(case)].append(case)
        hot = {k for k, v in groups.items() if len(v) >= rule.params["reports"]}
        picked = [c for c in recent if place_key(c) in hot and c.status not in TERMINAL]
    return picked[:MAX_PROBLEMS]
