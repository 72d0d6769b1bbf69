#!/usr/bin/env python
"""Intake benchmark: cases created per second through the HTTP API, beside the raw rate.

    python bench/intake.py [--backend sqlite|postgresql|both] [--seconds 10] [--clients 8]
                           [--workers N] [--warmup 2] [--reconnect 20] [--repeat 1]
                           [--json results.json]

For each backend it

1. prepares a fresh database (SQLite: a file under a temporary directory; PostgreSQL: the
   ``duban_bench`` database on 127.0.0.1, dropped and recreated), runs ``duban init`` and
   ``duban demo --no-serve`` (reference data, demo city, one user per role);
2. starts the real server (``duban serve --workers N``) on a free port of 127.0.0.1, waits
   for ``/healthz`` and signs in as ``operator``, ``citizen`` and ``collector``;
3. runs ``--clients`` threads, each with its own keep-alive connection
   (``_server.KeepAliveClient``, a tenth of httpx's CPU per request), that POST
   ``/api/v1/cases`` with varied bodies (hotline / citizen / patrol reports, category
   E0102 or a random subclass from ``GET /api/v1/categories``, a point near the demo
   city, a Chinese description, a fresh ``Idempotency-Key``) for ``--warmup`` seconds
   unrecorded and then ``--seconds`` recorded; every response must be 201;
4. stops the server and measures the raw rate on the same database with no framework:
   the same number of threads, each with its own plain ``sqlite3`` / ``psycopg``
   connection with the server's settings, writing per case the same rows as the server
   writes them, committing once per case: the day's counter drawn, the ``cases`` row
   with the same columns (its number and chain head in the INSERT, and the place codes
   the server found for the same point), its ``case_events`` row with the chained
   sha256 and the idempotency row. On SQLite these are plain statements (the next id
   drawn with the counter, under the write lock); on PostgreSQL ``nextval`` and then one
   statement from the counter to the key, so the counter's row lock is held only from
   it to the commit, as the server's statement holds it;
5. checks that the database holds exactly the cases that were answered 201.

Beside these it measures the floor of the HTTP stack: the same clients calling
``GET /healthz`` (no database, no body) on the same server, in requests/s and server CPU
per request, so the cost of the report itself can be told from the cost of serving HTTP.

The server writes every report in a transaction of its own, through the one intake
path every face uses (``duban.cases.intake.report``: prepare, then ``write_reports`` in
a ``writing()`` unit of work, in the thread pool), just as the raw loop commits every
case.

It prints cases/s, p50/p95/p99 latency, errors, the raw rate and the ratio (API / raw).
Everything talks to 127.0.0.1 only and stops by itself (about a minute per backend).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from _server import HOST, KeepAliveClient, duban_command, server

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DATABASE = "duban_bench"
DEMO_PASSWORD = "duban-demo"
CITY_TZ = ZoneInfo("Asia/Shanghai")
CENTRE_LAT, CENTRE_LON = 34.03, 113.82
GENESIS = "0" * 64
# One server process per core: each has its own GIL, and SQLite's writers take turns
# across processes at the write gate (duban.kernel.db.session).
DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, 4))

# --------------------------------------------------------------------------- bodies

# Word lists, split on spaces.
STREETS = (  # noqa: SIM905
    "人民路 七一路 文峰路 南关大街 八一路 北大街 东大街 许繁路 "
    "建安大道 魏文路 劳动路 莲城大道 学院路 天宝路 兴业路 光明路"
).split()
PLACES = (  # noqa: SIM905
    "交叉口东北角 公交站台旁 小区北门 农贸市场门口 学校南侧人行道 中段 "
    "桥下 加油站对面 社区服务中心前 地下通道入口 停车场出口 绿化带内"
).split()
PROBLEMS = (  # noqa: SIM905
    "井盖破损，行人有踩空危险 堆放生活垃圾两天无人清理 占道经营，桌椅摆到人行道上 "
    "路灯不亮已有三天 行道树倒伏压住非机动车道 电线杆上张贴大量小广告 "
    "污水外溢，气味难闻 共享单车乱停放堵塞盲道 施工围挡倒塌未恢复 "
    "渣土车沿路抛洒 违规户外广告牌松动 人行道板块松动翘起"
).split()
CALLERS = ["张先生", "李女士", "王师傅", "刘阿姨", "陈先生", "赵女士", "市民"]


@dataclass
class Body:
    """One request: who sends it and the JSON it posts."""

    who: str
    json: dict[str, Any]


def make_bodies(rng: random.Random, subclasses: dict[str, list[str]], n: int) -> list[Body]:
    """``n`` varied report bodies: mostly hotline (operator), some citizen and patrol."""
    codes = sorted(subclasses)
    bodies = []
    for _ in range(n):
        roll = rng.random()
        who, source = (
            ("operator", "hotline")
            if roll < 0.7
            else ("citizen", "citizen")
            if roll < 0.9
            else ("collector", "patrol")
        )
        code = "E0102" if rng.random() < 0.3 and "E0102" in subclasses else rng.choice(codes)
        street = rng.choice(STREETS)
        body: dict[str, Any] = {
            "source": source,
            "category_code": code,
            "lat": round(CENTRE_LAT + rng.uniform(-0.03, 0.03), 6),
            "lon": round(CENTRE_LON + rng.uniform(-0.03, 0.03), 6),
            "address": f"{street}{rng.randint(1, 300)}号{rng.choice(PLACES)}",
            "description": f"{street}{rng.choice(PLACES)}{rng.choice(PROBLEMS)}"
            + ("，请尽快处理。" if rng.random() < 0.5 else "，市民多次反映。"),
        }
        if subclasses[code] and rng.random() < 0.5:
            body["condition_code"] = rng.choice(subclasses[code])
        if source == "hotline":
            body["reporter_name"] = rng.choice(CALLERS)
            body["reporter_phone"] = f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}"
        bodies.append(Body(who=who, json=body))
    return bodies


# --------------------------------------------------------------------------- results


@dataclass
class Run:
    """What one timed run measured."""

    ok: int = 0
    errors: int = 0
    warmup_ok: int = 0  # successes before the window (they still wrote rows)
    late_ok: int = 0  # successes of the calls in flight when the window closed
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
        k = min(len(data) - 1, max(0, round(p / 100 * len(data)) - 1))
        return data[k]


@dataclass
class Result:
    backend: str
    workers: int
    clients: int
    seconds: float
    api_cases: int
    api_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    raw_cases: int
    raw_rate: float
    raw_errors: int
    ratio: float
    raw_p99_ms: float
    server_cpu_ms_per_case: float
    cpu_pct: dict[str, float]
    background_pct: float
    rows_check: str
    floor_rate: float
    floor_cpu_ms: float
    error_samples: list[str] = field(default_factory=list)


def timed_threads(
    n: int,
    warmup: float,
    seconds: float,
    make_worker: Callable[[int], Callable[[], str | None]],
    on_window: Callable[[], None] | None = None,
) -> Run:
    """Run ``n`` threads calling their worker in a loop; record only the timed window.

    A worker returns None on success or an error text. Calls that finish inside
    ``[start + warmup, start + warmup + seconds]`` count.
    """
    run = Run()
    lock = threading.Lock()
    ready = threading.Barrier(n + 1)
    stop = threading.Event()
    window: list[float] = [float("inf"), float("inf")]  # set once every client is ready

    def loop(i: int) -> None:
        try:
            work = make_worker(i)
        except Exception as err:
            with lock:
                run.errors += 1
                run.error_samples.append(f"setup: {err!r}")
            ready.wait()
            return
        ready.wait()
        lat: list[float] = []
        ok = errors = before = after = 0
        samples: list[str] = []
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                err = work()
            except Exception as exc:
                err = repr(exc)
            t1 = time.perf_counter()
            if window[0] <= t1 <= window[1]:
                if err is None:
                    ok += 1
                    lat.append((t1 - t0) * 1000)
                else:
                    errors += 1
                    if len(samples) < 3:
                        samples.append(err)
            elif err is None:
                if t1 < window[0]:
                    before += 1
                else:
                    after += 1
            else:
                errors += 1  # errors outside the window count too
                if len(samples) < 3:
                    samples.append(f"outside the window: {err}")
        with lock:
            run.ok += ok
            run.warmup_ok += before
            run.late_ok += after
            run.errors += errors
            run.latencies_ms.extend(lat)
            run.error_samples.extend(samples[: max(0, 5 - len(run.error_samples))])

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    window[1] = start + warmup + seconds
    window[0] = start + warmup
    time.sleep(max(0.0, window[0] - time.perf_counter()))
    if on_window is not None:
        on_window()
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    stop.set()
    for t in threads:
        t.join(timeout=30)
    run.seconds = seconds
    return run


# --------------------------------------------------------------------------- CPU accounting


def _proc_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    out = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    out.extend(_children(int(child)))
    return out


def _machine_ticks() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU (in % of one core) used over a window by the server's process tree, this
    process (the clients), the PostgreSQL processes and the whole machine."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.hz = os.sysconf("SC_CLK_TCK")

    def _server(self) -> int:
        return sum(_proc_ticks(p) for p in _children(self.server_pid)) if self.server_pid else 0

    def _postgres(self) -> int:
        return sum(_proc_ticks(p) for p in _postgres_pids())

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.server0 = self._server()
        self.postgres0 = self._postgres()
        self.client0 = time.process_time()
        self.machine0 = _machine_ticks()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        busy1, total1 = _machine_ticks()
        machine = (busy1 - self.machine0[0]) / max(1, total1 - self.machine0[1])
        out = {
            "server": (self._server() - self.server0) / self.hz / wall * 100,
            "clients": (time.process_time() - self.client0) / wall * 100,
            "postgres": (self._postgres() - self.postgres0) / self.hz / wall * 100,
            "machine": machine * (os.cpu_count() or 1) * 100,
        }
        out["other"] = max(0.0, out["machine"] - out["server"] - out["clients"] - out["postgres"])
        return out


def background_load(seconds: float = 1.0) -> float:
    """CPU in use by others right now (% of one core), to warn about a noisy machine."""
    meter = CpuMeter(None)
    meter.start()
    time.sleep(seconds)
    return meter.stop()["other"]


# --------------------------------------------------------------------------- databases


def prepare_database(backend: str, tmp: Path, pg_database: str) -> str:
    """A fresh, empty database for ``backend``; returns its SQLAlchemy URL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'duban.db'}"
    import psycopg

    if pg_database.startswith("duban_test") or not pg_database.replace("_", "").isalnum():
        raise SystemExit(f"refusing to drop database {pg_database!r}")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{pg_database}"')
    return f"postgresql+psycopg://postgres@{HOST}:5432/{pg_database}"


