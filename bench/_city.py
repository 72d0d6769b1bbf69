"""The one way to prepare a benchmark city: the demo city plus many cases, set-based.

:func:`prepared` gives a database holding ``duban demo --no-serve`` (reference data, the
generated demo city with its ~6,000 unit grids, one user per role, a few real cases) and
``count`` more cases written by :func:`fill` with a few ``INSERT … SELECT`` statements
over a generated series (no Python row per case): a year of reports at a random point of
a random current grid with its grid/community/street/district codes, those older than two
weeks nearly all closed (:data:`OLD_MIX`) and the recent ones along the loop
(:data:`RECENT_MIX`), sources by :data:`SOURCE_MIX`, a unit, deadline and step timer as
each status has them, varied Chinese descriptions and addresses, and a ``report`` event
each; then the map counts rebuilt and ``(VACUUM) ANALYZE``. The search index the app keeps
by trigger (SQLite FTS5) is kept by the same triggers; PostgreSQL's trigram indexes are
ordinary indexes. Given a URL, :func:`prepared` keeps the database and, when it already
holds a city, reuses it, so a million cases are filled once.

Used by ``bench/web.py``, ``bench/map.py`` and ``bench/public.py``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from duban.cases.mapcounts import rebuild_map_counts
from duban.cases.models import COUNTED_KEY_SQL
from duban.cases.workflow import STEP_OF_STATUS, CaseStatus, Source
from duban.kernel.db.session import make_engine

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: The ``duban`` command installed next to this Python.
DUBAN = str(Path(sys.executable).parent / "duban")

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
HANDLED = {CaseStatus.AWAITING_CHECK, CaseStatus.CHECKED, CaseStatus.CLOSED}
#: Deadlines (hours after dispatch) and step limits (hours), drawn evenly.
DUE_HOURS = [2, 4, 24, 48, 120]
STEP_HOURS = [1, 2, 4]

# Descriptions and addresses: a problem, where, and how often reported, varied by the case
# number so that a search for a problem finds about one case in twenty (as bench/search.py).
PROBLEMS = [
    "井盖破损", "暴露垃圾", "违规悬挂横幅", "占道经营", "乱堆物料", "道路破损",
    "路灯不亮", "绿地脏乱", "违法小广告", "积存垃圾渣土", "私搭乱建", "机动车乱停放",
    "非机动车乱停放", "沿街晾挂", "店外经营", "污水冒溢", "废弃家具", "施工围挡破损",
    "树木倒伏", "雨水箅子缺失",
]  # fmt: skip
ROADS = [
    "人民路", "建安大道", "莲城大道", "魏文路", "许继大道", "八一路", "文峰路",
    "东大街", "西大街", "南关大街", "北大街", "新兴路", "七里店路", "劳动路", "颍昌路",
    "学院路", "天宝路", "永昌路", "瑞祥路", "竹林路",
]  # fmt: skip
DETAILS = [
    "行人有踩空危险", "两天无人清理", "影响通行", "已有三天", "压住非机动车道",
    "群众多次投诉", "夜间尤其严重", "堵塞盲道", "未见整改", "雨后更加明显",
]  # fmt: skip
DISTRICTS = ["魏都区", "东城区", "建安区", "城乡一体化示范区", "经济技术开发区"]
WIDTH = 8


# --------------------------------------------------------------------------- databases


def duban_env(url: str, var_dir: Path) -> dict[str, str]:
    """The environment of a ``duban`` command on ``url``."""
    env = dict(os.environ)
    env.update(
        DUBAN_DATABASE_URL=url,
        DUBAN_VAR_DIR=str(var_dir),
        DUBAN_SECRET_KEY="bench-web-secret-of-at-least-32-chars",
    )
    return env


def _pg_admin(url: str) -> Any:
    """An AUTOCOMMIT engine on the ``postgres`` database of ``url``'s server."""
    admin = make_url(url).set(database="postgres")
    return make_engine(admin.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")


def _exists(url: str) -> bool:
    """Whether ``url`` names a database that already holds cases."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).exists():
            return False
    else:
        admin = _pg_admin(url)
        with admin.connect() as conn:
            found = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            )
        admin.dispose()
        if not found:
            return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT count(*) FROM (SELECT 1 FROM cases LIMIT 10) c")))
    except Exception:  # no cases table: not a city yet
        return False
    finally:
        engine.dispose()


def fresh_database(url: str) -> None:
    """An empty database at ``url`` (PostgreSQL: dropped and recreated; SQLite: the file
    removed). Every benchmark that fills its own city starts here."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
        return
    admin = _pg_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    """Drop a benchmark's PostgreSQL database (a SQLite file lives in a temporary directory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    admin = _pg_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def prepared(
    backend: str, count: int, url: str | None = None, pg_name: str = "duban_bench_web"
) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(database URL, a var directory, what was loaded) of a benchmark city.

    Without ``url``: a fresh database (SQLite: a file in a temporary directory;
    PostgreSQL: ``pg_name``), the demo city and ``count`` cases, dropped afterwards. With
    ``url``: that database, reused as it is when it already holds cases, else created,
    filled and kept."""
    with (
        tempfile.TemporaryDirectory(prefix="duban-bench-var-") as var,
        tempfile.TemporaryDirectory(prefix="duban-bench-db-") as tmp,
    ):
        var_dir = Path(var)
        keep = url is not None
        if url is None:
            url = (
                f"sqlite:///{tmp}/duban.db"
                if backend == "sqlite"
                else PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_name}"
            )
        if keep and _exists(url):
            print(f"[{backend}] reusing {url}", flush=True)
            engine = make_engine(url)
            with engine.connect() as conn:
                cases = int(conn.scalar(text("SELECT count(*) FROM cases")) or 0)
            engine.dispose()
            yield url, var_dir, {"cases": cases, "fill_seconds": None}
            return
        fresh_database(url)
        try:
            print(f"[{backend}] preparing the demo city …", flush=True)
            started = time.perf_counter()
            subprocess.run(
                [DUBAN, "demo", "--no-serve"],
                env=duban_env(url, var_dir),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            demo_s = time.perf_counter() - started
            print(f"[{backend}] demo city in {demo_s:.0f} s; filling {count:,} cases …", flush=True)
            loaded = fill(url, count)
            print(f"[{backend}] {loaded}", flush=True)
            yield url, var_dir, {**loaded, "demo_seconds": round(demo_s, 1)}
        finally:
            if not keep:
                drop_database(url)


def case_ids(url: str) -> list[int]:
    """Every case's id (the case pages to ask for)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = [int(i) for (i,) in conn.execute(text("SELECT id FROM cases"))]
    engine.dispose()
    return ids


# --------------------------------------------------------------------------- the fill


def _rand(dialect: str) -> str:
    """A uniform draw in [0, 1) per row (PostgreSQL's is seeded: ``setseed``)."""
    if dialect == "postgresql":
        return "random()"
    return "((random() & 4503599627370495) / 4503599627370496.0)"


def _pick(items: list[str], index: str) -> str:
    """The ``index``-th of ``items`` (all at most :data:`WIDTH` characters), in SQL."""
    padded = "".join(item.ljust(WIDTH) for item in items)
    return f"rtrim(substr('{padded}', ({index}) * {WIDTH} + 1, {WIDTH}))"


def _choose(mix: dict[Any, float], draw: str) -> str:
    """A CASE picking a key of ``mix`` by its weight from a uniform ``draw``."""
    total = sum(mix.values())
    parts, cumulative = [], 0.0
    for key, weight in list(mix.items())[:-1]:
        cumulative += weight / total
        parts.append(f"WHEN {draw} < {cumulative:.6f} THEN '{key.value}'")
    return f"(CASE {' '.join(parts)} ELSE '{list(mix)[-1].value}' END)"


def _index(pg: bool, draw: str, count: int) -> str:
    """0 … ``count`` - 1 from a uniform ``draw`` (a CAST truncates on SQLite, rounds on
    PostgreSQL: ``floor`` first, which SQLite may lack, is a no-op there on positives)."""
    return (
        f"CAST(floor({draw} * {count}) AS INTEGER)" if pg else f"CAST({draw} * {count} AS INTEGER)"
    )


def _one_of(pg: bool, values: list[int], draw: str) -> str:
    return f"(CASE {_index(pg, draw, len(values))} " + (
        " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(values)) + f" ELSE {values[-1]} END)"
    )


def _in(statuses: set[CaseStatus]) -> str:
    return "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"


def fill(url: str, count: int, seed: float = 0.7) -> dict[str, Any]:
    """``count`` cases after the demo city's, each with its ``report`` event, set-based;
    then the map counts rebuilt and ``(VACUUM) ANALYZE``. Returns the seconds each took."""
    engine = make_engine(url)
    dialect = engine.dialect.name
    pg = dialect == "postgresql"
    now = datetime.now(UTC).replace(microsecond=0)
    greatest, least = ("GREATEST", "LEAST") if pg else ("max", "min")
    rand = _rand(dialect)

    def at(seconds: str) -> str:
        """``now`` plus ``seconds`` (negative: before), as each store keeps a UTC time."""
        if pg:
            return f"(TIMESTAMPTZ '{now.isoformat()}' + ({seconds}) * INTERVAL '1 second')"
        julian = now.timestamp() / 86400.0 + 2440587.5
        return f"(strftime('%Y-%m-%d %H:%M:%S', {julian!r} + ({seconds}) / 86400.0) || '.000000')"

    timings: dict[str, Any] = {}
    started = time.perf_counter()
    with engine.begin() as conn:
        if pg:
            conn.execute(text(f"SELECT setseed({seed})"))
        first_id = int(conn.scalar(text("SELECT COALESCE(max(id), 0) FROM cases")) or 0)
        grids = _numbered(
            conn,
            "bench_grids",
            "SELECT code, min_lon, min_lat, max_lon, max_lat FROM regions"
            " WHERE level = 'grid' AND valid_to IS NULL",
        )
        if not grids:
            raise SystemExit("the demo city has no grids; is the places module installed?")
        categories = _numbered(
            conn,
            "bench_categories",
            "SELECT c.code, c.kind, (SELECT min(f.code) FROM filing_conditions f"
            " WHERE f.category_code = c.code AND f.is_active = :yes) AS condition_code"
            " FROM categories c WHERE c.level = 2 AND c.is_active = :yes",
            yes=True,
        )
        units = _numbered(
            conn, "bench_units", "SELECT id FROM units WHERE is_active = :yes", yes=True
        )
        # The draws, materialised once: a row's draws are read by several columns.
        series = (
            f"SELECT generate_series(1, {count}) AS n"
            if pg
            else f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < "
            f"{count}) SELECT n FROM s"
        )
        draws = ", ".join(f"{rand} AS r{k}" for k in range(14))
        conn.execute(
            text(
                f"CREATE TEMPORARY TABLE bench_draws AS SELECT n, "
                f"{rand} * {HISTORY_DAYS * 86400} AS age, {draws} FROM ({series}) s"
            )
        )
        timings["draws_seconds"] = round(time.perf_counter() - started, 1)
        recent, old = _choose(RECENT_MIX, "r0"), _choose(OLD_MIX, "r0")
        steps = " ".join(f"WHEN '{s.value}' THEN '{step}'" for s, step in STEP_OF_STATUS.items())
        description = (
            f"{_pick(PROBLEMS, 'n % 20')} || '，' || {_pick(ROADS, '(n / 20) % 20')} || '与' || "
            f"{_pick(ROADS, '(n / 400) % 20')} || '交叉口附近，' || "
            f"{_pick(DETAILS, '(n / 7) % 10')} || '，群众反映' || CAST(n % 97 AS TEXT) || '次'"
        )
        address = (
            f"'许昌市' || {_pick(DISTRICTS, 'n % 5')} || {_pick(ROADS, '(n / 7) % 20')} || "
            f"CAST(n % 300 AS TEXT) || '号'"
        )
        # Seconds relative to now: created, dispatched (≤ now), handled (≤ now).
        base = (
            f"SELECT d.n, d.r0, d.r1, d.r2, d.r3, d.r4, d.r5, d.r6, d.r7, d.r8, d.r9,"
            f" d.r10, d.r11, g.code AS grid_code,"
            f" g.min_lon + d.r12 * (g.max_lon - g.min_lon) AS lon,"
            f" g.min_lat + d.r13 * (g.max_lat - g.min_lat) AS lat,"
            f" k.code AS category_code, k.kind, k.condition_code, u.id AS any_unit,"
            f" -d.age AS created,"
            f" {least}(-d.age + (0.5 + 5.5 * d.r3) * 3600, 0) AS dispatched,"
            f" CASE WHEN d.age < {RECENT_DAYS * 86400} THEN {recent} ELSE {old} END AS status,"
            f" {_choose(SOURCE_MIX, 'd.r1')} AS source"
            f" FROM bench_draws d"
            f" JOIN bench_grids g ON g.i = {_index(pg, 'd.r2', grids)}"
            f" JOIN bench_categories k ON k.i = {_index(pg, 'd.r4', categories)}"
            f" JOIN bench_units u ON u.i = {_index(pg, 'd.r5', units)}"
        )
        timed = (
            f"SELECT b.*,"
            f" CASE WHEN {_in(WITH_UNIT)} THEN any_unit END AS unit_id,"
            f" dispatched + {_one_of(pg, DUE_HOURS, 'r6')} * 3600 AS due,"
            f" CASE WHEN {_in(HANDLED)} THEN {least}(dispatched + (1 + 71 * r7) * 3600, 0)"
            f" END AS handled,"
            f" CASE status {steps} END AS step,"
            f" {greatest}(created, -r8 * 12 * 3600) AS step_started"
            f" FROM ({base}) b"
        )
        with_unit = _in(WITH_UNIT)
        closed = f"{least}(handled + 10800, 0)"
        step_due = f"step_started + {_one_of(pg, STEP_HOURS, 'r11')} * 3600"
        true, false = ("TRUE", "FALSE") if pg else ("1", "0")
        columns = {
            "id": f"{first_id} + n",
            "code": f"'B' || substr('0000000000' || CAST({first_id} + n AS TEXT), -10, 10)"
            if not pg
            else f"'B' || lpad(CAST({first_id} + n AS TEXT), 10, '0')",
            "version": "1",
            "source": "source",
            "status": "status",
            "kind": "kind",
            "category_code": "category_code",
            "condition_code": "condition_code",
            "lat": "lat",
            "lon": "lon",
            "address": address,
            "description": description,
            "grid_code": "grid_code",
            "community_code": "substr(grid_code, 1, 12)",
            "street_code": "substr(grid_code, 1, 9)",
            "district_code": "substr(grid_code, 1, 6)",
            "unit_id": "unit_id",
            "rework_count": "CASE WHEN r9 < 0.08 THEN 1 ELSE 0 END",
            "is_supervised": f"CASE WHEN r10 < 0.03 THEN {true} ELSE {false} END",
            "limit_amount": f"CASE WHEN {with_unit} THEN 4.0 END",
            "limit_unit": f"CASE WHEN {with_unit} THEN 'work_hours' END",
            "clock_started_at": f"CASE WHEN {with_unit} THEN {at('dispatched')} END",
            "due_at": f"CASE WHEN {with_unit} THEN {at('due')} END",
            "dispatched_at": f"CASE WHEN {with_unit} THEN {at('dispatched')} END",
            "handled_at": f"CASE WHEN handled IS NOT NULL THEN {at('handled')} END",
            "closed_at": f"CASE WHEN status = 'closed' THEN {at(closed)} END",
            "parked_at": f"CASE WHEN status = 'parked' THEN {at('-86400')} END",
            "paused_seconds": "0.0",
            "step": "step",
            "step_started_at": f"CASE WHEN step IS NOT NULL THEN {at('step_started')} END",
            "step_due_at": f"CASE WHEN step IS NOT NULL THEN {at(step_due)} END",
            "pending_extension_until": f"CASE WHEN status = 'handling' AND r9 > 0.98 THEN "
            f"{at('due + 172800')} END",
            "created_at": at("created"),
            "updated_at": at("created"),
            "created_by_id": "CAST(NULL AS INTEGER)",
            "event_count": "1",
            "last_event_hash": "'" + "0" * 64 + "'",
        }
        inner = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
        names = ", ".join(columns)
        conn.execute(
            text(
                f"INSERT INTO cases ({names}, counted_as) "
                f"SELECT {names}, {COUNTED_KEY_SQL} FROM (SELECT {inner} FROM ({timed}) t) c"
            )
        )
        timings["cases_seconds"] = round(time.perf_counter() - started, 1)
        conn.execute(
            text(
                "INSERT INTO case_events (case_id, seq, action, from_status, to_status,"
                " actor_id, actor_role, occurred_at, note, payload, prev_hash, hash)"
                " SELECT id, 1, 'report', NULL, 'reported', NULL, 'collector', created_at,"
                f" '', '{{}}', '{'0' * 64}', '{'0' * 64}' FROM cases WHERE id > :first"
            ),
            {"first": first_id},
        )
        for table in ("bench_draws", "bench_grids", "bench_categories", "bench_units"):
            conn.execute(text(f"DROP TABLE {table}"))
        if pg:
            for table in ("cases", "case_events"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                        f"FROM {table}"
                    )
                )
        timings["events_seconds"] = round(time.perf_counter() - started, 1)
    with Session(engine) as session:  # the map counts, as the migration backfills them
        rebuild_map_counts(session)
        session.commit()
    timings["map_counts_seconds"] = round(time.perf_counter() - started, 1)
    # PostgreSQL: VACUUM too, as autovacuum soon does after a load, so the visibility
    # map lets the covering indexes answer from the index alone (index-only scans).
    # SQLite: in a committed transaction — the engine issues its own BEGIN even on an
    # "AUTOCOMMIT" connection, and an ANALYZE rolled back with it leaves no statistics.
    if pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    with engine.connect() as conn:
        total = int(conn.scalar(text("SELECT count(*) FROM cases")) or 0)
    engine.dispose()
    timings["fill_seconds"] = round(time.perf_counter() - started, 1)
    return {"cases": total, **timings}


def _numbered(conn: Connection, name: str, query: str, **params: Any) -> int:
    """A temporary table ``name`` of ``query``'s rows numbered 0, 1, … in column ``i``;
    returns how many."""
    conn.execute(
        text(
            f"CREATE TEMPORARY TABLE {name} AS SELECT "
            f"CAST(ROW_NUMBER() OVER () - 1 AS INTEGER) AS i, q.* FROM ({query}) q"
        ),
        params,
    )
    conn.execute(text(f"CREATE UNIQUE INDEX ix_{name}_i ON {name} (i)"))
    return int(conn.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
