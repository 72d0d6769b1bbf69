"""Benchmark: import and progress of a 10,000-measure rectification ledger.

    python bench/ledger.py [--measures 10000] [--backend sqlite|postgresql|both]
                           [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_ledger]

Writes an .xlsx in the import template (10 measures an item, 5 items a problem, 4 problems
a category, 5 categories an aspect; parents written once, blank below), then times:

  (a) openpyxl alone reading the file (``read_only``, every row's values): the floor;
  (b) ``import_ledger``: the zip check, the read, parsing every cell, writing the tree
      and its event in one unit of work — and its ratio to (a);
  (c) ``progress`` of the ledger (overall, by unit, by leader);
  (d) ``export_workbook`` (the same template back).

Each figure is the median of ``--repeat`` runs (each import a new ledger in the same database).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

try:
    import duban  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from openpyxl import load_workbook

from duban.kernel.context import Actor
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.ledgers.exports import export_workbook
from duban.ledgers.imports import import_ledger
from duban.ledgers.queries import progress
from duban.ledgers.rules import LedgerStatus
from duban.ledgers.sheet import MeasureRow, template_rows
from duban.ledgers.workbook import write_sheet
from duban.reference.categories import install_defaults

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
LEADERS = ("刘局长", "王副局长", "张副局长", "李副局长", "赵组长")
UNITS = ("市政工程管理处", "环境卫生管理处", "园林绿化中心", "城管执法支队", "办公室", "")
STATUSES = (LedgerStatus.NOT_STARTED, LedgerStatus.IN_PROGRESS, LedgerStatus.DONE)


class _Clock:
    def now(self) -> datetime:
        return NOW


def measures(n: int) -> Iterator[MeasureRow]:
    """``n`` measures in the shape described above."""
    for i in range(n):
        yield MeasureRow(
            path=(
                f"方面{i // 1000 + 1}：作风建设与责任落实",
                f"类别{i // 200 + 1}：制度执行不到位",
                f"问题{i // 50 + 1}：工作台账不完善，督办落实不到位",
                f"具体表现{i // 10 + 1}：部分责任单位未按期报送整改进展，整改材料不齐全",
                f"措施{i + 1}：建立整改台账，明确责任人和完成时限，每周报送进展并附证明材料",
            ),
            leader=LEADERS[i % len(LEADERS)],
            lead_unit=UNITS[i % len(UNITS)],
            helper_units=("各区城管局",) if i % 4 == 0 else (),
            deadline=date(2026, 12, 31) if i % 9 else date(2026, 10, 31),
            status=STATUSES[i % len(STATUSES)],
        )


def _median(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def _openpyxl_alone(data: bytes) -> int:
    book = load_workbook(io.BytesIO(data), read_only=True)
    rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return rows


def _run(label: str, url: str, data: bytes, n: int, repeat: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        install_defaults(session, now=NOW)
        session.commit()
    actor = Actor(user_id=None, username="bench", role=Role.SUPERVISOR)
    alone, rows = _median(repeat, lambda: _openpyxl_alone(data))
    assert rows == n + 1

    def _import() -> int:
        with factory() as session:
            done = import_ledger(session, actor=actor, clock=_Clock(), title="bench", data=data)
            assert done.counts["measures"] == n, done.counts
            return done.ledger.id

    took, ledger_id = _median(repeat, _import)

    def _progress() -> dict[str, Any]:
        with factory() as session:
            return progress(session, actor=actor, clock=_Clock(), ledger_id=ledger_id)

    prog, figures = _median(repeat, _progress)
    assert figures["measures"] == n

    def _export() -> bytes:
        with factory() as session:
            return export_workbook(session, actor=actor, ledger_id=ledger_id)

    exp, out = _median(repeat, _export)
    print(f"{label}: {n} measures, file {len(data) / 1e6:.2f} MB, median of {repeat}")
    print(f"  (a) openpyxl alone (read_only, values)   {alone:7.2f} s")
    print(f"  (b) import_ledger                        {took:7.2f} s   {took / alone:5.2f}× (a)")
    print(f"  (c) progress (overall, unit, leader)     {prog * 1e3:7.1f} ms")
    print(f"  (d) export_workbook                      {exp:7.2f} s   ({len(out) / 1e6:.2f} MB)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--measures", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_ledger"
    )
    args = parser.parse_args()
    data = write_sheet(template_rows(measures(args.measures)))
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            _run("sqlite", f"sqlite:///{tmp}/bench.db", data, args.measures, args.repeat)
    if args.backend in ("postgresql", "both"):
        url = make_url(args.pg_url)
        admin = make_engine(
            url.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        try:
            _run("postgresql", args.pg_url, data, args.measures, args.repeat)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
