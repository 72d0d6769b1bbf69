"""Two server processes on one PostgreSQL behave as one server (docs/scaling.md).

Web nodes keep nothing of their own: a case written through one is read and acted on
through the other, a token signed by one is good on the other, and an admin's change of
the taxonomy or the policy on one is in force on the other at its next request (each
process checks the stamps of what it caches once per request, kernel/db/stamps.py).
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from duban.reference.categories import shipped_taxonomy_data
from tests.factories import PASSWORD, World
from tests.fakes import FixedClock

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

API = "/api/v1"
SECRET = "two-servers-share-this-secret-of-32-chars"
SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(db_url: str, var_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "DUBAN_DATABASE_URL": db_url,
        "DUBAN_SECRET_KEY": SECRET,
        "DUBAN_VAR_DIR": str(var_dir),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "uvicorn", "duban.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    return process, f"http://127.0.0.1:{port}"


def _wait_until_up(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"the server at {base} exited with {process.returncode}"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the server at {base} did not start in 60 s"
        time.sleep(0.2)


@pytest.fixture
def servers(db_url: str, session: Session, clock: FixedClock, tmp_path: Path) -> Iterator[Any]:
    """Two uvicorn processes on this test's database; yields their base URLs."""
    World(session, clock)
    session.commit()
    started = [_serve(db_url, tmp_path / "var"), _serve(db_url, tmp_path / "var")]
    try:
        for process, base in started:
            _wait_until_up(process, base)
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _token(base: str, username: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}{API}/auth/token", data={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _report(base: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    payload = {
        "source": "hotline",
        "category_code": "E0102",
        "lat": 34.03,
        "lon": 113.82,
        "description": "小区门口暴露垃圾",
        **body,
    }
    return httpx.post(f"{base}{API}/cases", json=payload, headers=headers, timeout=30)


def _act(base: str, case_id: int, action: str, headers: dict[str, str], **body: Any) -> Any:
    response = httpx.post(
        f"{base}{API}/cases/{case_id}/actions/{action}", json=body, headers=headers, timeout=30
    )
    assert response.status_code == 200, f"{action}: {response.text}"
    return response.json()


def _with_shared_bikes(taxonomy: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(taxonomy)
    events = next(c for c in data["classes"] if c["kind"] == "event" and c["code"] == "01")
    events["children"].append(
        {
            "code": "0190",
            "name": "共享单车乱停放",
            "name_en": "Shared bikes parked badly",
            "conditions": [
                {
                    "code": "01",
                    "name": "人行道上成片乱停放",
                    "limit": {"amount": 2, "unit": "work_hours"},
                    "close_rule": "清理归位",
                }
            ],
        }
    )
    return data


def test_two_servers_on_one_database_serve_as_one(servers: list[str]) -> None:
    one, two = servers
    # Tokens are signed with the shared secret: signed in on one, good on both.
    operator, collector, admin = (_token(one, n) for n in ("operator", "collector", "admin"))

    # A case written through one server is read and acted on through the other.
    reported = _report(one, operator)
    assert reported.status_code == 201, reported.text
    case_id = reported.json()["id"]
    seen = httpx.get(f"{two}{API}/cases/{case_id}", headers=operator)
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "reported"
    _act(two, case_id, "assign", operator, collector="collector")
    assert _act(two, case_id, "verify", collector)["status"] == "verified"
    back = httpx.get(f"{one}{API}/cases/{case_id}", headers=operator).json()
    assert back["status"] == "verified"

    # Server two has the taxonomy and the policy in its caches now.
    unknown = _report(two, operator, category_code="E0190")
    assert unknown.status_code == 422, unknown.text
    before = _report(two, operator)
    assert before.status_code == 201, before.text

    # An admin changes both through server one...
    taxonomy = _with_shared_bikes(shipped_taxonomy_data())
    changed = httpx.put(f"{one}{API}/admin/taxonomy", json=taxonomy, headers=admin, timeout=60)
    assert changed.status_code == 200, changed.text
    policy = httpx.get(f"{one}{API}/admin/policy", headers=admin).json()
    policy["steps"]["verify"] = {"amount": 60, "unit": "work_days"}
    changed = httpx.put(f"{one}{API}/admin/policy", json=policy, headers=admin, timeout=30)
    assert changed.status_code == 200, changed.text

    # ...and server two applies them at its very next request.
    after = _report(two, operator, category_code="E0190")
    assert after.status_code == 201, after.text
    due_before = datetime.fromisoformat(before.json()["step_due_at"])
    due_after = datetime.fromisoformat(after.json()["step_due_at"])
    assert due_after - due_before > timedelta(days=60)
