#!/usr/bin/env python
"""Kill -9 soak: no acknowledged report lost, none written twice, across hard crashes.

    python bench/soak.py [--backend sqlite|postgresql|both] [--seconds 60] [--clients 8]
                         [--kill-every 5] [--json results.json]

For each backend it

1. prepares a fresh database (SQLite: a file under a temporary directory; PostgreSQL: the
   ``duban_soak`` database on 127.0.0.1, dropped and recreated) with ``duban init`` and
   ``duban demo --no-serve``;
2. starts the real server (``duban serve``, one worker) and signs in as ``operator``
   (the token outlives restarts: the signing key is kept in ``<var>/secret_key``);
3. runs ``--clients`` threads that POST ``/api/v1/cases``, each report with its own
   ``Idempotency-Key`` and a description naming that key. A report is *acknowledged*
   when a 201 comes back; until then (connection refused or reset, a timeout, a 5xx) the
   client sends the same body with the same key again, as a phone app would;
4. every ``--kill-every`` seconds sends SIGKILL to the server's process group (no
   shutdown, no flush: whatever was in flight is cut off) and starts it again;
5. after ``--seconds``, stops killing, lets every client finish its pending report on a
   server left running, stops the server and counts in the database:

   * **acknowledged**: reports answered 201 (a replay of the first case counts once);
   * **lost**: acknowledged reports whose case is not in the database;
   * **duplicated**: reports (keys) with more than one case in the database;
   * **replayed**: 201s that came with ``Idempotent-Replayed: true`` (the first attempt
     was written, but its answer was lost to a kill).

The exit status is 1 if anything was lost or duplicated. Everything talks to 127.0.0.1
only and stops by itself (about ``--seconds`` + 30 s per backend).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from _server import HOST, duban_command, free_port

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DATABASE = "duban_soak"
DEMO_PASSWORD = "duban-demo"
MARK = "soak-"


@dataclass
class Result:
    backend: str
    seconds: float
    clients: int
    kills: int
    attempts: int
    acknowledged: int
    replayed: int
    unacknowledged: int
    lost: int
    duplicated: int
    cases_written: int


class Server:
    """``duban serve`` on a fixed port, killed with SIGKILL and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [*duban_command(), "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--workers", "1", "--no-access-log", "--no-worker"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self.base, trust_env=False, timeout=2) as c:
            while True:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the server exited early; see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if c.get("/readyz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not get ready within 60 s; see {self.log}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown of any kind."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None


def prepare_database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'duban.db'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    return f"postgresql+psycopg://postgres@{HOST}:5432/{PG_DATABASE}"


def cases_by_key(backend: str, url: str) -> dict[str, list[int]]:
    """The soak's cases in the database, by the key their description names."""
    query = "SELECT id, description FROM cases WHERE description LIKE 'soak-%'"
    if backend == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute(query).fetchall()
    else:
        import psycopg

        with psycopg.connect(f"host={HOST} user=postgres dbname={PG_DATABASE}") as conn:
            rows = conn.execute(query).fetchall()
    found: dict[str, list[int]] = {}
    for case_id, description in rows:
        found.setdefault(str(description).split()[0], []).append(int(case_id))
    return found


def sign_in(base: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with httpx.Client(base_url=base, trust_env=False, timeout=10) as c:
                r = c.post(
                    "/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORD}
                )
                r.raise_for_status()
                return str(r.json()["access_token"])
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Clients:
    """The reporting threads and what they were told."""

    def __init__(self, base: str, token: str, clients: int) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.clients = clients
        self.lock = threading.Lock()
        self.acknowledged: dict[str, int] = {}  # key → case id of the 201
        self.pending: dict[int, str] = {}  # thread → the key it has not had a 201 for
        self.replayed = 0
        self.attempts = 0
        self.stop_new = threading.Event()  # no new reports after this
        self.give_up = threading.Event()  # stop retrying (the end of the run)

    def run(self, n: int) -> None:
        client = httpx.Client(base_url=self.base, trust_env=False, timeout=5)
        try:
            i = 0
            while not self.stop_new.is_set():
                i += 1
                key = f"{MARK}{n}-{i}-{uuid.uuid4().hex[:8]}"
                self._report(client, n, key)
        finally:
            client.close()

    def _report(self, client: httpx.Client, n: int, key: str) -> None:
        body = {
            "source": "hotline",
            "category_code": "E0102",
            "lat": 34.03 + (n % 7) * 0.0003,
            "lon": 113.82 + (n % 5) * 0.0003,
            "description": f"{key} 小区门口暴露垃圾（压测）",
        }
        with self.lock:
            self.pending[n] = key
        while not self.give_up.is_set():
            with self.lock:
                self.attempts += 1
            try:
                r = client.post(
                    "/api/v1/cases", json=body, headers={**self.headers, "Idempotency-Key": key}
                )
            except httpx.HTTPError:
                time.sleep(0.05)  # the server is down or restarting: send it again
                continue
            if r.status_code == 201:
                with self.lock:
                    self.acknowledged[key] = int(r.json()["id"])
                    self.pending.pop(n, None)
                    if r.headers.get("idempotent-replayed") == "true":
                        self.replayed += 1
                return
            if r.status_code >= 500 or r.status_code == 429:
                time.sleep(0.05)
                continue
            raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:300]}")


