#!/usr/bin/env python
"""Open311 benchmark: requests per second through /open311/v2 beside the native API.

    python bench/open311.py [--backend sqlite|postgresql] [--cases 100000] [--seconds 6]
                            [--rounds 3] [--warmup 1] [--clients 8] [--workers 1]
                            [--json results.json]

It

1. prepares a fresh database (SQLite: a file under a temporary directory; PostgreSQL: the
   ``duban_bench_o311`` database on 127.0.0.1, dropped and recreated) with the schema and
   reference data, an operator and an Open311 API key, and files ``--cases`` cases
   (default 100,000) through the bulk importer in batches of 1,000 an hour apart, then
   ANALYZEs;
2. starts the real server (``duban serve``) on a free port of 127.0.0.1;
3. runs four timed phases, each with ``--clients`` threads (own keep-alive connection
   each), ``--warmup`` seconds unrecorded before each turn, ``--seconds`` recorded in all:

   * ``POST /open311/v2/requests.xml`` (form body with api_key, service_code, lat/long,
     address, description, an attribute) — and the same report through the native
     ``POST /api/v1/cases`` (JSON, bearer token of an operator, source citizen);
   * ``GET /open311/v2/requests.json?page=N&page_size=100`` — and the native
     ``GET /api/v1/cases?page=N&page_size=100``, N random in 1..20;

   the two sides of a pair take turns (``--rounds``, default 3) so that background load
   falls on both alike; every answer must be 200/201 with the expected body;
4. prints requests/s, p50/p99 latency and errors per phase, and Open311 ÷ native.

Everything talks to 127.0.0.1 only; the run stops by itself (SQLite: about two minutes,
most of it seeding; PostgreSQL: a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _server import HOST, server

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DATABASE = "duban_bench_o311"
PASSWORD = "bench-password-o311"
CENTRE_LAT, CENTRE_LON = 34.03, 113.82
STREETS = ["人民路", "七一路", "文峰路", "南关大街", "八一路", "北大街", "东大街", "许繁路"]
PROBLEMS = [
    "井盖破损，行人有踩空危险",
    "堆放生活垃圾两天无人清理",
    "路灯不亮已有三天",
    "电线杆上张贴大量小广告",
    "污水外溢，气味难闻",
    "共享单车乱停放堵塞盲道",
]


# --------------------------------------------------------------------------- timing


@dataclass
class Phase:
    """What one timed phase measured."""

    name: str
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, max(0, round(p / 100 * len(data)) - 1))]


def timed(
    name: str,
    clients: int,
    warmup: float,
    seconds: float,
    make_worker: Callable[[int], Callable[[], str | None]],
) -> Phase:
    """``clients`` threads call their worker in a loop; only the timed window counts."""
    phase = Phase(name, seconds=seconds)
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    stop = threading.Event()
    window = [float("inf"), float("inf")]

    def loop(i: int) -> None:
        work = make_worker(i)
        ready.wait()
        lat: list[float] = []
        ok = errors = 0
        samples: list[str] = []
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                err = work()
            except Exception as exc:  # a failed call is counted, never fatal
                err = repr(exc)
            t1 = time.perf_counter()
            if err is not None:
                errors += 1
                if len(samples) < 3:
                    samples.append(err)
            elif window[0] <= t1 <= window[1]:
                ok += 1
                lat.append((t1 - t0) * 1000)
        with lock:
            phase.ok += ok
            phase.errors += errors
            phase.latencies_ms.extend(lat)
            phase.error_samples.extend(samples[: max(0, 5 - len(phase.error_samples))])

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    window[0], window[1] = start + warmup, start + warmup + seconds
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    stop.set()
    for t in threads:
        t.join(timeout=30)
    return phase


# --------------------------------------------------------------------------- setup


def prepare_database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'duban.db'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    return f"postgresql+psycopg://postgres@{HOST}:5432/{PG_DATABASE}"


class StepClock:
    """A clock set by the seeder, so seeded cases spread over days."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def seed(url: str, cases: int, rng: random.Random) -> tuple[str, list[str]]:
    """Schema, reference data, an operator, an API key and ``cases`` cases.

    Returns the API key and the service codes used.
    """
    from sqlalchemy import select

    from duban.accounts.users import create_user
    from duban.kernel.context import Actor, SystemClock
    from duban.kernel.db.migrate import upgrade
    from duban.kernel.db.session import make_engine, make_session_factory
    from duban.kernel.roles import Role
    from duban.open311.apikeys import create_api_key
    from duban.open311.bulk_import import import_cases
    from duban.reference.categories import install_defaults
    from duban.reference.models import Category
    from duban.reference.policy import load_policy

    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = SystemClock()
    with factory() as session:
        install_defaults(session, now=clock.now())
        create_user(
            session, clock=clock, username="bench_operator", password=PASSWORD, role="operator"
        )
        key = create_api_key(session, name="bench", clock=clock).key
        codes = list(
            session.scalars(select(Category.code).where(Category.level == 2, Category.is_active))
        )
        tz = load_policy(session).tz
    importer = Actor(user_id=None, username="bench-seed", role=Role.ADMIN)
    batch = 1000
    now = datetime.now(UTC)
    started = time.perf_counter()
    for b in range(0, cases, batch):
        rows = [
            {
                "service_code": rng.choice(codes),
                "lat": f"{CENTRE_LAT + rng.uniform(-0.03, 0.03):.6f}",
                "long": f"{CENTRE_LON + rng.uniform(-0.03, 0.03):.6f}",
                "address": f"{rng.choice(STREETS)}{rng.randint(1, 300)}号",
                "description": rng.choice(PROBLEMS),
                "source": rng.choice(["hotline", "citizen", "inspection"]),
            }
            for _ in range(min(batch, cases - b))
        ]
        # Each batch an hour earlier than the one before: 100 batches ≈ 4 days of reports.
        at = StepClock(now - timedelta(minutes=60 * (cases - b) / batch))
        with factory() as session:
            report = import_cases(session, rows, actor=importer, clock=at, tz=tz)
            if not report.committed:
                raise SystemExit(f"seeding failed: {report.errors[:3]}")
        print(f"\r  seeded {b + len(rows):,} / {cases:,} cases", end="", flush=True)
    print(f"  ({time.perf_counter() - started:.1f} s)")
    # Planner statistics, as a database in service has them (autovacuum would get there
    # too, but not within the first seconds after a bulk load).
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return key, codes


