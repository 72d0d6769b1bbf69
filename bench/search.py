"""Benchmark: searching the case list by 案卷号, address and text.

    python bench/search.py [--cases 100000] [--backend sqlite|postgresql|both] [--repeat 20]
                           [--scan-repeat N] [--reuse] [--sqlite-path FILE]
                           [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_search]

Fills a fresh database (all migrations, so the search indexes of ``0017_casesearch``
too) with ``--cases`` cases in one set-based ``INSERT … SELECT``; their descriptions and
addresses are Chinese phrases, roads and house numbers varied by the case number. Then
times, ``--repeat`` times each, the first page (50, with the total) of
:func:`duban.cases.queries.list_cases` with a search, against a plain
``LIKE '%…%'`` scan of description and address with the same page and count, and prints
the median and p95 per query (the scan only ``--scan-repeat`` times: at a million
cases it takes seconds). Before the searches, the list without one: page 1 with its
capped total, page 21 by keyset cursor and by OFFSET, an operator's filtered list (one
major category, open cases, least time left first) and an exact ``count(*)``.

``--reuse`` keeps a database filled with ``--cases`` cases by an earlier run (the
PostgreSQL database of ``--pg-url``, the SQLite file of ``--sqlite-path``) instead of
filling it again (a million cases take ~10 minutes to fill).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import duban  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _city import PROBLEMS, ROADS, fresh_database  # type: ignore[import-not-found]
from evaluate import _at, _series  # type: ignore[import-not-found]
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from duban.cases.queries import CaseFilter, list_cases
from duban.cases.workflow import OPEN
from duban.kernel.context import Actor
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.reference.categories import install_defaults
from duban.reference.models import Category

DISTRICTS = ["魏都区", "东城区", "建安区", "城乡一体化示范区", "经济技术开发区"]
WIDTH = 8

#: (label, search text): a Chinese substring of 4 and of 2 characters, an address
#: fragment with a house number, two words, a rare phrase, and one 案卷号.
QUERIES = [
    ("4 chars, 1 in 20", "井盖破损"),
    ("2 chars (LIKE)", "井盖"),
    ("address + number", "建安大道12号"),
    ("two words", "东城区 暴露垃圾"),
    ("no hit", "下水道反味"),
    ("案卷号", "B77777"),
]


def _pick(items: list[str], index: str) -> str:
    padded = "".join(item.ljust(WIDTH) for item in items)
    return f"rtrim(substr('{padded}', ({index}) * {WIDTH} + 1, {WIDTH}))"


#: One case in this many is open (dispatched, handling or filed); the others are closed.
OPEN_EVERY = 10
OPEN_STATUSES = ["dispatched", "handling", "filed"]


def fill(engine: Engine, cases: int) -> None:
    dialect = engine.dialect.name
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        install_defaults(session, now=datetime(2026, 1, 1, tzinfo=UTC))
        categories = list(
            session.scalars(
                select(Category.code).where(Category.level == 2).order_by(Category.code)
            )
        )
        session.commit()
    width = max(len(c) for c in categories)
    padded = "".join(c.ljust(width) for c in categories)
    # Subclasses in turn (n / 3, so a category is not tied to a status or a problem).
    category = f"rtrim(substr('{padded}', ((n / 3) % {len(categories)}) * {width} + 1, {width}))"
    status = (
        f"CASE WHEN n % {OPEN_EVERY} <> 0 THEN 'closed' "
        + " ".join(
            f"WHEN (n / {OPEN_EVERY}) % {len(OPEN_STATUSES)} = {i} THEN '{s}'"
            for i, s in enumerate(OPEN_STATUSES)
        )
        + " END"
    )
    true = "TRUE" if dialect == "postgresql" else "1"
    text_n = "CAST(n AS TEXT)"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO units (id, code, name, kind, is_active) "
                f"SELECT n, 'U' || n, '单位' || n, 'department', {true} "
                f"FROM ({_series(dialect, 20)}) s"
            )
        )
        t0 = time.perf_counter()
        description = (
            f"{_pick(PROBLEMS, 'n % 20')} || '，在' || {_pick(ROADS, '(n / 20) % 20')} || "
            f"'与' || {_pick(ROADS, '(n / 400) % 20')} || '交叉口附近，群众反映' || "
            f"CAST(n % 97 AS TEXT) || '次'"
        )
        address = (
            f"'许昌市' || {_pick(DISTRICTS, 'n % 5')} || {_pick(ROADS, '(n / 7) % 20')} || "
            f"CAST(n % 300 AS TEXT) || '号'"
        )
        conn.execute(
            text(
                "INSERT INTO cases (id, code, version, source, status, kind, category_code, lat, "
                "lon, address, description, unit_id, rework_count, is_supervised, "
                "paused_seconds, created_at, updated_at, due_at, event_count, last_event_hash) "
                f"SELECT n, 'B' || {text_n}, 1, 'hotline', {status}, 'event', {category}, "
                f"34.0, 113.8, {address}, {description}, 1 + n % 20, 0, "
                f"{'FALSE' if dialect == 'postgresql' else '0'}, 0, "
                f"{_at(dialect, 'n % 2592000')}, {_at(dialect, 'n % 2592000')}, "
                f"{_at(dialect, 'n % 2592000 + 86400 * (1 + n % 7)')}, 1, '' "
                f"FROM ({_series(dialect, cases)}) s"
            )
        )
        print(f"  fill: {cases:,} cases in {time.perf_counter() - t0:.1f} s", flush=True)
    # VACUUM too: PostgreSQL's index-only scans need the visibility map it writes (what
    # autovacuum does in a running city).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1e3:8.1f} ms  p95 {p95 * 1e3:8.1f} ms"


def measure(engine: Engine, repeat: int, scan_repeat: int) -> None:
    factory = make_session_factory(engine)
    actor = Actor(user_id=None, username="bench", role=Role.DISPATCHER)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    like = text(
        "SELECT id FROM cases WHERE description LIKE :p OR address LIKE :p "
        "ORDER BY created_at DESC, id DESC LIMIT 50"
    )
    like_count = text("SELECT count(*) FROM cases WHERE description LIKE :p OR address LIKE :p")
    with factory() as session:
        for label, query in QUERIES:
            search: list[float] = []
            scan: list[float] = []
            hits = "0"
            for i in range(repeat):
                t0 = time.perf_counter()
                listing = list_cases(
                    session, actor=actor, filters=CaseFilter(text=query), now=now, page_size=50
                )
                search.append(time.perf_counter() - t0)
                hits = f"{listing.total:,}" + ("" if listing.total_exact else "+")
                if i >= scan_repeat:
                    continue
                t0 = time.perf_counter()
                pattern = f"%{query.split()[0]}%"
                session.execute(like, {"p": pattern}).all()
                session.scalar(like_count, {"p": pattern})
                scan.append(time.perf_counter() - t0)
                session.expunge_all()
            print(
                f"  {label:<18} {query:<12} hits {hits:>7}  search {_stats(search)}"
                f"  | LIKE scan {_stats(scan)}",
                flush=True,
            )


def measure_pages(engine: Engine, repeat: int) -> None:
    """The list without a search: page 1 (with its total, counted up to
    :data:`~duban.cases.queries.COUNTED`), page 21 by keyset cursor and page 21 by
    OFFSET, an operator's list (one major category, open cases, least time left first:
    page 1 with its total, and page 2 by cursor), against an exact ``count(*)`` of every
    case."""
    factory = make_session_factory(engine)
    actor = Actor(user_id=None, username="bench", role=Role.DISPATCHER)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with factory() as session:
        major = session.scalars(
            select(Category.parent_code)
            .where(Category.level == 2)
            .group_by(Category.parent_code)
            .order_by(func.count().desc(), Category.parent_code)
            .limit(1)
        ).one()
        operator = CaseFilter(categories=(str(major),), statuses=tuple(sorted(OPEN)))
        due_cursor = list_cases(session, actor=actor, filters=operator, now=now, sort="due").after
        cursor: str | None = None
        for _ in range(20):
            cursor = list_cases(
                session, actor=actor, filters=CaseFilter(), now=now, after=cursor
            ).after
        lines: list[tuple[str, Callable[[], object]]] = [
            (
                "page 1 + total",
                lambda: list_cases(session, actor=actor, filters=CaseFilter(), now=now),
            ),
            (
                "page 21, cursor",
                lambda: list_cases(
                    session, actor=actor, filters=CaseFilter(), now=now, after=cursor
                ),
            ),
            (
                "page 21, OFFSET",
                lambda: list_cases(session, actor=actor, filters=CaseFilter(), now=now, page=21),
            ),
            (
                "category+open, due",
                lambda: list_cases(session, actor=actor, filters=operator, now=now, sort="due"),
            ),
            (
                "  … page 2, cursor",
                lambda: list_cases(
                    session, actor=actor, filters=operator, now=now, sort="due", after=due_cursor
                ),
            ),
            ("exact count(*)", lambda: session.scalar(text("SELECT count(*) FROM cases"))),
        ]
        for label, call in lines:
            took: list[float] = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                call()
                took.append(time.perf_counter() - t0)
                session.expunge_all()
            print(f"  list: {label:<18} {_stats(took)}", flush=True)


def _filled(engine: Engine, cases: int) -> bool:
    """Whether ``engine``'s database holds the ``cases`` cases of an earlier fill."""
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT max(id) FROM cases")) == cases
    except DBAPIError:
        return False


def run(backend: str, url: str, cases: int, repeat: int, scan_repeat: int, reuse: bool) -> None:
    print(f"{backend}: {cases:,} cases", flush=True)
    engine = make_engine(url)
    if reuse and _filled(engine, cases):
        print("  fill: reusing the filled database", flush=True)
    else:
        engine.dispose()
        fresh_database(url)
        engine = make_engine(url)
        fill(engine, cases)
    measure_pages(engine, repeat)
    measure(engine, repeat, scan_repeat)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--scan-repeat", type=int, help="runs of the LIKE scan (default: --repeat; it is slow)"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench_search"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database an earlier run filled"
    )
    parser.add_argument("--sqlite-path", help="the SQLite file (default: a temporary one)")
    args = parser.parse_args()
    scans = args.scan_repeat or args.repeat
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            path = args.sqlite_path or f"{tmp}/bench.db"
            run("sqlite", f"sqlite:///{path}", args.cases, args.repeat, scans, args.reuse)
    if args.backend in ("postgresql", "both"):
        run("postgresql", args.pg_url, args.cases, args.repeat, scans, args.reuse)


if __name__ == "__main__":
    main()