def count_cases(backend: str, url: str) -> int:
    if backend == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
    import psycopg

    with psycopg.connect(_pg_dsn(url)) as conn:
        row = conn.execute("SELECT count(*) FROM cases").fetchone()
        assert row is not None
        return int(row[0])


def _pg_dsn(url: str) -> str:
    database = url.rsplit("/", 1)[1]
    return f"host={HOST} port=5432 user=postgres dbname={database}"


# --------------------------------------------------------------------------- server


def sign_in(base: str, username: str) -> str:
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as c:
        r = c.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])


def fetch_subclasses(base: str, token: str, limit: int, rng: random.Random) -> dict[str, list[str]]:
    """Up to ``limit`` active subclasses (always E0102) with their filing condition codes."""
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as c:
        r = c.get("/api/v1/categories", headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        tree = r.json()
    found: dict[str, list[str]] = {}

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            children = node.get("children") or []
            if children:
                walk(children)
            elif node.get("level", 2) == 2:
                found[node["code"]] = [c["code"] for c in node.get("conditions") or []]

    walk(tree)
    if not found:
        raise SystemExit("GET /api/v1/categories returned no subclasses")
    picked = rng.sample(sorted(found), min(limit, len(found)))
    if "E0102" in found and "E0102" not in picked:
        picked.append("E0102")
    return {code: found[code] for code in picked}


def api_run(
    base: str,
    tokens: dict[str, str],
    bodies: list[Body],
    clients: int,
    warmup: float,
    secs: float,
    reconnect: int,
    on_window: Callable[[], None] | None = None,
) -> Run:
    def make_worker(i: int) -> Callable[[], str | None]:
        client = KeepAliveClient(base, requests_per_connection=reconnect)
        auth = {who: f"Bearer {t}" for who, t in tokens.items()}
        # Bodies are encoded once: the clients' CPU is not the system under test's.
        encoded = [json.dumps(b.json, ensure_ascii=False).encode() for b in bodies]
        state = {"n": i * 7919}

        def work() -> str | None:
            state["n"] += 1
            k = state["n"] % len(bodies)
            status, answer = client.request(
                "POST",
                "/api/v1/cases",
                encoded[k],
                {
                    "Authorization": auth[bodies[k].who],
                    "Idempotency-Key": uuid.uuid4().hex,
                    "Content-Type": "application/json",
                },
            )
            if status != 201:
                return f"HTTP {status}: {answer[:300].decode(errors='replace')}"
            return None

        return work

    return timed_threads(clients, warmup, secs, make_worker, on_window)


def _healthz_worker(base: str, reconnect: int) -> Callable[[int], Callable[[], str | None]]:
    def make_worker(_i: int) -> Callable[[], str | None]:
        client = KeepAliveClient(base, requests_per_connection=reconnect)

        def work() -> str | None:
            status, _ = client.request("GET", "/healthz")
            return None if status == 200 else f"healthz: HTTP {status}"

        return work

    return make_worker


# --------------------------------------------------------------------------- raw baseline

CASE_COLUMNS = (
    "code", "version", "source", "status", "kind", "category_code", "condition_code",
    "lat", "lon", "address", "description", "reporter_name", "reporter_phone",
    "reporter_id", "rework_count", "is_supervised", "paused_seconds", "step",
    "step_started_at", "step_due_at", "created_at", "updated_at", "created_by_id",
    "event_count", "last_event_hash",
)  # fmt: skip
#: The place codes the server found for each body's point (its cases hold them), so that
#: the raw rows carry the same indexed values.
PLACE_COLUMNS = ("grid_code", "community_code", "street_code", "district_code")
EVENT_COLUMNS = (
    "case_id", "seq", "action", "from_status", "to_status", "actor_id", "actor_role",
    "occurred_at", "note", "payload", "prev_hash", "hash",
)  # fmt: skip


def _digest(prev: str, row: list[Any]) -> str:
    body = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def raw_case(
    body: Body, users: dict[str, tuple[int, str]], kinds: dict[str, str], now: datetime
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The column values the service writes for ``body`` (cases row, event row, day)."""
    d = body.json
    user_id, role = users[body.who]
    status = "verified" if d["source"] == "patrol" else "reported"
    case = {
        "version": 1,
        "source": d["source"],
        "status": status,
        "kind": kinds[d["category_code"]],
        "category_code": d["category_code"],
        "condition_code": d.get("condition_code"),
        "lat": d["lat"],
        "lon": d["lon"],
        "address": d.get("address", ""),
        "description": d["description"],
        "reporter_name": d.get("reporter_name"),
        "reporter_phone": d.get("reporter_phone"),
        "reporter_id": user_id if role == "citizen" else None,
        "rework_count": 0,
        "is_supervised": False,
        "paused_seconds": 0.0,
        "step": "file" if status == "verified" else "verify",
        "step_started_at": now,
        "step_due_at": now + timedelta(hours=2),
        "created_at": now,
        "updated_at": now,
        "created_by_id": user_id,
        "event_count": 0,
        "last_event_hash": "",
    }
    payload = json.dumps(
        {
            "category": d["category_code"],
            "condition": d.get("condition_code"),
            "photos": [],
            "source": d["source"],
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    event = {
        "seq": 1,
        "action": "report",
        "from_status": None,
        "to_status": status,
        "actor_id": user_id,
        "actor_role": role,
        "occurred_at": now,
        "note": "",
        "payload": payload,
        "prev_hash": GENESIS,
    }
    return case, event, now.astimezone(CITY_TZ).strftime("%Y%m%d")


def _request_hash(body: Body) -> str:
    return hashlib.sha256(
        json.dumps(body.json, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()


def _stamped(value: Any, sqlite: bool) -> Any:
    """A value as the app stores it: times naive UTC on SQLite, timestamptz on PostgreSQL."""
    if sqlite and isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return value


def raw_run(
    backend: str,
    url: str,
    bodies: list[Body],
    places: dict[int, tuple[str | None, ...]],
    users: dict[str, tuple[int, str]],
    kinds: dict[str, str],
    threads: int,
    warmup: float,
    secs: float,
) -> Run:
    """The same rows, written with plain DB-API calls, one transaction per case.

    As the server writes them: the case numbered and its chain head set in its INSERT,
    its event, its idempotency key; the rows are built before the transaction. SQLite's
    threads meet at SQLite's own lock (a Python lock in front of it, as the server's
    write gate, measured slower here: 670/s against 830-930/s).
    """
    sqlite = backend == "sqlite"
    case_columns = ("id", *CASE_COLUMNS, *PLACE_COLUMNS)
    key_columns = "user_id, key, request_hash, case_id, created_at"
    # SQLite: the day's number and the next id under the write lock, then the rows.
    sqlite_draw = (
        "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) "
        "DO UPDATE SET value = counters.value + 1 "
        "RETURNING value, (SELECT coalesce(max(id), 0) + 1 FROM cases)"
    )
    sqlite_case = (
        f"INSERT INTO cases ({', '.join(case_columns)}) "
        f"VALUES ({', '.join(['?'] * len(case_columns))})"
    )
    sqlite_event = (
        f"INSERT INTO case_events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES ({', '.join(['?'] * len(EVENT_COLUMNS))})"
    )
    sqlite_key = f"INSERT INTO idempotency_keys ({key_columns}) VALUES (?, ?, ?, ?, ?)"
    # PostgreSQL: the id first, then one statement from the counter to the key.
    pg_case_columns = [c for c in case_columns if c != "code"]
    pg_report = (
        "WITH drawn AS (INSERT INTO counters (name, value) VALUES (%s, 1) ON CONFLICT (name) "
        "DO UPDATE SET value = counters.value + 1 RETURNING value), "
        f"new_case AS (INSERT INTO cases (code, {', '.join(pg_case_columns)}) "
        "SELECT %s || lpad(drawn.value::text, greatest(5, length(drawn.value::text)), '0'), "
        f"{', '.join(['%s'] * len(pg_case_columns))} FROM drawn RETURNING id), "
        f"new_event AS (INSERT INTO case_events ({', '.join(EVENT_COLUMNS)}) "
        f"SELECT {', '.join(['%s'] * len(EVENT_COLUMNS))} FROM new_case) "
        f"INSERT INTO idempotency_keys ({key_columns}) SELECT %s, %s, %s, %s, %s FROM new_case"
    )
    pg_nextval = "SELECT nextval(pg_get_serial_sequence('cases', 'id'))"

    def make_worker(i: int) -> Callable[[], str | None]:
        if sqlite:
            import sqlite3

            conn: Any = sqlite3.connect(
                url.removeprefix("sqlite:///"), timeout=30, check_same_thread=False
            )
            conn.isolation_level = None
            for pragma in (
                "journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=30000",
            ):  # fmt: skip
                conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg

            conn = psycopg.connect(_pg_dsn(url))
        state = {"n": i * 7919}

        def write(cur: Any, k: int) -> None:
            body = bodies[k]
            now = datetime.now(UTC)
            case, event, day = raw_case(body, users, kinds, now)
            case.update(zip(PLACE_COLUMNS, places.get(k, (None,) * 4), strict=True))
            key = [event["actor_id"], uuid.uuid4().hex, _request_hash(body), None, now]
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
                value, case_id = cur.execute(sqlite_draw, (f"case:{day}",)).fetchone()
            else:
                case_id = cur.execute(pg_nextval).fetchone()[0]
            digest = _digest(
                GENESIS,
                [
                    case_id, 1, "report", None, event["to_status"], event["actor_id"],
                    event["actor_role"], now.isoformat(timespec="microseconds"), "",
                    event["payload"],
                ],
            )  # fmt: skip
            case.update(id=case_id, event_count=1, last_event_hash=digest)
            event.update(case_id=case_id, hash=digest)
            key[3] = case_id
            events = [_stamped(event[c], sqlite) for c in EVENT_COLUMNS]
            keys = [_stamped(v, sqlite) for v in key]
            if sqlite:
                case["code"] = f"{day}{value:05d}"
                cur.execute(sqlite_case, [_stamped(case[c], sqlite) for c in case_columns])
                cur.execute(sqlite_event, events)
                cur.execute(sqlite_key, keys)
                cur.execute("COMMIT")
            else:
                cases = [case[c] for c in pg_case_columns]
                cur.execute(pg_report, [f"case:{day}", day, *cases, *events, *keys])
                conn.commit()

        def work() -> str | None:
            state["n"] += 1
            cur = conn.cursor()
            try:
                write(cur, state["n"] % len(bodies))
            except Exception as err:
                if sqlite:
                    with contextlib.suppress(Exception):
                        cur.execute("ROLLBACK")
                else:
                    conn.rollback()
                return repr(err)
            finally:
                cur.close()
            return None

        return work

    return timed_threads(threads, warmup, secs, make_worker)


def places_of(backend: str, url: str, bodies: list[Body]) -> dict[int, tuple[str | None, ...]]:
    """The place codes the server stored for each body's point (its cases hold them)."""
    sql = f"SELECT lat, lon, {', '.join(PLACE_COLUMNS)} FROM cases"
    if backend == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        import psycopg

        with psycopg.connect(_pg_dsn(url)) as pconn:
            rows = pconn.execute(sql).fetchall()
    by_point = {(lat, lon): tuple(codes) for lat, lon, *codes in rows}
    found = {}
    for k, body in enumerate(bodies):
        codes = by_point.get((body.json["lat"], body.json["lon"]))
        if codes is not None:
            found[k] = codes
    return found


def lookup_users_and_kinds(
    backend: str, url: str, codes: list[str]
) -> tuple[dict[str, tuple[int, str]], dict[str, str]]:
    names = ("operator", "citizen", "collector")
    if backend == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute("SELECT username, id, role FROM users").fetchall()
            cats = conn.execute("SELECT code, kind FROM categories").fetchall()
    else:
        import psycopg

        with psycopg.connect(_pg_dsn(url)) as pconn:
            rows = pconn.execute("SELECT username, id, role FROM users").fetchall()
            cats = pconn.execute("SELECT code, kind FROM categories").fetchall()
    users = {u: (i, r) for u, i, r in rows if u in names}
    kinds = {c: k for c, k in cats if c in codes}
    return users, kinds


# --------------------------------------------------------------------------- one backend


def bench_backend(backend: str, args: argparse.Namespace) -> Result:
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix=f"duban-bench-{backend}-"))
    try:
        url = prepare_database(backend, tmp, args.pg_database)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
        env.update(
            DUBAN_DATABASE_URL=url,
            DUBAN_VAR_DIR=str(tmp / "var"),
            DUBAN_DEMO_PASSWORD=DEMO_PASSWORD,
        )
        for step in (["init"], ["demo", "--no-serve"]):
            subprocess.run(
                [*duban_command(), *step], env=env, check=True, capture_output=True, timeout=120
            )
        demo_cases = count_cases(backend, url)
        workers = args.workers or DEFAULT_WORKERS
        log = tmp / "server.log"
        print(f"[{backend}] database ready ({demo_cases} demo cases); serving with "
              f"{workers} worker(s), {args.clients} clients, {args.warmup:g} s warm-up + "
              f"{args.seconds:g} s", flush=True)  # fmt: skip
        extra = () if args.access_log else ("--no-access-log",)
        with server(env, workers, log, args.threads, extra) as (base, pid):
            tokens = {who: sign_in(base, who) for who in ("operator", "citizen", "collector")}
            subclasses = fetch_subclasses(base, tokens["operator"], args.categories, rng)
            bodies = make_bodies(rng, subclasses, 4000)
            background = background_load()
            meter = CpuMeter(pid)
            api = api_run(
                base,
                tokens,
                bodies,
                args.clients,
                args.warmup,
                args.seconds,
                args.reconnect,
                meter.start,
            )
            cpu = meter.stop()
            floor_meter = CpuMeter(pid)
            floor = timed_threads(
                args.clients, 1.0, 3.0, _healthz_worker(base, args.reconnect), floor_meter.start
            )
            floor_cpu = floor_meter.stop()
        total = count_cases(backend, url)
        # Exactly one row per 201 answered (warm-up, window and the calls in flight at the end).
        created = total - demo_cases
        expected = api.warmup_ok + api.ok + api.late_ok
        rows_check = "ok" if created == expected else f"MISMATCH: {created} rows, {expected} 201s"
        print(f"[{backend}] API: {api.rate:.0f} cases/s, p99 {api.pct(99):.1f} ms, "
              f"{api.errors} errors; raw baseline…", flush=True)  # fmt: skip
        users, kinds = lookup_users_and_kinds(backend, url, list(subclasses))
        places = places_of(backend, url, bodies)
        raw = raw_run(
            backend,
            url,
            bodies,
            places,
            users,
            kinds,
            args.clients,
            min(args.warmup, 1.0),
            args.seconds,
        )
        return Result(
            backend=backend,
            workers=workers,
            clients=args.clients,
            seconds=args.seconds,
            api_cases=api.ok,
            api_rate=api.rate,
            p50_ms=api.pct(50),
            p95_ms=api.pct(95),
            p99_ms=api.pct(99),
            max_ms=max(api.latencies_ms, default=float("nan")),
            errors=api.errors,
            raw_cases=raw.ok,
            raw_rate=raw.rate,
            raw_errors=raw.errors,
            ratio=api.rate / raw.rate if raw.rate else float("nan"),
            raw_p99_ms=raw.pct(99),
            server_cpu_ms_per_case=cpu["server"] * 10 / api.rate if api.rate else float("nan"),
            cpu_pct=cpu,
            background_pct=background,
            rows_check=rows_check,
            floor_rate=floor.rate,
            floor_cpu_ms=floor_cpu["server"] * 10 / floor.rate if floor.rate else float("nan"),
            error_samples=api.error_samples + raw.error_samples + floor.error_samples,
        )
    finally:
        if args.keep:
            print(f"[{backend}] kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return f"{os.cpu_count()} CPUs ({model}), {mem} RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds first")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients / threads")
    parser.add_argument(
        "--workers", type=int, default=0,
        help=f"server worker processes (default {DEFAULT_WORKERS}: one per core here)",
    )  # fmt: skip
    parser.add_argument(
        "--reconnect", type=int, default=20,
        help="each client opens a new connection every N requests (0: never), so that "
        "the server's processes share the load as behind a proxy",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=0, help="threads per worker (default: the server's)"
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the server's access log (duban serve's default: on)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend (median shown)")
    parser.add_argument("--categories", type=int, default=20, help="subclasses to draw from")
    parser.add_argument("--pg-database", default=PG_DATABASE, help="dropped and recreated")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).astimezone().isoformat(timespec='seconds')}", flush=True)
    # Runs alternate between the backends, so a slow spell of a shared machine does not
    # fall on one backend only; the median run of each backend is its figure.
    results = [bench_backend(b, args) for _ in range(args.repeat) for b in backends]

    header = (
        f"{'backend':<11}{'workers':>8}{'cases/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'errors':>8}{'raw/s':>9}{'ratio':>7}  rows"
    )
    print()
    print(header)
    for r in results:
        print(
            f"{r.backend:<11}{r.workers:>8}{r.api_rate:>9.0f}{r.p50_ms:>8.1f}{r.p95_ms:>8.1f}"
            f"{r.p99_ms:>8.1f}{r.errors:>8}{r.raw_rate:>9.0f}{r.ratio:>7.2f}  {r.rows_check}"
        )
    for r in results:
        print(
            f"{r.backend}: {r.api_cases} cases in {r.seconds:g} s; max {r.max_ms:.1f} ms; "
            f"raw: {r.raw_cases} cases, p99 {r.raw_p99_ms:.1f} ms, {r.raw_errors} errors"
        )
        print(
            f"  HTTP floor (GET /healthz, same clients): {r.floor_rate:.0f} requests/s, "
            f"server {r.floor_cpu_ms:.2f} ms CPU per request"
        )
        cpu = ", ".join(f"{k} {v:.0f} %" for k, v in r.cpu_pct.items())
        print(
            f"  CPU in the timed window (100 % = one core): {cpu}; server "
            f"{r.server_cpu_ms_per_case:.2f} ms CPU per case; others' load before the run "
            f"{r.background_pct:.0f} %"
        )
        if r.background_pct > 20 or r.cpu_pct.get("other", 0) > 20:
            print("  warning: other processes were using the CPU; the figures are pessimistic")
        for sample in r.error_samples:
            print(f"  error: {sample}")
    if args.repeat > 1:
        print(f"\nmedian of {args.repeat} runs (by cases/s), with the range of each figure:")
        for backend in backends:
            runs = sorted((r for r in results if r.backend == backend), key=lambda r: r.api_rate)
            mid = runs[len(runs) // 2]

            def span(name: str, fmt: str, runs: list[Result] = runs) -> str:
                values = [getattr(r, name) for r in runs]
                return f"{format(min(values), fmt)}–{format(max(values), fmt)}"

            print(
                f"{backend:<11} {mid.api_rate:.0f} cases/s ({span('api_rate', '.0f')}), "
                f"p99 {mid.p99_ms:.1f} ms ({span('p99_ms', '.1f')}), raw {mid.raw_rate:.0f}/s "
                f"({span('raw_rate', '.0f')}), ratio {mid.ratio:.2f} ({span('ratio', '.2f')}), "
                f"server {mid.server_cpu_ms_per_case:.2f} ms CPU/case"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": machine(), "date": datetime.now(UTC).isoformat(),
                 "args": {k: str(v) for k, v in vars(args).items()},
                 "results": [asdict(r) for r in results]},
                ensure_ascii=False, indent=2,
            )
        )  # fmt: skip
    failed = any(
        r.errors or r.raw_errors or r.rows_check != "ok" or r.error_samples for r in results
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
