"""Deadline warnings (黄灯预警): once a running case has used the policy's yellow share of
its time limit, its unit's staff get one warning per case and deadline (an approved
extension moves the deadline and warns again). Part of the sweep; idempotent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban import notify
from duban.cases.models import Case
from duban.cases.workflow import CLOCK_RUNNING
from duban.kernel.context import Clock
from duban.kernel.unitofwork import writing
from duban.reference.policy import load_policy


def warn_deadlines(session: Session, *, clock: Clock) -> list[str]:
    """Queue the yellow-light warnings come due; the codes of the cases warned.

    The share used is measured on the wall clock between the clock's start and the
    deadline (which already counts working time and parking in its place), so a case
    turns yellow here when its remaining time falls below ``1 - yellow_at`` of that span.
    """
    now = clock.now()
    yellow_at = load_policy(session).yellow_at
    session.rollback()
    rows = session.execute(
        select(Case.id, Case.clock_started_at, Case.due_at).where(
            Case.status.in_(list(CLOCK_RUNNING)),
            Case.due_at > now,
            Case.overdue_marked_at.is_(None),
            Case.clock_started_at.is_not(None),
            Case.unit_id.is_not(None),
        )
    ).all()
    due_ids = []
    for case_id, started, due in rows:
        if started is None or due is None:
            continue
        span = (due - started).total_seconds()
        if span > 0 and notify.is_warning_due(
            (now - started).total_seconds() / span, yellow_at=yellow_at
        ):
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