def client(base: str) -> httpx.Client:
    return httpx.Client(
        base_url=base,
        trust_env=False,
        timeout=60,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


# --------------------------------------------------------------------------- phases


def run_phases(base: str, key: str, codes: list[str], args: argparse.Namespace) -> dict[str, Phase]:
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as c:
        r = c.post("/api/v1/auth/token", data={"username": "bench_operator", "password": PASSWORD})
        r.raise_for_status()
        bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def report(rng: random.Random) -> dict[str, Any]:
        return {
            "code": rng.choice(codes),
            "lat": round(CENTRE_LAT + rng.uniform(-0.03, 0.03), 6),
            "lon": round(CENTRE_LON + rng.uniform(-0.03, 0.03), 6),
            "address": f"{rng.choice(STREETS)}{rng.randint(1, 300)}号",
            "description": rng.choice(PROBLEMS) + "，请尽快处理。",
        }

    def open311_post(i: int) -> Callable[[], str | None]:
        http, rng = client(base), random.Random(i)

        def work() -> str | None:
            r = report(rng)
            resp = http.post(
                "/open311/v2/requests.xml",
                data={
                    "api_key": key,
                    "service_code": r["code"],
                    "lat": str(r["lat"]),
                    "long": str(r["lon"]),
                    "address_string": r["address"],
                    "description": r["description"],
                    "attribute[landmark]": "公交站台旁",
                },
            )
            if resp.status_code != 200 or b"<service_request_id>" not in resp.content:
                return f"HTTP {resp.status_code}: {resp.text[:200]}"
            return None

        return work

    def native_post(i: int) -> Callable[[], str | None]:
        http, rng = client(base), random.Random(i)

        def work() -> str | None:
            r = report(rng)
            resp = http.post(
                "/api/v1/cases",
                headers=bearer,
                json={
                    "source": "citizen",
                    "category_code": r["code"],
                    "lat": r["lat"],
                    "lon": r["lon"],
                    "address": r["address"],
                    "description": r["description"],
                },
            )
            if resp.status_code != 201:
                return f"HTTP {resp.status_code}: {resp.text[:200]}"
            return None

        return work

    def open311_get(i: int) -> Callable[[], str | None]:
        http, rng = client(base), random.Random(i)

        def work() -> str | None:
            resp = http.get(
                "/open311/v2/requests.json",
                params={"page": rng.randint(1, 20), "page_size": 100},
            )
            if resp.status_code != 200 or len(resp.json()) != 100:
                return f"HTTP {resp.status_code}: {resp.text[:200]}"
            return None

        return work

    def native_get(i: int) -> Callable[[], str | None]:
        http, rng = client(base), random.Random(i)

        def work() -> str | None:
            resp = http.get(
                "/api/v1/cases",
                headers=bearer,
                params={"page": rng.randint(1, 20), "page_size": 100},
            )
            if resp.status_code != 200 or len(resp.json()["items"]) != 100:
                return f"HTTP {resp.status_code}: {resp.text[:200]}"
            return None

        return work

    # The two sides of each pair take turns, ``--rounds`` times, so that a change in the
    # machine's background load falls on both alike; each side gets ``--seconds`` in all.
    workers = {
        "open311 GET requests.json": open311_get,
        "native GET /api/v1/cases": native_get,
        "open311 POST requests.xml": open311_post,
        "native POST /api/v1/cases": native_post,
    }
    phases = {name: Phase(name) for name in workers}
    slice_seconds = args.seconds / args.rounds
    for pair in (list(workers)[:2], list(workers)[2:]):
        for _ in range(args.rounds):
            for name in pair:
                part = timed(name, args.clients, args.warmup, slice_seconds, workers[name])
                total = phases[name]
                total.ok += part.ok
                total.errors += part.errors
                total.seconds += part.seconds
                total.latencies_ms.extend(part.latencies_ms)
                total.error_samples.extend(part.error_samples[: 5 - len(total.error_samples)])
    for name, p in phases.items():
        print(
            f"  {name:<28} {p.rate:8.1f} req/s  p50 {p.pct(50):7.1f} ms  "
            f"p99 {p.pct(99):7.1f} ms  errors {p.errors}"
        )
        for sample in p.error_samples:
            print(f"    error: {sample}")
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=6.0, help="recorded, per side")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="turns each side takes")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(
        f"Open311 bench: {args.backend}, {args.cases:,} cases, {args.clients} clients, "
        f"{args.workers} worker(s), {args.seconds:g} s per phase; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="duban-bench-o311-") as tmp_name:
        tmp = Path(tmp_name)
        url = prepare_database(args.backend, tmp)
        key, codes = seed(url, args.cases, rng)
        env = {
            **os.environ,
            "DUBAN_DATABASE_URL": url,
            "DUBAN_VAR_DIR": str(tmp / "var"),
            "DUBAN_SECRET_KEY": "bench-" + "k" * 40,
        }
        with server(env, args.workers, tmp / "server.log") as (base, _pid):
            phases = run_phases(base, key, codes, args)
    get_ratio = phases["open311 GET requests.json"].rate / max(
        1e-9, phases["native GET /api/v1/cases"].rate
    )
    post_ratio = phases["open311 POST requests.xml"].rate / max(
        1e-9, phases["native POST /api/v1/cases"].rate
    )
    print(f"  ratio Open311 / native: POST {post_ratio:.2f}, GET page of 100 {get_ratio:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "phases": {
                        k: {**asdict(v), "latencies_ms": None, "rate": v.rate}
                        for k, v in phases.items()
                    },
                    "ratio": {"post": post_ratio, "get": get_ratio},
                },
                indent=2,
            )
        )
    if any(p.errors for p in phases.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
