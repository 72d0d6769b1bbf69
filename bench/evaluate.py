"""Benchmark: every evaluation indicator for every object, with scores and ranks.

    python bench/evaluate.py [--cases 1000000] [--backend sqlite|postgresql|both]
                             [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_eval]
                             [--repeat 3]

Builds a fresh database (SQLite in a temporary directory; PostgreSQL: the database named
in ``--pg-url``, dropped and recreated), migrated with the reference data, then writes a
month (November 2026, Asia/Shanghai) of ``--cases`` cases and nine events each with
set-based ``INSERT … SELECT`` statements (a generated series; no Python loop over rows):
report, assign, verify, file, dispatch, accept (every 50th: parked), feedback, check
(every 10th failed), close (every 6th late; every 13th: marked overdue instead). Steps run
late now and then (``step_late``), every 10th case is a collector's patrol report, every
5th a citizen's. 10,000 grids in 2,000 communities, 100 streets and 10 districts; 20
units; 100 collectors, 20 operators, 10 shift leads and 10 dispatchers. The event rows
are not signed (their hashes are placeholders): this measures reading, not the chain.

Then times, ``--repeat`` times (the best is printed):

- **duban**: :func:`duban.evaluation.service.evaluate_all` — every indicator of
  ``data/evaluation.yaml`` for every district, street, community, grid, unit, collector,
  operator, shift lead and dispatcher, plus the national scheme's scores, grades and
  ranks; 漏报 (each collector's beat covers 100 grids) is also timed on its own;
- **hand**: one hand-written ``GROUP BY`` over the same rows (the month's events joined
  to their cases, per street: closed and closed-on-time counts);

and prints both and the ratio duban / hand.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

try:
    import duban  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _city import fresh_database  # type: ignore[import-not-found]
from sqlalchemy import Engine, select, text

from duban.cases import rebuild_facts
from duban.evaluation import rebuild_summary
from duban.evaluation.missed import missed_counts
from duban.evaluation.service import Period, evaluate_all, schemes
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.reference.categories import install_defaults
from duban.reference.models import Category

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, tzinfo=SHANGHAI)
END = datetime(2026, 12, 1, tzinfo=SHANGHAI)
MONTH_SECONDS = 30 * 24 * 3600
#: user ids: collectors 1000.., operators 2000.., shift leads 3000.., dispatchers 4000..
STAFF = {"collector": (1000, 100), "operator": (2000, 20), "shift_lead": (3000, 10),
         "dispatcher": (4000, 10)}  # fmt: skip

#: (seq, action, from_status, to_status, actor role, payload) — SQL expressions of ``n``
#: (the case number) where they vary.
EVENTS = [
    (1, "'report'", "NULL", "'reported'", "operator", "'{}'"),
    (2, "'assign'", "'reported'", "'reported'", "operator",
     "CASE WHEN n % 17 = 0 THEN '{\"step_late\":true}' ELSE '{}' END"),
    (3, "'verify'", "'reported'", "'verified'", "collector",
     "CASE WHEN n % 7 = 0 THEN '{\"step_late\":true}' ELSE '{}' END"),
    (4, "'file'", "'verified'", "'filed'", "shift_lead",
     "CASE WHEN n % 19 = 0 THEN '{\"step_late\":true}' ELSE '{}' END"),
    (5, "'dispatch'", "'filed'", "'dispatched'", "dispatcher",
     "CASE WHEN n % 11 = 0 THEN '{\"step_late\":true}' ELSE '{}' END"),
    (6, "CASE WHEN n % 50 = 0 THEN 'approve_park' ELSE 'accept' END", "'dispatched'",
     "CASE WHEN n % 50 = 0 THEN 'parked' ELSE 'handling' END", "dispatcher", "'{}'"),
    (7, "'feedback'", "'handling'", "'awaiting_check'", "handler", "'{}'"),
    (8, "'check'", "'awaiting_check'",
     "CASE WHEN n % 10 = 0 THEN 'handling' ELSE 'checked' END", "collector",
     "CASE WHEN n % 10 = 0 THEN '{\"passed\":false}' ELSE '{\"passed\":true}' END"),
    (9, "CASE WHEN n % 13 = 0 THEN 'supervise' ELSE 'close' END", "'checked'",
     "CASE WHEN n % 13 = 0 THEN 'checked' ELSE 'closed' END", "shift_lead",
     "CASE WHEN n % 13 = 0 THEN '{\"overdue\":true}' "
     "WHEN n % 6 = 0 THEN '{\"on_time\":false}' ELSE '{\"on_time\":true}' END"),
]  # fmt: skip


def _series(dialect: str, n: int) -> str:
    if dialect == "postgresql":
        return f"SELECT generate_series(1, {n}) AS n"
    return (
        f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) "
        "SELECT n FROM s"
    )


def _at(dialect: str, seconds: str) -> str:
    """START (UTC) plus ``seconds``, as each store keeps a UTC time."""
    if dialect == "postgresql":
        return f"(TIMESTAMPTZ '2026-10-31 16:00:00+00' + ({seconds}) * INTERVAL '1 second')"
    return f"(datetime('2026-10-31 16:00:00', '+' || ({seconds}) || ' seconds') || '.000000')"


def _actor(role: str) -> str:
    if role == "handler":
        return "NULL"
    base, count = STAFF[role]
    return f"({base} + n % {count})"


def fill(engine: Engine, cases: int) -> None:
    dialect = engine.dialect.name
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        install_defaults(session, now=datetime(2026, 1, 1, tzinfo=UTC))
        category = session.scalars(
            select(Category.code).where(Category.level == 2).order_by(Category.code).limit(1)
        ).one()
        session.commit()
    true = "TRUE" if dialect == "postgresql" else "1"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO units (id, code, name, kind, is_active) "
                f"SELECT n, 'U' || n, '单位' || n, 'department', {true} "
                f"FROM ({_series(dialect, 20)}) s"
            )
        )
        for role, (base, count) in STAFF.items():
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, role, "
                    "is_active, created_at, token_epoch) "
                    f"SELECT {base} + n - 1, '{role}' || n, '{role}' || n, 'x', '{role}', {true}, "
                    f"{_at(dialect, '0')}, 0 FROM ({_series(dialect, count)}) s"
                )
            )
        # each collector's beat covers 100 grids (漏报 joins the cases' grids with them)
        conn.execute(
            text(
                "INSERT INTO collector_beat_grids (user_id, grid_code) "
                f"SELECT {STAFF['collector'][0]} + (n - 1) / 100, 'G' || (n - 1) "
                f"FROM ({_series(dialect, 10000)}) s"
            )
        )
        t0 = time.perf_counter()
        grid = "(n % 10000)"
        conn.execute(
            text(
                "INSERT INTO cases (id, code, version, source, status, kind, category_code, lat, "
                "lon, address, description, grid_code, community_code, street_code, "
                "district_code, unit_id, created_by_id, rework_count, is_supervised, "
                "paused_seconds, created_at, updated_at, event_count, last_event_hash) "
                "SELECT n, 'B' || n, 9, "
                "CASE WHEN n % 10 = 0 THEN 'patrol' WHEN n % 5 = 0 THEN 'citizen' "
                "ELSE 'hotline' END, 'closed', 'event', :category, 34.0, 113.8, '', '', "
                f"'G' || {grid}, 'C' || ({grid} / 5), 'S' || ({grid} / 100), "
                f"'D' || ({grid} / 1000), 1 + n % 20, "
                f"CASE WHEN n % 10 = 0 THEN {_actor('collector')} ELSE {_actor('operator')} END, "
                f"0, {'FALSE' if dialect == 'postgresql' else '0'}, 0, "
                f"{_at(dialect, f'n % {MONTH_SECONDS - 7200}')}, "
                f"{_at(dialect, f'n % {MONTH_SECONDS - 7200}')}, 9, '' "
                f"FROM ({_series(dialect, cases)}) s"
            ),
            {"category": category},
        )
        print(f"  cases: {cases:,} in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        for seq, action, before, after, role, payload in EVENTS:
            conn.execute(
                text(
                    "INSERT INTO case_events (case_id, seq, action, from_status, to_status, "
                    "actor_id, actor_role, occurred_at, note, payload, prev_hash, hash) "
                    f"SELECT n, {seq}, {action}, {before}, {after}, {_actor(role)}, '{role}', "
                    f"{_at(dialect, f'n % {MONTH_SECONDS - 7200} + {seq * 600}')}, '', "
                    # (a colon in text() starts a bind parameter unless escaped)
                    f"{payload.replace(':', chr(92) + ':')}, '', '' "
                    f"FROM ({_series(dialect, cases)}) s"
                )
            )
        print(f"  events: {cases * len(EVENTS):,} in {time.perf_counter() - t0:.1f} s", flush=True)
    # The generated events bypass the event writer: their facts are rebuilt set-based
    # (what the migration's backfill does), as the writer would have kept them.
    t0 = time.perf_counter()
    with factory() as session:
        rebuild_facts(session)
        session.commit()
    print(f"  case facts rebuilt in {time.perf_counter() - t0:.1f} s", flush=True)
    # ... and so is the evaluation summary over them (the migration's backfill).
    t0 = time.perf_counter()
    with factory() as session:
        rebuild_summary(session)
        session.commit()
    print(f"  evaluation summary rebuilt in {time.perf_counter() - t0:.1f} s", flush=True)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


HAND = (
    "SELECT c.street_code, "
    "SUM(CASE WHEN e.action = 'close' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN e.action = 'close' AND e.payload LIKE '%\"on_time\"\\:true%' THEN 1 ELSE 0 END) "
    "FROM case_events e JOIN cases c ON c.id = e.case_id "
    "WHERE e.occurred_at >= :a AND e.occurred_at < :b GROUP BY c.street_code"
)


#: The same counts per street over the rows duban reads (case_facts; bits of
#: data/case_facts.yaml: closed 65536, closed_late 131072).
HAND_FACTS = (
    "SELECT c.street_code, "
    "SUM(CASE WHEN (f.flags & 65536) <> 0 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN (f.flags & 65536) <> 0 AND (f.flags & 131072) = 0 THEN 1 ELSE 0 END) "
    "FROM case_facts f JOIN cases c ON c.id = f.case_id "
    "WHERE f.month = 202611 AND f.actor_role = '' AND f.actor_id = 0 GROUP BY c.street_code"
)


def measure(engine: Engine, repeat: int) -> dict[str, tuple[float, float]]:
    """name → the best (wall, this process's CPU) seconds of ``repeat`` runs. Under load
    the CPU time is the steadier figure; on SQLite it includes the store's work, on
    PostgreSQL not the server's."""
    factory = make_session_factory(engine)
    period = Period(START.astimezone(UTC), END.astimezone(UTC), SHANGHAI)
    scheme = schemes()["national"]
    best: dict[str, tuple[float, float]] = {}

    def keep(name: str, wall: float, cpu: float) -> None:
        was = best.get(name, (float("inf"), float("inf")))
        best[name] = (min(was[0], wall), min(was[1], cpu))

    for _ in range(repeat):
        with factory() as session:
            t0, c0 = time.perf_counter(), time.process_time()
            result = evaluate_all(session, period, scheme)
            keep("duban", time.perf_counter() - t0, time.process_time() - c0)
            best["objects"] = (sum(len(rows) for rows in result.values()), 0)
            t0, c0 = time.perf_counter(), time.process_time()
            missed = missed_counts(session, period.start, period.end, SHANGHAI)
            keep("missed", time.perf_counter() - t0, time.process_time() - c0)
            best["missed cases"] = (sum(missed.values()), 0)
            assert all(r.rank is not None for r in result["street"])
        with engine.connect() as conn:
            t0, c0 = time.perf_counter(), time.process_time()
            streets = conn.execute(text(HAND), {"a": period.start, "b": period.end}).all()
            keep("hand", time.perf_counter() - t0, time.process_time() - c0)
            assert len(streets) == 100, len(streets)
            t0, c0 = time.perf_counter(), time.process_time()
            from_facts = conn.execute(text(HAND_FACTS)).all()
            keep("facts", time.perf_counter() - t0, time.process_time() - c0)
            assert len(from_facts) == 100, len(from_facts)
    return best


def run(backend: str, url: str, cases: int, repeat: int, *, measure_only: bool = False) -> None:
    print(f"{backend}: {cases:,} cases", flush=True)
    if measure_only:
        engine = make_engine(url)
    else:
        fresh_database(url)
    if not measure_only:
        engine = make_engine(url)
        fill(engine, cases)
    load = os.getloadavg()
    best = measure(engine, repeat)
    (duban_s, duban_c), (hand_s, hand_c), (facts_s, facts_c) = (
        best["duban"],
        best["hand"],
        best["facts"],
    )
    print(
        f"  load average before / after measuring: {load[0]:.1f} / {os.getloadavg()[0]:.1f}\n"
        f"  (wall s; this process's CPU s)\n"
        f"  duban (all indicators, {int(best['objects'][0]):,} objects, scores, ranks):"
        f" {duban_s:.3f}; {duban_c:.3f}\n"
        f"  of which 漏报 ({int(best['missed cases'][0]):,} missed cases, 100 collectors):"
        f" {best['missed'][0]:.3f}; {best['missed'][1]:.3f}\n"
        f"  hand-written GROUP BY over the events (per street):     {hand_s:.3f}; {hand_c:.3f}\n"
        f"  hand-written GROUP BY over case_facts (per street):     {facts_s:.3f}; {facts_c:.3f}\n"
        f"  ratio to events: {duban_s / hand_s:.2f} (CPU {duban_c / hand_c:.2f});"
        f" to case_facts: {duban_s / facts_s:.2f} (CPU {duban_c / facts_c:.2f})",
        flush=True,
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_eval"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--sqlite-file", help="keep the SQLite database in this file (default: a temporary one)"
    )
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="time an existing database (--sqlite-file, --pg-url) without rebuilding it",
    )
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        if args.sqlite_file:
            if not args.measure_only:
                Path(args.sqlite_file).unlink(missing_ok=True)
            run("sqlite", f"sqlite:///{args.sqlite_file}", args.cases, args.repeat,
                measure_only=args.measure_only)  # fmt: skip
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run("sqlite", f"sqlite:///{tmp}/bench.db", args.cases, args.repeat)
    if args.backend in ("postgresql", "both"):
        run("postgresql", args.pg_url, args.cases, args.repeat, measure_only=args.measure_only)


if __name__ == "__main__":
    main()
