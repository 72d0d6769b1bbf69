"""Benchmark: ``duban audit verify`` throughput (events per second).

    python bench/audit.py [--cases 20000] [--events 6] [--backend sqlite|postgresql|both]
                          [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench]

Builds a fresh database (SQLite in a temporary directory; PostgreSQL: the database named
in ``--pg-url``, dropped and recreated), migrated with the reference data, then writes
``--cases`` cases of ``--events`` signed events each through the application's own event
builder (:func:`duban.cases.audit.event_row`: HMAC-SHA256 links and the case seal) in
bulk. Then times :func:`verify_chain` over all of it (every link, head and seal), and the
same with a checkpoint taken first (what ``verify --checkpoint`` adds), and prints
events/s and cases/s. The key is a fixed bench key (``DUBAN_AUDIT_KEY``), never a file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

os.environ["DUBAN_AUDIT_KEY"] = "bench:duban-bench-audit-key-0123456789"

try:
    from duban.cases import audit
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from duban.cases import audit

from _city import drop_database, fresh_database  # type: ignore[import-not-found]
from sqlalchemy import Table, insert, select

from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import CaseStatus, Source
from duban.kernel.context import Actor
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.reference.categories import install_defaults
from duban.reference.models import Category

START = datetime(2026, 6, 1, tzinfo=UTC)
#: A plausible history: the statuses a case passes through, one per event.
PATH = [
    (None, CaseStatus.REPORTED, "report"),
    (CaseStatus.REPORTED, CaseStatus.REPORTED, "assign"),
    (CaseStatus.REPORTED, CaseStatus.VERIFIED, "verify"),
    (CaseStatus.VERIFIED, CaseStatus.FILED, "file"),
    (CaseStatus.FILED, CaseStatus.DISPATCHED, "dispatch"),
    (CaseStatus.DISPATCHED, CaseStatus.HANDLING, "accept"),
]


def _fill(url: str, cases: int, per_case: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        install_defaults(session, now=START)
        category = session.scalars(
            select(Category.code).where(Category.level == 2).order_by(Category.code).limit(1)
        ).one()
        session.commit()
    actor = Actor(user_id=None, username="bench", role=Role.OPERATOR)
    keys = audit.audit_keys()
    case_table = cast(Table, Case.__table__)
    event_table = cast(Table, CaseEvent.__table__)
    steps = (PATH * ((per_case // len(PATH)) + 1))[:per_case]
    chunk = 2000
    for lo in range(1, cases + 1, chunk):
        case_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        for case_id in range(lo, min(lo + chunk, cases + 1)):
            at = START + timedelta(minutes=case_id)
            row: dict[str, Any] = {
                "id": case_id,
                "code": f"20260601{case_id:06d}",
                "version": per_case,
                "source": Source.HOTLINE,
                "status": steps[-1][1],
                "kind": "event",
                "category_code": category,
                "lat": 34.03 + case_id * 1e-6,
                "lon": 113.82,
                "address": "许昌市魏都区",
                "description": f"占道经营 第{case_id}号",
                "reporter_phone": "13800000000",
                "rework_count": 0,
                "is_supervised": False,
                "paused_seconds": 0.0,
                "created_at": at,
                "updated_at": at,
            }
            prev = audit.GENESIS
            for seq, (before, after, action) in enumerate(steps, start=1):
                event = audit.event_row(
                    case_id=case_id,
                    seq=seq,
                    prev_hash=prev,
                    action=action,
                    from_status=before.value if before else None,
                    to_status=after.value,
                    actor=actor,
                    at=at + timedelta(minutes=seq),
                    note="",
                    payload={"n": seq},
                    case=row,
                    keys=keys,
                )
                event_rows.append(event)
                prev = event["hash"]
            row.update(event_count=per_case, last_event_hash=prev)
            case_rows.append(row)
        with engine.begin() as conn:
            conn.execute(insert(case_table), case_rows)
            conn.execute(insert(event_table), event_rows)
    engine.dispose()


def _line(label: str, what: str, report: audit.AuditReport, elapsed: float, cpu: float) -> None:
    print(
        f"{label}: {what:<20} {report.events_checked / elapsed:9,.0f} events/s"
        f" {report.cases_checked / elapsed:8,.0f} cases/s  ({elapsed:.2f} s wall,"
        f" {report.events_checked / cpu:9,.0f} events per CPU-second in this process)"
    )


def _run(label: str, url: str, cases: int, per_case: int, repeat: int) -> None:
    began = time.perf_counter()
    _fill(url, cases, per_case)
    print(
        f"{label}: {cases} cases × {per_case} events written in {time.perf_counter() - began:.1f} s"
    )
    engine = make_engine(url)
    factory = make_session_factory(engine)
    for _ in range(repeat):
        with factory() as session:
            began, cpu = time.perf_counter(), time.process_time()
            report = audit.verify_chain(session)
            elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert report.ok, report.first_break
        _line(label, "verify", report, elapsed, cpu)
    with factory() as session:
        _, point = audit.take_checkpoint(session, now=datetime.now(UTC))
    assert point is not None
    for _ in range(repeat):
        with factory() as session:
            began, cpu = time.perf_counter(), time.process_time()
            report = audit.verify_chain(session, checkpoint=point)
            elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert report.ok, report.first_break
        _line(label, "verify --checkpoint", report, elapsed, cpu)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=6, help="events per case")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench"
    )
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            _run("sqlite", f"sqlite:///{tmp}/bench.db", args.cases, args.events, args.repeat)
    if args.backend in ("postgresql", "both"):
        fresh_database(args.pg_url)
        try:
            _run("postgresql", args.pg_url, args.cases, args.events, args.repeat)
        finally:
            drop_database(args.pg_url)


if __name__ == "__main__":
    main()
