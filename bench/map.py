#!/usr/bin/env python
"""Map benchmark: server time of the staff one map (一张图) with many cases.

    python bench/map.py [--backend sqlite|postgresql|both] [--cases 1000000]
                        [--requests 200] [--json results.json]

The map lines of ``bench/web.py`` alone, on a database prepared as it prepares one (the
demo city, then ``--cases`` cases bulk-inserted over a year, the map counts recounted,
``(VACUUM) ANALYZE``), so that a million cases need not also run the work queues and case
pages.
Signed in as ``dispatcher``, one request at a time after a warm-up:

- ``GET /map/data.json`` (one map) — as the page asks (open cases): half zoomed out over
  the whole city, half a street-sized box zoomed in; a quarter with a category, a
  quarter overdue only;
- ``GET /map/data.json`` (all, zoomed out) — every case, zoomed out;
- ``GET /map/data.json`` (open, zoomed out) — the open cases, zoomed out;
- ``GET /map/data.json`` (street, open) — a street-sized box zoomed in (points), alone,
  with a category and overdue only;
- the last two again with every source named (``&source=…`` for each of them: the same
  cases, a filter the map counts do not hold), so they are grouped over the cases — the
  one path before the map counts, the baseline of the table at the same size.

Baseline: the grouped scan over the cases above (and ``bench/web.py``'s map lines before
the map counts, BENCHMARKS.md "Web").
With ``--sqlite-url`` / ``--pg-url`` (or ``BENCH_MAP_URL``) a city is kept: filled by
bench/_city.py the first time, measured as it is after.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _city  # type: ignore[import-not-found]
import httpx

import web  # type: ignore[import-not-found]
from duban.cases.workflow import OPEN, Source

PG_DATABASE = "duban_bench_map"


def run(backend: str, count: int, requests: int, url: str | None) -> dict[str, Any]:
    rng = random.Random(11)
    with (
        _city.prepared(backend, count, url or os.environ.get("BENCH_MAP_URL"), PG_DATABASE) as (
            url,
            var_dir,
            loaded,
        ),
        web.server(url, var_dir) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        web.sign_in(client, "dispatcher")
        open_statuses = "".join(f"&status={st.value}" for st in sorted(OPEN))

        def map_url(i: int) -> str:
            if i % 2 == 0:
                url = "/map/data.json?zoom=12" + open_statuses
            else:
                lon, lat = rng.uniform(113.80, 113.85), rng.uniform(34.00, 34.05)
                url = (
                    f"/map/data.json?zoom=16&bbox={lon - 0.004:.5f},{lat - 0.003:.5f},"
                    f"{lon + 0.004:.5f},{lat + 0.003:.5f}" + open_statuses
                )
            if i % 4 == 1:
                url += "&category=E01"
            elif i % 4 == 2:
                url += "&overdue=1"
            return url

        def street_url(extra: str) -> Any:
            def url(i: int) -> str:
                lon, lat = rng.uniform(113.80, 113.85), rng.uniform(34.00, 34.05)
                return (
                    f"/map/data.json?zoom=16&bbox={lon - 0.004:.5f},{lat - 0.003:.5f},"
                    f"{lon + 0.004:.5f},{lat + 0.003:.5f}" + open_statuses + extra
                )

            return url

        few = max(20, requests // 10)
        every_source = "".join(f"&source={s.value}" for s in Source)
        results = [
            web.measure(client, "GET /map/data.json (one map)", map_url, requests),
            web.measure(
                client,
                "GET /map/data.json (all, zoomed out)",
                lambda i: "/map/data.json?zoom=12",
                few,
                warmup=2,
            ),
            web.measure(
                client,
                "GET /map/data.json (open, zoomed out)",
                lambda i: "/map/data.json?zoom=12" + open_statuses,
                few,
                warmup=2,
            ),
            web.measure(client, "GET /map/data.json (street, open)", street_url(""), few),
            web.measure(client, "  street, open, a category", street_url("&category=E01"), few),
            web.measure(client, "  street, open, overdue", street_url("&overdue=1"), few),
            web.measure(
                client,
                "  same, grouped scan (all)",
                lambda i: "/map/data.json?zoom=12" + every_source,
                few,
                warmup=2,
            ),
            web.measure(
                client,
                "  same, grouped scan (open)",
                lambda i: "/map/data.json?zoom=12" + open_statuses + every_source,
                few,
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


def main() -> None:
    web.cli(run, __doc__ or "", requests=200)


if __name__ == "__main__":
    main()
