#!/usr/bin/env python
"""Public view benchmark: server time of the public pages with many cases in the database.

    python bench/public.py [--backend sqlite|postgresql|both] [--cases 100000]
                           [--requests 100] [--json results.json]

Prepares the database as ``bench/web.py`` does (the demo city, then ``--cases`` cases
bulk-inserted over a year at random demo grids, ``ANALYZE``), starts ``duban serve`` and
requests, anonymously, one at a time after a warm-up:

- ``GET /public?region=<street>`` — a street's list, newest first (first page), and
  ``GET /public?region=<street>&after=<cursor>`` — its fifth page (keyset);
- ``GET /public?lat=…&lon=…`` — near a random point (1000 m), with a category filter
  every other time;
- ``GET /public/cases.json`` — the map: a street-sized box zoomed in (points), and the
  whole city zoomed out (counts per cell);
- ``GET /public/feed.atom?region=<street>`` — a street's feed (50 entries);
- ``GET /public/<案卷号>`` — a random report's page.

It prints the median and p95 of the server's own time (``Server-Timing``) and of the
round trip. Everything talks to 127.0.0.1 only. With ``--sqlite-url`` / ``--pg-url``
(or ``BENCH_PUBLIC_URL``) a city is kept: filled by bench/_city.py the first time,
measured as it is after.
"""

from __future__ import annotations

import os
import random
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _city  # type: ignore[import-not-found]
import httpx
from sqlalchemy import select, text

import web  # type: ignore[import-not-found]
from duban.kernel.db.session import make_engine

PG_DATABASE = "duban_bench_public"


def _streets_and_codes(url: str) -> tuple[list[str], list[str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        streets = [
            str(c)
            for (c,) in conn.execute(
                text(
                    "SELECT street_code FROM cases WHERE street_code IS NOT NULL "
                    "GROUP BY street_code ORDER BY count(*) DESC LIMIT 20"
                )
            )
        ]
        codes = [
            str(c)
            for (c,) in conn.execute(
                select(text("code"))
                .select_from(text("cases"))
                # Public reports only: a hidden one's page is a 404.
                .where(
                    text(
                        "status NOT IN ('voided', 'rejected') AND duplicate_of_id IS NULL"
                        " AND category_code NOT LIKE 'E0101%'"
                    )
                )
                .order_by(text("id DESC"))
                .limit(5000)
            )
        ]
    engine.dispose()
    return streets, codes


def run(backend: str, count: int, requests: int, url: str | None) -> dict[str, Any]:
    rng = random.Random(17)
    with _city.prepared(backend, count, url or os.environ.get("BENCH_PUBLIC_URL"), PG_DATABASE) as (
        url,
        var_dir,
        loaded,
    ):
        streets, codes = _streets_and_codes(url)
        with web.server(url, var_dir) as base, httpx.Client(base_url=base, timeout=60) as client:
            cursors: dict[str, str] = {}
            for street in streets:
                url_ = f"/public?region={street}"
                for _ in range(4):
                    found = re.search(r'after=([0-9-]+)"', client.get(url_).text)
                    if not found:
                        break
                    url_ = f"/public?region={street}&after={found.group(1)}"
                cursors[street] = url_

            def near(i: int) -> str:
                lat, lon = rng.uniform(34.00, 34.05), rng.uniform(113.80, 113.85)
                return f"/public?lat={lat:.5f}&lon={lon:.5f}" + ("&category=E01" if i % 2 else "")

            def box(i: int) -> str:
                lat, lon = rng.uniform(34.00, 34.05), rng.uniform(113.80, 113.85)
                return (
                    f"/public/cases.json?zoom=16&bbox={lon - 0.004:.5f},{lat - 0.003:.5f},"
                    f"{lon + 0.004:.5f},{lat + 0.003:.5f}"
                )

            results = [
                web.measure(
                    client,
                    "GET /public?region (page 1)",
                    lambda i: f"/public?region={rng.choice(streets)}",
                    requests,
                ),
                web.measure(
                    client,
                    "GET /public?region (page 5)",
                    lambda i: cursors[rng.choice(streets)],
                    requests,
                ),
                web.measure(client, "GET /public?lat&lon (near)", near, requests),
                web.measure(client, "GET /public/cases.json (street)", box, requests),
                web.measure(
                    client,
                    "GET /public/cases.json (city)",
                    lambda i: "/public/cases.json?zoom=11&bbox=113.5,33.8,114.2,34.3",
                    max(20, requests // 5),
                    warmup=2,
                ),
                web.measure(
                    client,
                    "GET /public/feed.atom?region",
                    lambda i: f"/public/feed.atom?region={rng.choice(streets)}",
                    requests,
                ),
                web.measure(
                    client,
                    "GET /public/{code}",
                    lambda i: f"/public/{rng.choice(codes)}",
                    requests,
                ),
            ]
    return {"backend": backend, **loaded, "timings": [asdict(t) for t in results]}


def main() -> None:
    web.cli(run, __doc__ or "", requests=100)


if __name__ == "__main__":
    main()
