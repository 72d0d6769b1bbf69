"""The job timetable: claim a due job so no two workers run it at once, and record runs.

On PostgreSQL a worker claims a job's row with ``SELECT … FOR UPDATE SKIP LOCKED`` and
sets a lease (``locked_until``) and the next run; a worker that finds the row locked or
leased skips the job. On SQLite the write transaction serialises the claims (and one
worker runs, in-process). A lease outlives a crashed worker only until it runs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.jobs.models import JobRun, JobSchedule
from duban.kernel.unitofwork import writing


def claim_job(
    session: Session, *, job: str, worker: str, now: datetime, every: timedelta, lease: timedelta
) -> bool:
    """Take ``job`` if it is due and nobody holds it: set its lease and next run."""
    try:
        return _claim(session, job=job, worker=worker, now=now, every=every, lease=lease)
    except IntegrityError:  # another worker made the job's row first: it has the job
        return False


def _claim(
    session: Session, *, job: str, worker: str, now: datetime, every: timedelta, lease: timedelta
) -> bool:
    with writing(session):
        query = select(JobSchedule).where(
            JobSchedule.job == job,
            JobSchedule.next_run_at <= now,
            or_(JobSchedule.locked_until.is_(None), JobSchedule.locked_until < now),
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = session.scalars(query).first()
        if row is None:
            if session.get(JobSchedule, job) is not None:
                return False
            row = JobSchedule(job=job, next_run_at=now)
            session.add(row)
        row.locked_by = worker
        row.locked_until = now + lease
        row.next_run_at = now + every
    return True


def release_job(session: Session, *, job: str, worker: str) -> None:
    """Give up the lease on ``job`` (its next run stays as claimed)."""
    with writing(session):
        row = session.get(JobSchedule, job)
        if row is not None and row.locked_by == worker:
            row.locked_until = None


def start_run(session: Session, *, job: str, worker: str, now: datetime) -> int:
    """Record that ``job`` started; the run's id."""
    with writing(session):
        run = JobRun(job=job, worker=worker, started_at=now, summary="")
        session.add(run)
        session.flush()
        return run.id


def finish_run(session: Session, *, run_id: int, now: datetime, ok: bool, summary: str) -> None:
    """Record how the run ended."""
    with writing(session):
        run = session.get(JobRun, run_id)
        if run is not None:
            run.finished_at = now
            run.ok = ok
            run.summary = summary[:4000]


@dataclass(frozen=True)
class JobStatus:
    """A job's last run and its next, for admins."""

    job: str
    next_run_at: datetime | None
    last: JobRun | None


def job_status(session: Session, jobs: list[str]) -> list[JobStatus]:
    """The last run (start, end, ok, summary) and next run of each job."""
    out = []
    for job in jobs:
        schedule = session.get(JobSchedule, job)
        last = session.scalars(
            select(JobRun).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(1)
        ).first()
        out.append(
            JobStatus(job=job, next_run_at=schedule.next_run_at if schedule else None, last=last)
        )
    return out
