#!/usr/bin/env python
"""Web benchmark: server time of the busiest pages with 100,000 cases in the database.

    python bench/web.py [--backend sqlite|postgresql|both] [--cases 100000]
                        [--requests 200] [--json results.json]

For each backend it

1. prepares a fresh database (SQLite: a file under a temporary directory; PostgreSQL: the
   ``duban_bench_web`` database on 127.0.0.1, dropped and recreated) and runs
   ``duban demo --no-serve`` (reference data, the generated demo city with its ~6,000
   unit grids, one user per role, a few cases with real photos and timelines);
2. bulk-inserts ``--cases`` more cases with plain SQL (SQLAlchemy Core ``executemany``,
   no HTTP, no use cases): a realistic spread of statuses (a third closed, the rest
   along the loop), sources, categories, units, deadlines and step timers, each at a
   random point of a random demo grid with its grid/community/street/district codes,
   created over the last year (those older than two weeks nearly all closed, the recent
   ones along the loop), each with its ``report`` event; then ``ANALYZE`` (PostgreSQL:
   ``VACUUM ANALYZE``);
3. starts the real server (``duban serve``, one worker) on a free port of 127.0.0.1,
   signs in through the web form as ``dispatcher``, and requests, one at a time after a
   warm-up, ``--requests`` times each:
   - ``GET /work`` — the dispatcher's queues (to dispatch, approvals, parked), each
     sorted by its timer, with counts and a step light per row;
   - ``GET /cases/{id}`` — the case page of a random case (facts, clocks, places with
     names, photos, timeline, the viewer's action forms);
   - ``GET /map/data.json`` — the one map's data: half the requests for the whole city
     zoomed out (counts per cell over every case), half for a random street-sized box
     zoomed in (points), a quarter of each with a category and a quarter with the
     overdue filter — all on open cases, as the page asks by default;
   - and, fewer times, the worst case: every case of the year, zoomed out.

It prints the median and p95 of the server's own time (its ``Server-Timing`` header:
request in → response start) and of the round trip seen by the client. Everything talks
to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _server  # type: ignore[import-not-found]
import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from duban.accounts.models import Unit
from duban.cases.mapcounts import rebuild_map_counts
from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import OPEN, STEP_OF_STATUS, CaseStatus, Source
from duban.kernel.db.session import make_engine
from duban.places.models import Region
from duban.reference.models import Category, FilingCondition

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: Another name (``DUBAN_BENCH_PG_DATABASE``) lets two runs share the server.
PG_DATABASE = os.environ.get("DUBAN_BENCH_PG_DATABASE", "duban_bench_web")
DEMO_PASSWORD = "duban-demo"
CHUNK = 5000

#: status → share of the cases of the last two weeks (the loop in flight).
RECENT_MIX: dict[CaseStatus, float] = {
    CaseStatus.REPORTED: 0.08,
    CaseStatus.VERIFIED: 0.04,
    CaseStatus.FILED: 0.05,
    CaseStatus.DISPATCHED: 0.10,
    CaseStatus.HANDLING: 0.20,
    CaseStatus.RETURNED: 0.01,
    CaseStatus.PARKED: 0.01,
    CaseStatus.AWAITING_CHECK: 0.06,
    CaseStatus.CHECKED: 0.02,
    CaseStatus.CLOSED: 0.38,
    CaseStatus.REJECTED: 0.03,
    CaseStatus.VOIDED: 0.02,
}
#: status → share of older cases: nearly all closed, a few stuck, parked or overdue.
OLD_MIX: dict[CaseStatus, float] = {
    CaseStatus.CLOSED: 0.91,
    CaseStatus.REJECTED: 0.03,
    CaseStatus.VOIDED: 0.02,
    CaseStatus.HANDLING: 0.02,
    CaseStatus.PARKED: 0.01,
    CaseStatus.DISPATCHED: 0.005,
    CaseStatus.AWAITING_CHECK: 0.005,
}
#: Cases cover a year; those of the last RECENT_DAYS are still mostly in flight.
HISTORY_DAYS = 365
RECENT_DAYS = 14
SOURCE_MIX: dict[Source, float] = {
    Source.PATROL: 0.55,
    Source.CITIZEN: 0.2,
    Source.HOTLINE: 0.15,
    Source.INSPECTION: 0.05,
    Source.SUPERVISION: 0.03,
    Source.SENSOR: 0.02,
}
WITH_UNIT = {
    CaseStatus.DISPATCHED,
    CaseStatus.HANDLING,
    CaseStatus.PARKED,
    CaseStatus.AWAITING_CHECK,
    CaseStatus.CHECKED,
    CaseStatus.CLOSED,
}
DESCRIPTIONS = [
    "井盖破损，行人有踩空危险",
    "堆放生活垃圾两天无人清理",
    "占道经营，桌椅摆到人行道上",
    "路灯不亮已有三天",
    "行道树倒伏压住非机动车道",
    "电线杆上张贴大量小广告",
    "共享单车乱停放堵塞盲道",
    "施工围挡倒塌未恢复",
]


# --------------------------------------------------------------------------- databases


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL for ``backend``; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="duban-bench-web-") as tmp:
            yield f"sqlite:///{tmp}/duban.db"
        return
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        admin.dispose()


def duban_env(url: str, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DUBAN_DATABASE_URL=url,
        DUBAN_VAR_DIR=str(var_dir),
        DUBAN_SECRET_KEY="bench-web-secret-of-at-least-32-chars",
    )
    return env


#: The ``duban`` command installed next to this Python.
DUBAN = str(Path(sys.executable).parent / "duban")


def weighted(mix: dict[Any, float], rng: random.Random, n: int) -> list[Any]:
    keys = list(mix)
    return rng.choices(keys, weights=[mix[k] for k in keys], k=n)


def bulk_insert(url: str, count: int, seed: int = 7) -> dict[str, Any]:
    """``count`` cases with their report events, written with plain SQL in chunks."""
    rng = random.Random(seed)
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        grids = conn.execute(
            select(
                Region.code, Region.min_lon, Region.min_lat, Region.max_lon, Region.max_lat
            ).where(Region.level == "grid", Region.valid_to.is_(None))
        ).all()
        subclasses = conn.execute(
            select(Category.code, Category.kind).where(Category.level == 2, Category.is_active)
        ).all()
        conditions = dict(
            conn.execute(
                select(FilingCondition.category_code, FilingCondition.code).where(
                    FilingCondition.is_active
                )
            ).all()
        )
        units = [u for (u,) in conn.execute(select(Unit.id).where(Unit.is_active))]
        first_id = int(conn.execute(select(Case.id).order_by(Case.id.desc())).scalar() or 0)
    if not grids:
        raise SystemExit("the demo city has no grids; is the places module installed?")
    now = datetime.now(UTC)
    ages = [rng.uniform(0, HISTORY_DAYS * 86400) for _ in range(count)]
    recent = weighted(RECENT_MIX, rng, count)
    old = weighted(OLD_MIX, rng, count)
    statuses = [recent[i] if ages[i] < RECENT_DAYS * 86400 else old[i] for i in range(count)]
    sources = weighted(SOURCE_MIX, rng, count)
    case_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []

    def flush(conn: Any) -> None:
        if case_rows:
            conn.execute(insert(Case.__table__), case_rows)
            conn.execute(insert(CaseEvent.__table__), event_rows)
            case_rows.clear()
            event_rows.clear()

    with engine.begin() as conn:
        for i in range(count):
            case_id = first_id + 1 + i
            status = statuses[i]
            code, x0, y0, x1, y1 = rng.choice(grids)
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            category, kind = rng.choice(subclasses)
            created = now - timedelta(seconds=ages[i])
            dispatched = created + timedelta(hours=rng.uniform(0.5, 6))
            with_unit = status in WITH_UNIT
            due = dispatched + timedelta(hours=rng.choice([2, 4, 24, 48, 120]))
            handled = (
                dispatched + timedelta(hours=rng.uniform(1, 72))
                if status in (CaseStatus.AWAITING_CHECK, CaseStatus.CHECKED, CaseStatus.CLOSED)
                else None
            )
            step = STEP_OF_STATUS.get(status)
            step_started = max(created, now - timedelta(hours=rng.uniform(0, 12)))
            case_rows.append(
                {
                    "id": case_id,
                    "code": f"B{case_id:010d}",
                    "version": 1,
                    "source": sources[i].value,
                    "status": status.value,
                    "kind": kind,
                    "category_code": category,
                    "condition_code": conditions.get(category),
                    "lat": lat,
                    "lon": lon,
                    "address": f"测试路 {rng.randint(1, 999)} 号",
                    "description": rng.choice(DESCRIPTIONS),
                    "grid_code": code,
                    "community_code": code[:12],
                    "street_code": code[:9],
                    "district_code": code[:6],
                    "unit_id": rng.choice(units) if with_unit else None,
                    "rework_count": 1 if rng.random() < 0.08 else 0,
                    "is_supervised": rng.random() < 0.03,
                    "limit_amount": 4.0 if with_unit else None,
                    "limit_unit": "work_hours" if with_unit else None,
                    "clock_started_at": dispatched if with_unit else None,
                    "due_at": due if with_unit else None,
                    "dispatched_at": dispatched if with_unit else None,
                    "handled_at": handled,
                    "closed_at": handled + timedelta(hours=3)
                    if handled and status == CaseStatus.CLOSED
                    else None,
                    "parked_at": now - timedelta(days=1) if status == CaseStatus.PARKED else None,
                    "paused_seconds": 0.0,
                    "step": step,
                    "step_started_at": step_started if step else None,
                    "step_due_at": step_started + timedelta(hours=rng.choice([1, 2, 4]))
                    if step
                    else None,
                    "pending_extension_until": due + timedelta(days=2)
                    if status == CaseStatus.HANDLING and rng.random() < 0.02
                    else None,
                    "created_at": created,
                    "updated_at": created,
                    "event_count": 1,
                    "last_event_hash": "0" * 64,
                }
            )
            event_rows.append(
                {
                    "case_id": case_id,
                    "seq": 1,
                    "action": "report",
                    "from_status": None,
                    "to_status": "reported",
                    "actor_id": None,
                    "actor_role": "collector",
                    "occurred_at": created,
                    "note": "",
                    "payload": "{}",
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
            )
            if len(case_rows) >= CHUNK:
                flush(conn)
        flush(conn)
        if url.startswith("postgresql"):
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('cases', 'id'), max(id)) FROM cases")
            )
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('case_events', 'id'), max(id)) "
                    "FROM case_events"
                )
            )
    insert_s = time.perf_counter() - started
    with Session(engine) as session:  # the map counts, as the migration backfills them
        rebuild_map_counts(session)
        session.commit()
    # PostgreSQL: VACUUM too, as autovacuum soon does after a load, so the visibility
    # map lets the covering indexes answer from the index alone (index-only scans).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE"))
    with engine.connect() as conn:
        total = int(conn.execute(select(text("count(*)")).select_from(Case.__table__)).scalar_one())
        ids = [int(i) for (i,) in conn.execute(select(Case.id))]
    engine.dispose()
    return {"insert_seconds": round(insert_s, 1), "cases": total, "ids": ids}


# --------------------------------------------------------------------------- server


@contextlib.contextmanager
def server(url: str, var_dir: Path) -> Iterator[str]:
    """``duban serve`` (one worker, no in-process worker: its sweep would change the
    measured cases) on ``url``, its log in ``var_dir/server.log``.

    The shared starter of ``bench/_server.py``: it writes the server's output to a file
    and waits up to ``STARTUP_SECONDS``. This one used to pipe stderr without reading it
    and, when /healthz did not answer within 60 s (a loaded machine, a big database),
    read that pipe to its end — which never comes while the server runs: the benchmark
    hung with an idle server and no output."""
    with _server.server(duban_env(url, var_dir), 1, var_dir / "server.log") as (base, _pid):
        yield base


def sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": DEMO_PASSWORD},
    )
    assert response.status_code == 303, f"sign-in failed: {response.status_code}"
    assert not response.headers["location"].startswith("/login"), "sign-in failed"


@dataclass
class Timing:
    """Medians and 95th percentiles of one endpoint, in milliseconds."""

    endpoint: str
    requests: int
    server_p50: float
    server_p95: float
    roundtrip_p50: float
    roundtrip_p95: float


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(
    client: httpx.Client, name: str, make_url: Callable[[int], str], n: int, warmup: int = 10
) -> Timing:
    server_ms: list[float] = []
    wall_ms: list[float] = []
    for i in range(-warmup, n):
        url = make_url(i)
        t0 = time.perf_counter()
        response = client.get(url)
        took = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
        if i < 0:
            continue
        header = response.headers.get("server-timing", "")
        found = re.search(r"dur=([\d.]+)", header)
        server_ms.append(float(found.group(1)) if found else took)
        wall_ms.append(took)
    return Timing(
        endpoint=name,
        requests=n,
        server_p50=round(statistics.median(server_ms), 1),
        server_p95=round(p95(server_ms), 1),
        roundtrip_p50=round(statistics.median(wall_ms), 1),
        roundtrip_p95=round(p95(wall_ms), 1),
    )


#: The case list as people use it: the default order, a filter, a sort, searches.
CASE_LISTS = {
    "GET /cases (newest first)": "/cases",
    "GET /cases (open, category E01)": "/cases?open=1&category=E01",
    "GET /cases?sort=due (open)": "/cases?open=1&sort=due",
    "GET /cases?q= (1 case in 8)": "/cases?q=井盖破损",
    "GET /cases?q= (address, few)": "/cases?q=测试路 123 号",
    "GET /cases?q= (案卷号)": "/cases?q=B0000500000",
}


def next_links(client: httpx.Client, url: str, pages: int) -> list[str]:
    """The URLs of the next ``pages`` pages after ``url``, following the "Next" link."""
    found: list[str] = []
    while len(found) < pages:
        link = re.search(r'<a rel="next" href="([^"]+)"', client.get(url).text)
        if not link:
            break
        url = "/cases" + link.group(1).replace("&amp;", "&")
        found.append(url)
    return found


def measure_case_list(client: httpx.Client, requests: int) -> list[Timing]:
    """The case list's lines: each of :data:`CASE_LISTS`, then pages 2–21 as the pager
    links them (newest first, and sorted by time left)."""
    timings = [
        measure(client, name, lambda i, u=url: u, requests) for name, url in CASE_LISTS.items()
    ]
    for name, first in [
        ("GET /cases pages 2-21 (Next link)", "/cases"),
        ("GET /cases?sort=due pages 2-21", "/cases?open=1&sort=due"),
    ]:
        pages = next_links(client, first, 20) or [first]
        timings.append(measure(client, name, lambda i, p=pages: p[i % len(p)], requests))
    return timings


def run(backend: str, count: int, requests: int) -> dict[str, Any]:
    rng = random.Random(11)
    with database(backend) as url, tempfile.TemporaryDirectory(prefix="duban-bench-var-") as var:
        var_dir = Path(var)
        print(f"[{backend}] preparing the demo city …", flush=True)
        subprocess.run(
            [DUBAN, "demo", "--no-serve"],
            env=duban_env(url, var_dir),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"[{backend}] inserting {count:,} cases …", flush=True)
        loaded = bulk_insert(url, count)
        ids: list[int] = loaded.pop("ids")
        print(f"[{backend}] {loaded['cases']:,} cases ({loaded['insert_seconds']} s)", flush=True)
        with server(url, var_dir) as base, httpx.Client(base_url=base, timeout=60) as client:
            sign_in(client, "dispatcher")
            boxes = [(113.80, 34.00, 113.85, 34.05)]

            open_statuses = "".join(f"&status={st.value}" for st in sorted(OPEN))

            def map_url(i: int) -> str:
                # As the page asks: open cases unless statuses are ticked.
                if i % 2 == 0:
                    url = "/map/data.json?zoom=12" + open_statuses
                else:
                    lon = rng.uniform(boxes[0][0], boxes[0][2])
                    lat = rng.uniform(boxes[0][1], boxes[0][3])
                    url = (
                        f"/map/data.json?zoom=16&bbox={lon - 0.004:.5f},{lat - 0.003:.5f},"
                        f"{lon + 0.004:.5f},{lat + 0.003:.5f}" + open_statuses
                    )
                if i % 4 == 1:
                    url += "&category=E01"
                elif i % 4 == 2:
                    url += "&overdue=1"
                return url

            results = [
                measure(client, "GET /work (dispatcher queues)", lambda i: "/work", requests),
                measure(
                    client,
                    "GET /cases/{id} (case page)",
                    lambda i: f"/cases/{rng.choice(ids)}",
                    requests,
                ),
                *measure_case_list(client, requests),
                measure(client, "GET /map/data.json (one map)", map_url, requests),
                measure(
                    client,
                    "GET /map/data.json (all, zoomed out)",
                    lambda i: "/map/data.json?zoom=12",
                    max(20, requests // 10),
                    warmup=2,
                ),
            ]
            sample = client.get("/map/data.json?zoom=12").json()
    return {
        "backend": backend,
        **loaded,
        "map_cells_zoomed_out": len(sample.get("cells", [])),
        "timings": [asdict(t) for t in results],
    }


def cli(run: Callable[[str, int, int], dict[str, Any]], doc: str, requests: int) -> None:
    """The command line of a page benchmark (this one's and bench/public.py's): run
    ``run(backend, cases, requests)`` on each store and print the server and round-trip
    percentiles per endpoint."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "runs": [],
    }
    for backend in backends:
        result = run(backend, args.cases, args.requests)
        out["runs"].append(result)
        print(f"\n{backend}: {result['cases']:,} cases")
        print(f"  {'endpoint':<34} {'server p50':>10} {'p95':>8} {'round trip p50':>15} {'p95':>8}")
        for t in result["timings"]:
            print(
                f"  {t['endpoint']:<34} {t['server_p50']:>8} ms {t['server_p95']:>5} ms"
                f" {t['roundtrip_p50']:>12} ms {t['roundtrip_p95']:>5} ms"
            )
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2))


def main() -> None:
    cli(run, __doc__ or "", requests=200)


if __name__ == "__main__":
    main()
