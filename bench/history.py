"""Benchmark: ``duban import history`` of 10,000 rows, in rows per second.

    python bench/history.py [--rows 10000] [--backend sqlite|postgresql|both] [--platforms]
                            [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_history]

On a fresh database with the demo city (reference data, places, one user per role), writes
a CSV of whole lifecycles (report → assign → verify → file → dispatch → accept → feedback
→ assign → check → close → callback: 11 rows a case, a case a working hour over 2025;
with ``--platforms`` the city runs two levels of dispatch (a street of the demo is a
platform with a unit and a dispatcher of its own) and every second case is sent down to
it (下派, the street's dispatch: 12 rows), every fourth sent back up once first (退回上级
and 下派 again: 14 rows)),
then times (a) reading the file and (b) replaying it through the use cases, and checks
that every case went in and the audit chain verifies (not timed). A second import of the
same file (every case skipped) is timed too. Beside the wall time, the CPU time of this
process (the figure to compare on a shared machine; on PostgreSQL the server's share is
not in it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

try:
    import duban  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from duban.accounts.users import create_unit, create_user
from duban.adapters.photostore import LocalPhotoStore
from duban.cases.audit import verify_chain
from duban.cases.history import import_history, read_history, write_history_csv
from duban.demo.install import CENTRE_LAT, CENTRE_LON, install_demo
from duban.kernel.context import SystemClock
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.places.index import locate
from duban.reference.categories import install_defaults
from duban.reference.policy import save_policy, shipped_policy_data

COLUMNS = (
    "case", "at", "action", "user", "source", "category_code", "lon", "lat",
    "description", "collector", "unit", "platform", "reason", "passed", "score",
)  # fmt: skip
START = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
STEPS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("assign", "operator", {"collector": "collector"}),
    ("verify", "collector", {}),
    ("file", "shift_lead", {}),
    ("dispatch", "dispatcher", {"unit": "HWC"}),
    ("accept", "handler2", {}),
    ("feedback", "handler2", {}),
    ("assign", "operator", {"collector": "collector"}),
    ("check", "collector", {"passed": "true"}),
    ("close", "shift_lead", {}),
    ("callback", "operator", {"score": "5"}),
)


PLATFORM_UNIT = "JD-BENCH"
#: 二级派遣: what replaces ``dispatch``/``accept`` for a case sent down to the platform
#: (``platform`` is filled in), with 退回上级 and 下派 again in front for every second one.
DOWN = (
    ("dispatch_to_platform", "dispatcher", {}),
    ("dispatch", "platform_dispatcher", {"unit": PLATFORM_UNIT}),
    ("accept", "platform_handler", {}),
    ("feedback", "platform_handler", {}),
)
BACK_UP = (
    ("dispatch_to_platform", "dispatcher", {}),
    ("platform_return", "platform_dispatcher", {"reason": "不属本街道"}),
)


def _steps(case: int, platform: str | None) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    if platform is None or case % 2:
        return STEPS
    down = tuple((a, u, {**f, "platform": platform}) for a, u, f in DOWN)
    if case % 4 == 0:
        down = tuple((a, u, {**f, "platform": platform}) for a, u, f in BACK_UP) + down
    return STEPS[:3] + down + STEPS[6:]


def history_rows(n: int, platform: str | None = None) -> list[dict[str, Any]]:
    """About ``n`` rows: whole lifecycles of 11 rows (12 or 14 through ``platform``),
    one case starting each hour."""
    rows: list[dict[str, Any]] = []
    case = 0
    while len(rows) < n:
        at = START + timedelta(hours=case)
        ref = f"OLD-{case:06d}"
        down = platform is not None and case % 2 == 0  # at the centre: in the street
        rows.append(
            {
                "case": ref, "at": at.isoformat(), "action": "report", "user": "operator",
                "source": "hotline", "category_code": "E0102",
                "lon": CENTRE_LON + (0 if down else (case % 7 - 3) * 0.001),
                "lat": CENTRE_LAT + (0 if down else (case % 5 - 2) * 0.001),
                "description": f"旧系统案件 {ref}：小区门口暴露垃圾",
            }
        )  # fmt: skip
        for k, (action, user, fields) in enumerate(_steps(case, platform), start=1):
            rows.append(
                {"case": ref, "at": (at + timedelta(minutes=5 * k)).isoformat(),
                 "action": action, "user": user, **fields}
            )  # fmt: skip
        case += 1
    return rows


def _two_levels(session: Any) -> str:
    """The centre's street as a platform (policy, a unit, a dispatcher and a handler of
    its own); its code."""
    street = locate(session, CENTRE_LON, CENTRE_LAT).street
    assert street is not None
    clock = SystemClock()
    create_unit(session, code=PLATFORM_UNIT, name="街道城管中队", region_code=street.code)
    for username, role, unit in (
        ("platform_dispatcher", Role.DISPATCHER, None),
        ("platform_handler", Role.HANDLER, PLATFORM_UNIT),
    ):
        create_user(
            session, clock=clock, username=username, password="bench-password", role=role,
            unit_code=unit, region_code=None if unit else street.code,
        )  # fmt: skip
    data = shipped_policy_data()
    data["dispatch"] = {"levels": 2, "platforms": [street.code]}
    save_policy(session, data, now=START)
    session.commit()
    return street.code


def _run(label: str, url: str, n: int, tmp: Path, platforms: bool) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        install_defaults(session, now=START)
        session.commit()
        install_demo(session, password="bench-password", store=LocalPhotoStore(tmp / "photos"))
        platform = _two_levels(session) if platforms else None
    rows = history_rows(n, platform)
    path = tmp / "history.csv"
    path.write_text(write_history_csv(rows, COLUMNS), encoding="utf-8")

    began = time.perf_counter()
    parsed = read_history(path)
    read_s = time.perf_counter() - began
    with factory() as session:
        began, cpu = time.perf_counter(), time.process_time()
        report = import_history(session, rows=parsed)
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert not report.refused, report.refused[:3]
        assert report.events == len(rows), report
        audit = verify_chain(session)
        assert audit.ok, audit.first_break
        began = time.perf_counter()
        again = import_history(session, rows=parsed)
        rerun = time.perf_counter() - began
        assert again.already == report.imported
        assert again.imported == 0
    kind = " (two levels of dispatch)" if platforms else ""
    print(f"{label}{kind}: {len(rows)} rows, {report.imported} cases")
    print(f"  (a) read the CSV                 {read_s:7.2f} s")
    print(f"  (b) replay through the use cases {took:7.2f} s   {len(rows) / took:7.0f} rows/s")
    print(f"      of which this process's CPU  {cpu:7.2f} s   {len(rows) / cpu:7.0f} rows/CPU-s")
    print(f"  (c) the same file again (skips)  {rerun:7.2f} s")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_history"
    )
    parser.add_argument(
        "--platforms", action="store_true", help="two levels of dispatch: 下派 every 2nd case"
    )
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            _run("sqlite", f"sqlite:///{tmp}/bench.db", args.rows, Path(tmp), args.platforms)
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
            with tempfile.TemporaryDirectory() as tmp:
                _run("postgresql", args.pg_url, args.rows, Path(tmp), args.platforms)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
