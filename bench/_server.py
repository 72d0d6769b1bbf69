"""What the benchmarks share: start the real ``duban serve`` on 127.0.0.1 and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def duban_command() -> list[str]:
    """The installed ``duban`` script beside this Python, or the module."""
    script = Path(sys.executable).with_name("duban")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from duban.cli import main; main()"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """Run ``duban serve`` until /healthz answers; yield (base URL, pid); stop it after."""
    port = free_port()
    cmd = [
        *duban_command(),
        "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base, trust_env=False, timeout=2) as c:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server exited early; see {log}:\n{log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if c.get("/healthz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not answer /healthz within 60 s; see {log}")
                time.sleep(0.1)
        yield base, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
