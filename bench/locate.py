"""Benchmark: which unit grid is a point in?

    python bench/locate.py [--grids 50000] [--points 1000000] [--seed 1]

Builds a synthetic city of unit grids (~100 m quadrilaterals around 许昌 whose corners are
jittered and shared, so neighbours share edges exactly as real grids do) and measures

  (a) single-point lookups: GridIndex.locate, against the naive loop over every polygon
      (bounding-box test, then polygon.covers) and against a shapely STRtree query;
  (b) bulk lookups: GridIndex.locate_many on --points random points, against the naive loop
      (timed on a subsample and extrapolated) and against a bulk STRtree query;
  (c) building the index: from shapely polygons, from (code, WKB) rows, and — with
      ``--db`` — (re)loading it from the database the way a server does when the grids
      change (`duban.places.index.build_places_index`: SELECT the current regions,
      decode the WKB, build the index), on SQLite and on PostgreSQL (database
      ``duban_bench_places`` on 127.0.0.1, dropped and recreated), plus the cost of the
      per-request check that the cached index is still current.

    python bench/locate.py --db sqlite,postgresql   # the default; --db none skips (c) in a DB

Every method's answers are checked against the others on a sample before timing is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

try:
    from duban.places.grid import GridIndex
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from duban.places.grid import GridIndex

from duban.places.coords import LocalProjection

ORIGIN = (113.80, 34.00)  # south-west corner of the synthetic city, WGS84
CELL_M = 100.0


def synthetic_grids(count: int, seed: int) -> list[tuple[str, Any]]:
    """About `count` jittered ~100 m grids in a square block, with 15-digit codes."""
    side = max(1, round(count**0.5))
    rng = np.random.default_rng(seed)
    projection = LocalProjection(*ORIGIN)
    ticks = CELL_M * np.arange(side + 1)
    gx, gy = np.meshgrid(ticks, ticks)
    # Moving each shared corner by up to 30 m keeps cells convex-ish but irregular.
    gx = gx + rng.uniform(-0.3, 0.3, gx.shape) * CELL_M
    gy = gy + rng.uniform(-0.3, 0.3, gy.shape) * CELL_M
    lon, lat = projection.inverse_xy(gx, gy)
    corners = np.stack([lon, lat], axis=-1)
    rings = np.stack(
        [corners[:-1, :-1], corners[:-1, 1:], corners[1:, 1:], corners[1:, :-1], corners[:-1, :-1]],
        axis=2,
    ).reshape(side * side, 5, 2)
    polygons = shapely.polygons(rings)
    # 411002 魏都区, then street / community / sequence digits that stay unique.
    codes = [f"411002{k // 999 + 1:06d}{k % 999 + 1:03d}" for k in range(side * side)]
    order = rng.permutation(side * side)  # the index must not rely on input order
    return [(codes[k], polygons[k]) for k in order]


def random_points(grids: list[tuple[str, Any]], n: int, seed: int) -> tuple[Any, Any]:
    """Uniform points over the grids' extent plus a 2 % margin (some fall outside)."""
    minx, miny, maxx, maxy = shapely.total_bounds([g for _, g in grids])
    mx, my = (maxx - minx) * 0.02, (maxy - miny) * 0.02
    rng = np.random.default_rng(seed + 1)
    return rng.uniform(minx - mx, maxx + mx, n), rng.uniform(miny - my, maxy + my, n)


def build_index_from_rows(rows: Iterable[tuple[str, bytes]]) -> GridIndex:
    """Build the index from (code, WKB) rows, e.g. ``SELECT code, geometry FROM regions``."""
    return GridIndex.from_wkb(rows)


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "duban_bench_places"


def _store_grids(url: str, grids: list[tuple[str, Any]]) -> None:
    """A fresh schema at ``url`` holding ``grids`` as current unit-grid regions."""
    from sqlalchemy import insert

    from duban.kernel.db.migrate import upgrade
    from duban.kernel.db.session import make_engine, make_session_factory
    from duban.places.index import bump_places_version
    from duban.places.models import Region

    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    polygons = np.array([g for _, g in grids], dtype=object)
    bounds = shapely.bounds(polygons)
    wkbs = shapely.to_wkb(polygons)
    rows = [
        {
            "code": code,
            "level": "grid",
            "name": f"网格{code[-3:]}",
            "parent_code": code[:12],
            "geometry": wkb,
            "min_lon": b[0],
            "min_lat": b[1],
            "max_lon": b[2],
            "max_lat": b[3],
            "area_m2": CELL_M * CELL_M,
            "attributes": {},
            "source": "bench",
            "valid_from": now,
            "valid_to": None,
        }
        for (code, _), wkb, b in zip(grids, wkbs, bounds.tolist(), strict=True)
    ]
    with make_session_factory(engine)() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(Region), rows[start : start + 5000])
        bump_places_version(session, now)
        session.commit()
    engine.dispose()


