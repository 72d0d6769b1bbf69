#!/usr/bin/env python
"""Intake CPU: process CPU and SQL statements per report on the one write path, in-process.

    python bench/intake_cpu.py [--backend sqlite|postgresql|both] [-n 2000]
                               [--baseline-src /work/wt/intakecpu_old/src]
                               [--profile 25] [--json results.json]

A loaded machine makes wall time useless, so this measures what a report costs the
server's process: for each backend and each code tree (this one and, if given, the
baseline's ``src``, e.g. a ``git worktree`` of commit 1d8cfcd), a child Python with that
tree first on ``PYTHONPATH``

1. prepares a fresh database (SQLite: a file in a temporary directory; PostgreSQL: the
   ``duban_bench_cpu`` database, dropped and recreated), ``duban init`` and
   ``duban demo --no-serve``;
2. files ``-n`` reports, one session and one transaction each, through the use case the
   API's ``POST /cases`` calls (``active_actor``, then ``duban.cases.intake.report``),
   as ``operator`` (hotline, 70 %), ``citizen`` (20 %) and ``collector`` (patrol, 10 %),
   with the bodies of ``bench/intake.py`` (same seed), after 50 unrecorded;
3. measures ``time.process_time()`` over them (this process's CPU: Python, SQLAlchemy,
   the driver; not the database server's) and counts the statements run on the DB-API
   connection's cursors, SQLAlchemy's and the batch writes' alike (an executemany
   counts once);
4. with ``--profile K`` prints cProfile's top K functions by cumulative time.

It prints µs of CPU and statements per report, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _server import duban_command
from intake import (
    DEMO_PASSWORD,
    make_bodies,
    prepare_database,
)

PG_DATABASE = "duban_bench_cpu"
WARMUP = 50
SUBCLASSES_PICKED = 20


# --------------------------------------------------------------------------- child


def _child(args: argparse.Namespace) -> None:
    """Run in the measured tree: file the reports and print one JSON line."""
    import cProfile
    import pstats
    import time
    from datetime import UTC, datetime

    from sqlalchemy import event, select

    from duban.accounts.users import active_actor
    from duban.cases.intake import NewCase, report
    from duban.cases.workflow import Source
    from duban.kernel.db.session import REQUEST_MEMO, make_engine, make_session_factory

    engine = make_engine(os.environ["DUBAN_DATABASE_URL"])
    factory = make_session_factory(engine)
    statements = [0]

    class Counting:
        """A DB-API cursor that counts the statements run on it (executemany: once)."""

        def __init__(self, cursor: Any) -> None:
            self._c = cursor

        def execute(self, *a: Any, **k: Any) -> Any:
            statements[0] += 1
            return self._c.execute(*a, **k)

        def executemany(self, *a: Any, **k: Any) -> Any:
            statements[0] += 1
            return self._c.executemany(*a, **k)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._c, name)

        def __iter__(self) -> Any:
            return iter(self._c)

    @event.listens_for(engine, "connect")
    def _wrap(dbapi_connection: Any, _record: Any) -> None:
        # Every statement, SQLAlchemy's and those run on the DB-API cursor (the batch
        # writes), goes through a cursor of the connection's (Python) class.
        cls = type(dbapi_connection)
        if cls.__dict__.get("_bench_counted"):
            return
        make_cursor = cls.cursor

        def cursor(self: Any, *a: Any, **k: Any) -> Any:
            return Counting(make_cursor(self, *a, **k))

        cls.cursor = cursor
        cls._bench_counted = True

    from duban.accounts.models import User
    from duban.reference import live_taxonomy

    with factory() as session:
        ids = {
            u.username: u.id
            for u in session.scalars(
                select(User).where(User.username.in_(["operator", "citizen", "collector"]))
            )
        }
        taxonomy = live_taxonomy(session)
        subclasses: dict[str, list[str]] = {}
        for c in taxonomy.categories.values():
            if c.parent_code is not None:
                subclasses[c.code] = [x.code for x in c.conditions]
    codes = sorted(subclasses)
    rng = random.Random(args.seed)
    picked = {c: subclasses[c] for c in rng.sample(codes, min(SUBCLASSES_PICKED, len(codes)))}
    if "E0102" in subclasses:
        picked["E0102"] = subclasses["E0102"]
    bodies = make_bodies(rng, picked, args.n + WARMUP)

    class Now:
        def now(self) -> datetime:
            return datetime.now(UTC)

    clock = Now()

    def one(i: int) -> None:
        body = bodies[i]
        data = NewCase(
            source=Source(body.json["source"]),
            category_code=body.json["category_code"],
            condition_code=body.json.get("condition_code"),
            lat=body.json["lat"],
            lon=body.json["lon"],
            address=body.json["address"],
            description=body.json["description"],
            reporter_name=body.json.get("reporter_name"),
            reporter_phone=body.json.get("reporter_phone"),
        )
        with factory() as session:
            session.info[REQUEST_MEMO] = {}
            actor = active_actor(session, ids[body.who])
            assert actor is not None
            done = report(session, actor=actor, clock=clock, data=data, idempotency_key=f"k{i}")
            assert done.created

    for i in range(WARMUP):
        one(i)
    statements[0] = 0
    profile = cProfile.Profile() if args.profile else None
    start = time.process_time()
    if profile is not None:
        profile.enable()
    for i in range(WARMUP, WARMUP + args.n):
        one(i)
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - start
    if profile is not None:
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    print(
        json.dumps(
            {
                "cpu_us_per_case": cpu / args.n * 1e6,
                "statements_per_case": statements[0] / args.n,
            }
        )
    )


# --------------------------------------------------------------------------- parent


def run_tree(backend: str, src: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"duban-intakecpu-{backend}-"))
    url = prepare_database(backend, tmp, PG_DATABASE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update(
        DUBAN_DATABASE_URL=url,
        DUBAN_VAR_DIR=str(tmp / "var"),
        DUBAN_DEMO_PASSWORD=DEMO_PASSWORD,
        PYTHONPATH=src,
    )
    for step in (["init"], ["demo", "--no-serve"]):
        subprocess.run(
            [*duban_command(), *step], env=env, check=True, capture_output=True, timeout=300
        )
    cmd = [sys.executable, __file__, "--child", "-n", str(args.n), "--seed", str(args.seed)]
    if args.profile:
        cmd += ["--profile", str(args.profile)]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=1800)
    if args.profile:
        sys.stderr.write(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline-src", default="", help="the baseline tree's src directory")
    parser.add_argument("--baseline-name", default="1d8cfcd")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--json", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    here = str(Path(__file__).resolve().parent.parent / "src")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {"load": os.getloadavg(), "n": args.n}
    for backend in backends:
        trees = [("current", here)]
        if args.baseline_src:
            trees.insert(0, (args.baseline_name, args.baseline_src))
        got = {}
        for name, src in trees:
            got[name] = run_tree(backend, src, args)
            r = got[name]
            line = (
                f"[{backend}] {name:>10}: {r['cpu_us_per_case']:7.0f} µs CPU/case, "
                f"{r['statements_per_case']:5.2f} statements/case"
            )
            if args.baseline_src and name == "current":
                base = got[args.baseline_name]
                line += (
                    f"  (ratio to {args.baseline_name}: CPU "
                    f"{r['cpu_us_per_case'] / base['cpu_us_per_case']:.2f}, statements "
                    f"{r['statements_per_case'] / base['statements_per_case']:.2f})"
                )
            print(line, f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        out[backend] = got
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