def soak_backend(backend: str, args: argparse.Namespace) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix=f"duban-soak-{backend}-"))
    url = prepare_database(backend, tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update(DUBAN_DATABASE_URL=url, DUBAN_VAR_DIR=str(tmp / "var"))
    env.update(DUBAN_DEMO_PASSWORD=DEMO_PASSWORD)
    for step in (["init"], ["demo", "--no-serve"]):
        subprocess.run([*duban_command(), *step], env=env, check=True, capture_output=True)
    server = Server(env, tmp / "server.log")
    server.start()
    clients = Clients(server.base, sign_in(server.base), args.clients)
    threads = [
        threading.Thread(target=clients.run, args=(n,), daemon=True) for n in range(args.clients)
    ]
    print(f"[{backend}] {args.clients} clients, kill -9 every {args.kill_every:g} s for "
          f"{args.seconds:g} s", flush=True)  # fmt: skip
    started = time.monotonic()
    for t in threads:
        t.start()
    kills = 0
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(min(args.kill_every, max(0.0, args.seconds - (time.monotonic() - started))))
            if time.monotonic() - started >= args.seconds:
                break
            server.kill()
            kills += 1
            server.start()
        clients.stop_new.set()  # the server stays up now: pending reports get their answer
        for t in threads:
            t.join(timeout=60)
        clients.give_up.set()
    finally:
        server.stop()
    written = cases_by_key(backend, url)
    lost = [k for k in clients.acknowledged if k not in written]
    duplicated = [k for k, ids in written.items() if len(ids) > 1]
    result = Result(
        backend=backend,
        seconds=args.seconds,
        clients=args.clients,
        kills=kills,
        attempts=clients.attempts,
        acknowledged=len(clients.acknowledged),
        replayed=clients.replayed,
        unacknowledged=len(clients.pending),
        lost=len(lost),
        duplicated=len(duplicated),
        cases_written=sum(len(ids) for ids in written.values()),
    )
    print(f"[{backend}] {result.kills} kills, {result.attempts} attempts: "
          f"{result.acknowledged} acknowledged ({result.replayed} as replays), "
          f"{result.unacknowledged} never acknowledged, {result.lost} lost, "
          f"{result.duplicated} duplicated; {result.cases_written} cases written",
          flush=True)  # fmt: skip
    if not lost and not duplicated:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"[{backend}] kept {tmp} for a look", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = [soak_backend(b, args) for b in backends]
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    bad = any(r.lost or r.duplicated for r in results)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
