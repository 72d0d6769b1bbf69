"""The root ``duban`` command line: ``init``, ``demo``, ``serve`` and ``--help``.

Each test runs the real Typer app against this test's database (SQLite file or the
PostgreSQL test database) through ``CliRunner``, with the environment a script would set.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from duban.accounts.models import User
from duban.accounts.users import authenticate
from duban.cases.models import Case
from duban.kernel.db.models import Setting
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.reference.categories import TAXONOMY_KEY, shipped_taxonomy_data
from duban.reference.models import Category, FilingCondition
from tests.commands import count, run

DEMO_ROLES = [
    "citizen",
    "collector",
    "operator",
    "shift_lead",
    "dispatcher",
    "handler",
    "supervisor",
    "leader",
    "admin",
]


def _shipped_counts() -> tuple[int, int]:
    data = shipped_taxonomy_data()
    majors = data["classes"]
    subclasses = [child for major in majors for child in major["children"]]
    conditions = [cond for child in subclasses for cond in child.get("conditions", [])]
    return len(majors) + len(subclasses), len(conditions)


# --------------------------------------------------------------------------- init


def test_init_twice_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'duban.db'}"
    first = run(url, tmp_path, "init")
    assert first.exit_code == 0, first.output
    categories, conditions = _shipped_counts()
    assert f"reference data: {categories} categories, {conditions} filing conditions" in (
        first.output
    )
    assert "database ready: sqlite:///" in first.output
    second = run(url, tmp_path, "init")
    assert second.exit_code == 0, second.output
    assert "reference data" not in second.output  # nothing loaded twice
    engine = make_engine(url)
    try:
        assert count(engine, Category) == categories
        assert count(engine, FilingCondition) == conditions
        assert count(engine, User) == 0  # demo users exist only in demo data
        assert count(engine, Setting, Setting.key == TAXONOMY_KEY) == 1
    finally:
        engine.dispose()


def test_init_twice_on_the_test_database(engine: Engine, db_url: str, tmp_path: Path) -> None:
    before = (count(engine, Category), count(engine, FilingCondition))
    for _ in range(2):
        result = run(db_url, tmp_path, "init")
        assert result.exit_code == 0, result.output
        assert "database ready" in result.output
        assert "reference data" not in result.output
    assert (count(engine, Category), count(engine, FilingCondition)) == before
    assert count(engine, User) == 0
    migrate = run(db_url, tmp_path, "migrate")
    assert migrate.exit_code == 0, migrate.output
    assert "newest revision" in migrate.output


def test_the_database_url_hides_its_password(tmp_path: Path) -> None:
    result = run("postgresql+psycopg://duban:s3cret@127.0.0.1:1/none", tmp_path, "init")
    assert result.exit_code != 0
    assert "s3cret" not in result.output


# --------------------------------------------------------------------------- demo


@pytest.mark.usefixtures("fast_hashing")
def test_demo_prepares_one_user_per_role_and_prints_the_logins(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    result = run(db_url, tmp_path, "demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert "the password is 'duban-demo'" in result.output
    with make_session_factory(engine)() as session:
        for name in DEMO_ROLES:
            assert f"  {name} " in result.output, name
            user = session.scalars(select(User).where(User.username == name)).one()
            assert user.role == Role(name)
            assert authenticate(session, name, "duban-demo") is not None
        handler = session.scalars(select(User).where(User.username == "handler")).one()
        assert handler.unit is not None
        assert session.scalar(select(func.count()).select_from(Case))
    again = run(db_url, tmp_path, "demo", "--no-serve")
    assert again.exit_code == 0, again.output
    assert "already there; nothing changed" in again.output
    assert count(engine, User, User.username == "admin") == 1
    audit = run(db_url, tmp_path, "audit", "verify")
    assert audit.exit_code == 0, audit.output  # the demo's history is hash-chained too


@pytest.mark.usefixtures("fast_hashing")
def test_demo_respects_duban_demo_password(engine: Engine, db_url: str, tmp_path: Path) -> None:
    result = run(db_url, tmp_path, "demo", "--no-serve", DUBAN_DEMO_PASSWORD="other-secret-1")
    assert result.exit_code == 0, result.output
    assert "the password is 'other-secret-1'" in result.output
    with make_session_factory(engine)() as session:
        assert authenticate(session, "dispatcher", "other-secret-1") is not None
        assert authenticate(session, "dispatcher", "duban-demo") is None


# --------------------------------------------------------------------------- users


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run("sqlite://", tmp_path, "--help")
    assert result.exit_code == 0
    for command in ("init", "migrate", "demo", "serve", "jobs", "audit", "user", "taxonomy"):
        assert command in result.output


def test_serve_refuses_a_thread_pool_of_none(tmp_path: Path) -> None:
    result = run("sqlite://", tmp_path, "serve", "--threads", "0")
    assert result.exit_code == 2
    assert "--threads" in result.output
    assert "at least 1" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("access_log", [True, False])
def test_serve_answers_reports_and_logs_access_as_asked(
    db_url: str, engine: Engine, tmp_path: Path, access_log: bool
) -> None:
    """The real server (uvicorn, its start-up and shutdown) on this test's database."""
    import signal
    import subprocess
    import sys
    import time
    from datetime import UTC, datetime, timedelta

    import httpx

    from duban.api.deps import issue_token
    from tests.factories.accounts import make_user
    from tests.http import free_port

    secret = "serve-test-secret-of-32-characters-or-more"
    with make_session_factory(engine)() as session:
        user = make_user(session, "operator", Role.OPERATOR)
        token = issue_token(secret, user, ttl=timedelta(hours=1), now=datetime.now(UTC))
    port = free_port()
    command = [sys.executable, "-c", "from duban.cli import main; main()", "serve"]
    command += ["--port", str(port), "--access-log" if access_log else "--no-access-log"]
    env = {
        "PATH": "/usr/bin:/bin",
        "DUBAN_DATABASE_URL": db_url,
        "DUBAN_VAR_DIR": str(tmp_path / "var"),
        "DUBAN_SECRET_KEY": secret,
    }
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        report = {
            "source": "hotline",
            "category_code": "E0102",
            "lat": 34.03,
            "lon": 113.82,
            "description": "小区门口暴露垃圾",
        }
        response = httpx.post(
            f"{base}/api/v1/cases",
            json=report,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert ('"POST /api/v1/cases HTTP/1.1" 201' in output) is access_log, output
    assert count(engine, Case) == 1


@pytest.mark.usefixtures("engine")
def test_a_refusal_is_printed_in_the_operators_language(db_url: str, tmp_path: Path) -> None:
    """A command's own refusal and a use case's are printed from the catalogue: Chinese
    under a ``zh`` locale, the template's English otherwise, never a traceback."""
    english = run(db_url, tmp_path, "jobs", "run", "tidy")
    assert english.exit_code == 2
    assert "error: unknown job 'tidy'; known jobs: sweep, bulletin" in english.output
    chinese = run(db_url, tmp_path, "jobs", "run", "tidy", LC_ALL="zh_CN.UTF-8")
    assert chinese.exit_code == 2
    assert "错误：未知任务“tidy”；可用任务：sweep、bulletin" in chinese.output
    # LC_ALL wins over LANG, as POSIX orders them
    unset = run(db_url, tmp_path, "jobs", "run", "tidy", LC_ALL="", LANG="zh_CN.UTF-8")
    assert "错误：未知任务" in unset.output

    args = ("unit", "create", "X1", "某单位", "--region", "nowhere")
    refused = run(db_url, tmp_path, *args, LC_ALL="zh_CN.UTF-8")
    assert refused.exit_code == 2
    assert refused.output.startswith("错误：")
    assert not re.search(r"[A-Za-z]{5,}", refused.output.replace("nowhere", ""))
    assert run(db_url, tmp_path, *args).output.startswith("error: ")
