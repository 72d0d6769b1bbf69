"""The public alerts: each new report reaches the public subscribers of its area by email.

Neither the cases' intake nor the outbox knows of the public view; this job joins them.
Each run takes the cases created since the start of the job's last successful run
(``job_runs``), less :data:`OVERLAP`, and asks the public view to queue the alerts of
each (:func:`duban.publicview.alert_subscribers`). The overlap catches a report whose
transaction committed after a run had looked (a created time a little in the past, or
another machine's clock); the outbox's dedupe key ``area:<subscription>:<case>`` makes
seeing a case twice harmless, so reruns and a second worker never send an alert twice.

A case of an old platform's history (``duban import history``) is not a new report,
whatever the time of its rows: it alerts nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban import publicview
from duban.cases import Case, ImportedCase
from duban.jobs.models import JobRun
from duban.kernel.context import Clock

JOB: Final = "public_alerts"
#: How far before the last run's start a run looks again (see the module's docstring).
OVERLAP: Final = timedelta(minutes=10)


@dataclass
class AlertsReport:
    """What one run of the public alerts did."""

    since: datetime
    cases: int = 0
    queued: int = 0

    def __str__(self) -> str:
        return (
            f"public alerts: {self.cases} new reports since {self.since:%Y-%m-%d %H:%M} UTC, "
            f"{self.queued} emails queued"
        )


def alerts_since(session: Session, *, now: datetime) -> datetime:
    """Where a run starts looking: the last successful run's start (or now, the first
    time: the reports made before the job ever ran are not news) less the overlap."""
    last = session.scalar(
        select(JobRun.started_at)
        .where(JobRun.job == JOB, JobRun.ok.is_(True))
        .order_by(JobRun.started_at.desc())
        .limit(1)
    )
    return (last or now) - OVERLAP


def public_alerts(session: Session, *, clock: Clock, secret: str, base_url: str) -> AlertsReport:
    """Queue the alerts of the reports made since the last run; idempotent."""
    now = clock.now()
    report = AlertsReport(since=alerts_since(session, now=now))
    case_ids = list(
        session.scalars(
            select(Case.id)
            .where(
                Case.created_at >= report.since,
                ~select(ImportedCase.case_id).where(ImportedCase.case_id == Case.id).exists(),
            )
            .order_by(Case.id)
        )
    )
    session.rollback()  # end the read; each case's alerts are their own transaction
    for case_id in case_ids:
        report.cases += 1
        report.queued += publicview.alert_subscribers(
            session, case_id=case_id, secret=secret, base_url=base_url, at=now
        )
    session.rollback()  # end the last read
    return report
