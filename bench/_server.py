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


#: How long a server may take to answer its first /healthz.
STARTUP_SECONDS = 240


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
def server(
    env: dict[str, str],
    workers: int,
    log: Path,
    threads: int = 0,
    extra: tuple[str, ...] = (),
) -> Iterator[tuple[str, int]]:
    """Run ``duban serve`` (with ``extra`` arguments) until /healthz answers; yield
    (base URL, pid); stop it after.
    ``threads``: threads per worker (0: the server's default)."""
    port = free_port()
    cmd = [
        *duban_command(),
        "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
        "--no-worker",  # measure the requests, not the sweep running beside them
    ]  # fmt: skip
    cmd += list(extra)
    if threads:
        cmd += ["--threads", str(threads)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://{HOST}:{port}"
    try:
        # Two workers importing the app take over a minute on a shared, loaded 2-core VM.
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(base_url=base, trust_env=False, timeout=2) as c:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server exited early; see {log}:\n{log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if c.get("/healthz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"the server did not answer /healthz within {STARTUP_SECONDS} s; see {log}"
                    )
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


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client for load generation.

    httpx costs about 1 ms of CPU per request here, and the clients share the machine's
    two cores with the server, so at a few hundred requests per second the load
    generator would take most of a core from the system under test. This client sends
    prebuilt requests over one socket and reads ``Content-Length`` framed answers (what
    uvicorn sends for these endpoints): about a tenth of the cost.
    """

    def __init__(self, base: str, timeout: float = 30.0, requests_per_connection: int = 0) -> None:
        host, port = base.removeprefix("http://").split(":")
        # With several server processes, whichever is idle accepts a new connection;
        # a connection kept for ever stays with the process that took it (often all of
        # them with one process, as they open together). Reconnecting every few requests
        # spreads the load as a proxy's connection churn does. 0: keep it for ever.
        self.requests_per_connection = requests_per_connection
        self.sent = 0
        self.address = (host, int(port))
        self.host_header = f"{host}:{port}".encode()
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request; return ``(status, body)``. Reconnects once if the server
        closed the kept-alive connection."""
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host_header]
        head += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
        head.append(b"Content-Length: " + str(len(body)).encode())
        data = b"\r\n".join(head) + b"\r\n\r\n" + body
        self.sent += 1
        if self.requests_per_connection and self.sent % self.requests_per_connection == 0:
            self.close()
        for attempt in (1, 2):
            sock = self.sock or self._connect()
            try:
                sock.sendall(data)
                return self._read(sock)
            except (ConnectionError, EOFError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read(self, sock: socket.socket) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise ValueError("chunked answers are not supported by this client")
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection mid-answer")
            rest += chunk
        body, self.buffer = rest[:length], rest[length:]
        if close:
            self.close()
        return status, body
