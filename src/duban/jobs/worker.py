"""The worker: runs the background jobs by itself, forever.

Jobs (each idempotent; intervals in ``data/notify.yaml``, overridable by settings):

- ``sweep`` — the deadline sweep (:func:`duban.jobs.sweep.sweep_overdue`), every minute;
- ``deliver`` — the outbox (:func:`duban.notify.deliver_due`), every few seconds and at
  once when a commit wrote messages;
- ``bulletin`` — the monthly bulletin (:func:`duban.jobs.bulletin.monthly_bulletin`),
  checked daily;
- ``public_alerts`` — new reports to the public subscribers of their area
  (:func:`duban.jobs.alerts.public_alerts`), every minute;
- ``exchange`` — the exchange with the higher platform (:func:`duban.exchange.run_exchange`),
  every two minutes; nothing without an active link.

``duban worker`` runs one in the foreground (production: one or more, on PostgreSQL);
``duban serve`` starts one in a background thread of the server process, so the demo
escalates overdue cases without cron. Before a job runs, the worker claims it in
``job_schedule`` (:mod:`duban.jobs.schedule`): two workers never run one job at once, and
every run is recorded in ``job_runs`` (start, end, ok or error, summary).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy.orm import Session, sessionmaker

from duban import notify
from duban.jobs.models import JobSchedule
from duban.jobs.schedule import claim_job, finish_run, release_job, start_run
from duban.kernel.context import Clock
from duban.kernel.ports import PhotoStore, Sender
from duban.kernel.unitofwork import writing

if TYPE_CHECKING:
    from duban.config import Settings

log = logging.getLogger(__name__)

JOBS: Final = ("sweep", "deliver", "bulletin", "public_alerts", "exchange")
#: How long a claimed job is its worker's before another may take it over.
LEASE: Final = timedelta(minutes=10)


@dataclass(frozen=True)
class WorkerConfig:
    """What the jobs need from the outside, chosen by the caller (CLI or app)."""

    senders: Mapping[str, Sender]
    base_url: str = ""
    secret: str | None = None
    store: PhotoStore | None = None
    font: Path | None = None
    intervals: Mapping[str, float] | None = None
    #: The jobs this worker runs (all by default).
    jobs: tuple[str, ...] = JOBS


class Worker:
    """Runs due jobs in a loop until stopped."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock,
        config: WorkerConfig,
        name: str | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.config = config
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        policy = notify.notify_policy()
        every = {**policy.jobs, **(config.intervals or {})}
        self.every = {job: timedelta(seconds=float(every.get(job, 60))) for job in JOBS}
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self._runners: dict[str, Callable[[Session], str]] = {
            "sweep": self._sweep,
            "deliver": self._deliver,
            "bulletin": self._bulletin,
            "public_alerts": self._public_alerts,
            "exchange": self._exchange,
        }

    # ------------------------------------------------------------------ the jobs

    def _sweep(self, session: Session) -> str:
        from duban.jobs.sweep import sweep_overdue

        return str(sweep_overdue(session, clock=self.clock))

    def _deliver(self, session: Session) -> str:
        total = notify.DeliveryReport()
        while True:  # until the due messages are done (a batch at a time)
            report = notify.deliver_due(
                session,
                senders=self.config.senders,
                clock=self.clock,
                base_url=self.config.base_url,
                secret=self.config.secret,
            )
            total.sent += report.sent
            total.failed += report.failed
            total.dead += report.dead
            for code, n in report.errors.items():
                total.errors[code] = total.errors.get(code, 0) + n
            if not (report.sent + report.failed + report.dead) or self.stopping.is_set():
                return str(total)

    def _bulletin(self, session: Session) -> str:
        from duban.jobs.bulletin import monthly_bulletin

        return str(
            monthly_bulletin(
                session, clock=self.clock, store=self.config.store, font=self.config.font
            )
        )

    def _public_alerts(self, session: Session) -> str:
        from duban.jobs.alerts import public_alerts

        if not self.config.secret:  # the unsubscribe links are signed with it
            return "public alerts: off (no secret key to sign the links)"
        return str(
            public_alerts(
                session,
                clock=self.clock,
                secret=self.config.secret,
                base_url=self.config.base_url,
            )
        )

    def _exchange(self, session: Session) -> str:
        from duban.exchange import run_exchange

        if self.config.store is None:  # the cases' photos travel through it
            return "exchange: off (no photo store)"
        return run_exchange(session, clock=self.clock, store=self.config.store).summary()

    # ------------------------------------------------------------------ running

    def run_job(self, job: str, *, force: bool = False) -> str | None:
        """Run ``job`` if it is due and free (or, ``force``, if only free); its summary,
        None if it did not run. Errors are recorded, logged and not raised."""
        with self.session_factory() as session:
            now = self.clock.now()
            if force:
                with writing(session):  # due now, whatever its timetable said
                    row = session.get(JobSchedule, job)
                    if row is not None:
                        row.next_run_at = min(row.next_run_at, now)
            every = self.every[job]
            if not claim_job(session, job=job, worker=self.name, now=now, every=every, lease=LEASE):
                return None
            run_id = start_run(session, job=job, worker=self.name, now=now)
            ok, summary = True, ""
            try:
                summary = self._runners[job](session)
            except Exception as err:  # recorded for the admin; the worker goes on
                session.rollback()
                log.exception("job %s failed", job)
                ok, summary = False, f"{type(err).__name__}: {err}"
            finish_run(session, run_id=run_id, now=self.clock.now(), ok=ok, summary=summary)
            release_job(session, job=job, worker=self.name)
            return summary

    def run_due(self) -> dict[str, str]:
        """One round: every job that is due; what each that ran did."""
        done = {}
        for job in self.config.jobs:
            if self.stopping.is_set():
                break
            summary = self.run_job(job)
            if summary is not None:
                done[job] = summary
        return done

    def run_forever(self) -> None:
        """Run rounds until :meth:`stop`; between rounds wait for new messages or the
        shortest interval, whichever comes first."""
        pause = min(td.total_seconds() for td in self.every.values())
        log.info("worker %s started (sweep every %s)", self.name, self.every["sweep"])
        while not self.stopping.is_set():
            try:
                self.run_due()
            except Exception:  # the database away for a moment: try again next round
                log.exception("worker round failed")
            if notify.wait_for_work(pause):
                self.run_job("deliver", force=True)
        log.info("worker %s stopped", self.name)

    def stop(self) -> None:
        """Ask the loop to end after the job it is running."""
        self.stopping.set()
        notify.wake()

    def start_thread(self) -> threading.Thread:
        """Run :meth:`run_forever` in a daemon thread (the server's in-process worker)."""
        self.thread = threading.Thread(target=self.run_forever, name="duban-worker", daemon=True)
        self.thread.start()
        return self.thread


def worker_for(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    clock: Clock,
    secret: str | None,
    store: PhotoStore | None = None,
) -> Worker:
    """A worker wired from the settings: its senders, links and job intervals."""
    from duban.adapters.senders import senders_for

    intervals: dict[str, float] = {}
    if settings.sweep_interval:
        intervals["sweep"] = settings.sweep_interval
    if settings.deliver_interval:
        intervals["deliver"] = settings.deliver_interval
    return Worker(
        session_factory,
        clock=clock,
        config=WorkerConfig(
            senders=senders_for(settings),
            base_url=settings.public_url,
            secret=secret,
            store=store,
            font=settings.cjk_font,
            intervals=intervals,
        ),
    )
