"""The scheduled monthly bulletin: on or after the 1st of a month (in the city's zone),
make and archive the bulletin of the month before, once. Idempotent: run it daily from
cron or a timer; runs after the first (or at the same time) make nothing again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from duban.evaluation import JOB_OBJECTS, last_month, make_job_bulletin
from duban.kernel.context import Clock
from duban.kernel.ports import PhotoStore


@dataclass
class BulletinReport:
    """What one run of the bulletin job did."""

    period: str
    made: list[tuple[str, int]] = field(default_factory=list)  # (object, archive id)
    existing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        made = ", ".join(f"{obj} #{i}" for obj, i in self.made) or "none"
        text = f"bulletin {self.period}: made {made}"
        if self.existing:
            text += f"; already archived: {', '.join(self.existing)}"
        return text


def monthly_bulletin(
    session: Session,
    *,
    clock: Clock,
    store: PhotoStore | None = None,
    font: Path | None = None,
    objects: tuple[str, ...] = JOB_OBJECTS,
) -> BulletinReport:
    """Make last month's bulletin of each kind in ``objects`` unless the job made it."""
    report = BulletinReport(period=last_month(session, clock.now()))
    session.rollback()
    for obj in objects:
        made = make_job_bulletin(
            session, clock=clock, period=report.period, obj=obj, font=font, store=store
        )
        if made is None:
            report.existing.append(obj)
        else:
            report.made.append((obj, made))
    return report