def _pg_url() -> str | None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from duban.kernel.db.session import make_engine

    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        admin.dispose()
    except Exception as err:  # no server: say so and go on
        print(f"  PostgreSQL at 127.0.0.1:5432 not usable ({type(err).__name__}); skipped")
        return None
    return make_url(PG_ADMIN_URL).set(database=PG_DATABASE).render_as_string(False)


def time_database_loads(grids: list[tuple[str, Any]], backends: list[str], sample: Any) -> None:
    """(c) in the database: load the index as a server does, and the per-request check."""
    from duban.kernel.db.session import make_engine, make_session_factory
    from duban.places.index import build_places_index, forget_places_index, places_index

    for backend in backends:
        tmp = None
        if backend == "sqlite":
            tmp = tempfile.TemporaryDirectory(prefix="duban-bench-places-")
            url: str | None = f"sqlite:///{tmp.name}/places.db"
        else:
            url = _pg_url()
        if url is None:
            continue
        store_s, _ = timed(lambda url=url: _store_grids(url, grids))  # type: ignore[misc]
        engine = make_engine(url)
        factory = make_session_factory(engine)
        loads = []
        for _ in range(5):
            with factory() as session:
                seconds, index = timed(lambda session=session: build_places_index(session))  # type: ignore[misc]
                loads.append(seconds)
        lons, lats, expected = sample
        assert index.levels["grid"].codes_at(index.levels["grid"].locate_many(lons, lats)) == (
            expected
        ), "the index loaded from the database answers differently"
        forget_places_index()
        checks = []
        with factory() as session:
            places_index(session)  # load once
            for _ in range(5):
                n = 2000
                seconds, _ = timed(
                    lambda session=session, n=n: [places_index(session) for _ in range(n)]  # type: ignore[misc]
                )
                checks.append(seconds / n)
                session.rollback()
        engine.dispose()
        if tmp is not None:
            tmp.cleanup()
        print(
            f"  {backend:<10} load {len(grids):,} grids from the database: "
            f"median {statistics.median(loads):6.3f} s  (min {min(loads):.3f}, max "
            f"{max(loads):.3f}; storing them took {store_s:.1f} s)"
        )
        print(
            f"  {backend:<10} per-request check that the cached index is current: "
            f"{statistics.median(checks) * 1e6:7.1f} µs"
        )


class NaiveLocator:
    """The baseline: look at every polygon, bounding box first, then polygon.covers."""

    def __init__(self, grids: list[tuple[str, Any]]) -> None:
        ordered = sorted(grids, key=lambda item: item[0])  # smallest code first: same tie-break
        self.codes = [code for code, _ in ordered]
        self.polygons = [polygon for _, polygon in ordered]
        self.bounds = [tuple(b) for b in shapely.bounds(self.polygons).tolist()]

    def locate(self, lon: float, lat: float) -> str | None:
        point = shapely.Point(lon, lat)
        for code, polygon, (x0, y0, x1, y1) in zip(
            self.codes, self.polygons, self.bounds, strict=True
        ):
            if x0 <= lon <= x1 and y0 <= lat <= y1 and polygon.covers(point):
                return code
        return None


