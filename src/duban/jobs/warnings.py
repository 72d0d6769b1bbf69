"""Deadline warnings (黄灯预警): once a running case has used the policy's yellow share of
its time limit, its unit's staff get one warning per case and deadline (an approved
extension moves the deadline and warns again). Part of the sweep; idempotent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban import notify
from duban.cases.models import Case
from duban.cases.presenters import share_used
from duban.cases.workflow import CLOCK_RUNNING
from duban.kernel.context import Clock
from duban.kernel.unitofwork import writing
from duban.reference import LimitUnit
from duban.reference.policy import load_policy


def warn_deadlines(session: Session, *, clock: Clock) -> list[str]:
    """Queue the yellow-light warnings come due; the codes of the cases warned.

    The share used is the one the case's light shows (:func:`share_used`: in working
    time for a working-time limit, parking left out), so a case is warned when its light
    turns yellow — not earlier over a weekend or a holiday, as a wall-clock share would.
    """
    now = clock.now()
    policy = load_policy(session)
    session.rollback()
    rows = session.execute(
        select(
            Case.id, Case.clock_started_at, Case.due_at, Case.limit_unit, Case.paused_seconds
        ).where(
            Case.status.in_(list(CLOCK_RUNNING)),
            Case.due_at > now,
            Case.overdue_marked_at.is_(None),
            Case.clock_started_at.is_not(None),
            Case.unit_id.is_not(None),
            Case.limit_unit.is_not(None),
        )
    ).all()
    due_ids = []
    for case_id, started, due, unit, paused in rows:
        if started is None or due is None or not unit:
            continue
        used = share_used(
            policy, started=started, due=due, unit=LimitUnit(unit), paused=paused, now=now
        )
        if notify.is_warning_due(used, yellow_at=policy.yellow_at):
            due_ids.append(case_id)
    if not due_ids:
        session.rollback()
        return []
    warned: list[str] = []
    with writing(session):
        keys = list(
            session.scalars(
                select(notify.Notification.dedupe_key).where(
                    notify.Notification.case_id.in_(due_ids),
                    notify.Notification.dedupe_key.like("warn:%"),
                )
            )
        )
        for case in session.scalars(select(Case).where(Case.id.in_(due_ids))):
            prefix = f"warn:{case.id}:{case.due_at.isoformat() if case.due_at else ''}:"
            if any(k and k.startswith(prefix) for k in keys):
                continue
            change = notify.CaseChange.of(case, action="warn", to_status=case.status, at=now)
            if notify.warn_deadline(session, change):
                warned.append(case.code)
    return warned
