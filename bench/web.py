#!/usr/bin/env python
"""Web benchmark: server time of the busiest pages with many cases in the database.

    python bench/web.py [--backend sqlite|postgresql|both] [--cases 100000]
                        [--requests 200] [--json results.json]
                        [--sqlite-url sqlite:///…/city.db] [--pg-url postgresql+psycopg://…]

For each backend it

1. prepares a benchmark city (``bench/_city.py``, shared with bench/map.py and
   bench/public.py): the demo city (``duban demo --no-serve``: reference data, ~6,000
   unit grids, one user per role, a few cases with real photos and timelines) in a fresh
   database (SQLite: a file under a temporary directory; PostgreSQL: ``duban_bench_web``
   on 127.0.0.1), then ``--cases`` more cases filled set-based (``INSERT … SELECT`` over
   a generated series, no HTTP, no use cases): a year of reports, those older than two
   weeks nearly all closed and the recent ones along the loop, sources, categories,
   units, deadlines and step timers, each at a random point of a random demo grid with
   its grid/community/street/district codes and a varied Chinese description, each with
   its ``report`` event; then the map counts rebuilt and ``(VACUUM) ANALYZE``. With
   ``--sqlite-url`` / ``--pg-url`` the database is kept, and reused as it is next time;
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
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _city  # type: ignore[import-not-found]
import _server  # type: ignore[import-not-found]
import httpx

from duban.cases.workflow import OPEN

#: Another name (``DUBAN_BENCH_PG_DATABASE``) lets two runs share the server.
PG_DATABASE = os.environ.get("DUBAN_BENCH_PG_DATABASE", "duban_bench_web")
DEMO_PASSWORD = "duban-demo"


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
    with _server.server(_city.duban_env(url, var_dir), 1, var_dir / "server.log") as (base, _pid):
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
    timing = Timing(
        endpoint=name,
        requests=n,
        server_p50=round(statistics.median(server_ms), 1),
        server_p95=round(p95(server_ms), 1),
        roundtrip_p50=round(statistics.median(wall_ms), 1),
        roundtrip_p95=round(p95(wall_ms), 1),
    )
    # As each line is done: a run at a million cases takes a while.
    print(f"  {name}: server {timing.server_p50} / {timing.server_p95} ms", flush=True)
    return timing


#: The case list as people use it: the default order, a filter, a sort, searches.
CASE_LISTS = {
    "GET /cases (newest first)": "/cases",
    "GET /cases (open, category E01)": "/cases?open=1&category=E01",
    "GET /cases?sort=due (open)": "/cases?open=1&sort=due",
    "GET /cases?q= (1 case in 20)": "/cases?q=井盖破损",
    "GET /cases?q= (address, few)": "/cases?q=建安大道12号",
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


def _cycle(urls: list[str]) -> Callable[[int], str]:
    """The i-th request's URL: ``urls`` in turn."""
    return lambda i: urls[i % len(urls)]


def measure_case_list(client: httpx.Client, requests: int) -> list[Timing]:
    """The case list's lines: each of :data:`CASE_LISTS`, then pages 2–21 as the pager
    links them (newest first, and sorted by time left)."""
    timings = [measure(client, name, _cycle([url]), requests) for name, url in CASE_LISTS.items()]
    for name, first in [
        ("GET /cases pages 2-21 (Next link)", "/cases"),
        ("GET /cases?sort=due pages 2-21", "/cases?open=1&sort=due"),
    ]:
        pages = next_links(client, first, 20) or [first]
        timings.append(measure(client, name, _cycle(pages), requests))
    return timings


def run(backend: str, count: int, requests: int, url: str | None) -> dict[str, Any]:
    rng = random.Random(11)
    with _city.prepared(backend, count, url, PG_DATABASE) as (url, var_dir, loaded):
        ids = _city.case_ids(url)
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


def cli(
    run: Callable[[str, int, int, str | None], dict[str, Any]], doc: str, requests: int
) -> None:
    """The command line of a page benchmark (this one's, bench/map.py's and
    bench/public.py's): run ``run(backend, cases, requests, url)`` on each store and print
    the server and round-trip percentiles per endpoint. ``--sqlite-url`` / ``--pg-url``
    name a database to keep: filled on the first run, reused as it is on the next."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sqlite-url", help="a SQLite city to fill once and reuse")
    parser.add_argument("--pg-url", help="a PostgreSQL city to fill once and reuse")
    args = parser.parse_args()
    urls = {"sqlite": args.sqlite_url, "postgresql": args.pg_url}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "runs": [],
    }
    for backend in backends:
        result = run(backend, args.cases, args.requests, urls[backend])
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