class TreeLocator:
    """shapely STRtree with a predicate: the textbook approach, for comparison."""

    def __init__(self, grids: list[tuple[str, Any]]) -> None:
        ordered = sorted(grids, key=lambda item: item[0])
        self.codes = [code for code, _ in ordered]
        self.tree = shapely.STRtree([polygon for _, polygon in ordered])

    def locate(self, lon: float, lat: float) -> str | None:
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self.codes[int(hits.min())] if hits.size else None

    def locate_many(self, lons: Any, lats: Any) -> Any:
        point_ix, grid_ix = self.tree.query(shapely.points(lons, lats), predicate="intersects")
        missing = np.iinfo(np.intp).max
        result = np.full(len(lons), missing, dtype=np.intp)
        np.minimum.at(result, point_ix, grid_ix)
        result[result == missing] = -1
        return result


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def per_lookup(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:10.2f} µs/lookup  {n / seconds:14,.0f} lookups/s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--grids", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=200_000, help="single lookups to time")
    parser.add_argument("--naive", type=int, default=300, help="points for the naive baseline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--db",
        default="sqlite,postgresql",
        help="databases to time (c) in: sqlite, postgresql, both comma-separated, or none",
    )
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}  shapely {shapely.__version__}  "
        f"GEOS {shapely.geos_version_string}  numpy {np.__version__}  cpus {os.cpu_count()}"
    )
    seconds, grids = timed(lambda: synthetic_grids(args.grids, args.seed))
    print(f"{len(grids):,} synthetic grids of ~{CELL_M:.0f} m made in {seconds:.2f} s")
    lons, lats = random_points(grids, args.points, args.seed)

    # (c) build ------------------------------------------------------------------------------
    print("\n(c) building the index")
    rows = [(code, shapely.to_wkb(polygon)) for code, polygon in grids]
    build_polygons, index = timed(lambda: GridIndex(grids))
    build_rows, from_rows = timed(lambda: build_index_from_rows(rows))
    build_tree, tree = timed(lambda: TreeLocator(grids))
    # A running server rebuilds when grids change; that is the number that matters there.
    rebuild = sorted(timed(lambda: build_index_from_rows(rows))[0] for _ in range(3))[1]
    print(f"  GridIndex from shapely polygons      {build_polygons:8.3f} s  (first build)")
    print(f"  GridIndex from (code, WKB) rows      {build_rows:8.3f} s  (includes WKB decoding)")
    print(f"  rebuild from WKB rows, median of 3   {rebuild:8.3f} s")
    print(f"  STRtree alone (for comparison)       {build_tree:8.3f} s")
    naive = NaiveLocator(grids)
    backends = [b.strip() for b in args.db.split(",") if b.strip() and b.strip() != "none"]
    if backends:
        n = min(args.naive, args.points)
        truth = [naive.locate(x, y) for x, y in zip(lons[:n], lats[:n], strict=True)]
        time_database_loads(grids, backends, (lons[:n], lats[:n], truth))

    # correctness on a sample before any timing is believed --------------------------------
    sample = min(args.naive, args.points)
    expected = [naive.locate(x, y) for x, y in zip(lons[:sample], lats[:sample], strict=True)]
    assert [
        index.locate(x, y) for x, y in zip(lons[:sample], lats[:sample], strict=True)
    ] == expected
    assert index.codes_at(index.locate_many(lons[:sample], lats[:sample])) == expected
    assert from_rows.codes_at(from_rows.locate_many(lons[:sample], lats[:sample])) == expected
    assert [
        tree.locate(x, y) for x, y in zip(lons[:sample], lats[:sample], strict=True)
    ] == expected

    # (a) single lookups ---------------------------------------------------------------------
    print(f"\n(a) single-point lookups ({len(grids):,} grids)")
    n_single = min(args.single, args.points)
    xs, ys = lons[:n_single].tolist(), lats[:n_single].tolist()
    locate = index.locate
    t_index, _ = timed(lambda: [locate(x, y) for x, y in zip(xs, ys, strict=True)])
    t_tree, _ = timed(lambda: [tree.locate(x, y) for x, y in zip(xs, ys, strict=True)])
    xs_naive, ys_naive = xs[:sample], ys[:sample]
    t_naive, _ = timed(
        lambda: [naive.locate(x, y) for x, y in zip(xs_naive, ys_naive, strict=True)]
    )
    naive_each = t_naive / sample
    print(f"  GridIndex.locate        {per_lookup(t_index, n_single)}")
    print(f"  STRtree.query(Point)    {per_lookup(t_tree, n_single)}")
    print(f"  naive loop              {per_lookup(t_naive, sample)}   ({sample} points)")
    print(
        f"  GridIndex is {naive_each / (t_index / n_single):,.0f}x the naive loop and "
        f"{t_tree / t_index:.1f}x the STRtree query"
    )

    # (b) bulk lookups -----------------------------------------------------------------------
    print(f"\n(b) bulk lookups of {args.points:,} points")
    t_many, positions = timed(lambda: index.locate_many(lons, lats))
    t_tree_many, tree_positions = timed(lambda: tree.locate_many(lons, lats))
    assert np.array_equal(positions, tree_positions), "bulk answers differ from the STRtree"
    naive_total = naive_each * args.points
    print(
        f"  GridIndex.locate_many   {t_many:8.3f} s  {args.points / t_many:14,.0f} points/s  "
        f"({(positions >= 0).mean():.1%} in a grid)"
    )
    print(
        f"  STRtree bulk query      {t_tree_many:8.3f} s  "
        f"{args.points / t_tree_many:14,.0f} points/s"
    )
    print(
        f"  naive loop (estimated)  {naive_total:8.0f} s  "
        f"{args.points / naive_total:14,.0f} points/s"
        f"  (extrapolated from the {sample} timed points above)"
    )
    print(
        f"  GridIndex.locate_many is {naive_total / t_many:,.0f}x the naive loop and "
        f"{t_tree_many / t_many:.1f}x the STRtree bulk query; "
        f"{t_index / n_single * args.points / t_many:.1f}x calling locate in a loop"
    )


if __name__ == "__main__":
    main()
