"""The ``duban`` command line that scripts and operators rely on (issue 2, item 9).

Each test runs the real Typer app against this test's database (SQLite file or the
PostgreSQL test database) through ``CliRunner``, with the environment a script would set.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from duban.accounts import users
from duban.accounts.models import User
from duban.accounts.users import authenticate
from duban.cases.models import Case
from duban.cli import app
from duban.kernel.db.models import Setting
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.reference.categories import TAXONOMY_KEY, shipped_taxonomy_data
from duban.reference.models import Category, FilingCondition

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


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Argon2id with test-sized cost: the production cost is slow on purpose.

    A hash records its own parameters, so verification works as in production; only
    the work factor of new hashes is lowered (the demo alone makes 13 of them).
    """
    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _run(url: str, tmp_path: Path, *args: str, **env: str) -> Result:
    environment = {"DUBAN_DATABASE_URL": url, "DUBAN_VAR_DIR": str(tmp_path / "var"), **env}
    return CliRunner().invoke(app, list(args), env=environment)


def _count(engine: Engine, model: type[Any], *where: Any) -> int:
    with make_session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _shipped_counts() -> tuple[int, int]:
    data = shipped_taxonomy_data()
    majors = data["classes"]
    subclasses = [child for major in majors for child in major["children"]]
    conditions = [cond for child in subclasses for cond in child.get("conditions", [])]
    return len(majors) + len(subclasses), len(conditions)


# --------------------------------------------------------------------------- init


def test_init_twice_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'duban.db'}"
    first = _run(url, tmp_path, "init")
    assert first.exit_code == 0, first.output
    categories, conditions = _shipped_counts()
    assert f"reference data: {categories} categories, {conditions} filing conditions" in (
        first.output
    )
    assert "database ready: sqlite:///" in first.output
    second = _run(url, tmp_path, "init")
    assert second.exit_code == 0, second.output
    assert "reference data" not in second.output  # nothing loaded twice
    engine = make_engine(url)
    try:
        assert _count(engine, Category) == categories
        assert _count(engine, FilingCondition) == conditions
        assert _count(engine, User) == 0  # demo users exist only in demo data
        assert _count(engine, Setting, Setting.key == TAXONOMY_KEY) == 1
    finally:
        engine.dispose()


def test_init_twice_on_the_test_database(engine: Engine, db_url: str, tmp_path: Path) -> None:
    before = (_count(engine, Category), _count(engine, FilingCondition))
    for _ in range(2):
        result = _run(db_url, tmp_path, "init")
        assert result.exit_code == 0, result.output
        assert "database ready" in result.output
        assert "reference data" not in result.output
    assert (_count(engine, Category), _count(engine, FilingCondition)) == before
    assert _count(engine, User) == 0
    migrate = _run(db_url, tmp_path, "migrate")
    assert migrate.exit_code == 0, migrate.output
    assert "newest revision" in migrate.output


def test_the_database_url_hides_its_password(tmp_path: Path) -> None:
    result = _run("postgresql+psycopg://duban:s3cret@127.0.0.1:1/none", tmp_path, "init")
    assert result.exit_code != 0
    assert "s3cret" not in result.output


# --------------------------------------------------------------------------- demo


@pytest.mark.usefixtures("fast_hashing")
def test_demo_prepares_one_user_per_role_and_prints_the_logins(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    result = _run(db_url, tmp_path, "demo", "--no-serve")
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
    again = _run(db_url, tmp_path, "demo", "--no-serve")
    assert again.exit_code == 0, again.output
    assert "already there; nothing changed" in again.output
    assert _count(engine, User, User.username == "admin") == 1
    audit = _run(db_url, tmp_path, "audit", "verify")
    assert audit.exit_code == 0, audit.output  # the demo's history is hash-chained too


@pytest.mark.usefixtures("fast_hashing")
def test_demo_respects_duban_demo_password(engine: Engine, db_url: str, tmp_path: Path) -> None:
    result = _run(db_url, tmp_path, "demo", "--no-serve", DUBAN_DEMO_PASSWORD="other-secret-1")
    assert result.exit_code == 0, result.output
    assert "the password is 'other-secret-1'" in result.output
    with make_session_factory(engine)() as session:
        assert authenticate(session, "dispatcher", "other-secret-1") is not None
        assert authenticate(session, "dispatcher", "duban-demo") is None


# --------------------------------------------------------------------------- users


@pytest.mark.usefixtures("fast_hashing")
def test_user_create(engine: Engine, db_url: str, tmp_path: Path) -> None:
    unit = _run(db_url, tmp_path, "unit", "create", "SZGC", "市政工程管理处")
    assert unit.exit_code == 0, unit.output
    made = _run(
        db_url,
        tmp_path,
        "user",
        "create",
        "wang",
        "--role",
        "handler",
        "--unit",
        "SZGC",
        "--name",
        "王工",
        DUBAN_NEW_PASSWORD="long-enough-pw",
    )
    assert made.exit_code == 0, made.output
    assert "created user 'wang' (role handler)" in made.output
    with make_session_factory(engine)() as session:
        user = authenticate(session, "wang", "long-enough-pw")
        assert user is not None
        assert (user.role, user.display_name) == (Role.HANDLER, "王工")
        assert user.unit is not None
        assert user.unit.code == "SZGC"
        assert not user.password_hash.startswith("long")  # hashed, never stored as given
    by_option = _run(
        db_url,
        tmp_path,
        "user",
        "create",
        "li",
        "--role",
        "dispatcher",
        "--password",
        "pw-12345678",
    )
    assert by_option.exit_code == 0, by_option.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "handler"], "a unit handler needs a unit (--unit CODE)"),
        (["--role", "handler", "--unit", "NOPE"], "unknown unit 'NOPE'"),
        (["--role", "boss"], "unknown role 'boss'; one of: citizen, collector"),
        (["--role", "system"], "'system' is not a role a person can have"),
        (["--role", "dispatcher", "--unit", "SZGC"], "does not belong to a unit"),
        (["--role", "dispatcher", "--password", "short"], "at least 8 characters"),
    ],
)
def test_user_create_refuses_bad_input_with_exit_2(
    engine: Engine, db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    result = _run(
        db_url, tmp_path, "user", "create", "zhao", *args, DUBAN_NEW_PASSWORD="long-enough-pw"
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert _count(engine, User) == 0


@pytest.mark.usefixtures("fast_hashing")
def test_user_create_twice_is_refused(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env = {"DUBAN_NEW_PASSWORD": "long-enough-pw"}
    assert (
        _run(db_url, tmp_path, "user", "create", "zhao", "--role", "operator", **env).exit_code == 0
    )
    again = _run(db_url, tmp_path, "user", "create", "zhao", "--role", "leader", **env)
    assert again.exit_code == 2
    assert "user 'zhao' already exists" in again.output
    assert _count(engine, User) == 1


def test_user_create_without_any_password_source_is_refused(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    result = _run(db_url, tmp_path, "user", "create", "zhao", "--role", "operator")
    assert result.exit_code == 2
    assert "DUBAN_NEW_PASSWORD" in result.output


# --------------------------------------------------------------------------- taxonomy


def _city_taxonomy() -> dict[str, Any]:
    """The shipped taxonomy as a city would change it: one class gone, one new."""
    data = copy.deepcopy(shipped_taxonomy_data())
    data["name"] = "某市城市管理部件事件分类"
    data["classes"] = [c for c in data["classes"] if (c["kind"], c["code"]) != ("component", "01")]
    data["classes"].append(
        {
            "kind": "event",
            "code": "99",
            "name": "共享出行",
            "children": [
                {
                    "code": "9901",
                    "name": "共享单车乱停放",
                    "keywords": ["共享单车"],
                    "conditions": [
                        {
                            "code": "01",
                            "name": "占用盲道或阻碍通行",
                            "limit": {"amount": 2, "unit": "work_hours"},
                            "close_rule": "车辆已清理或规范停放",
                        }
                    ],
                }
            ],
        }
    )
    return data


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_city_replaces_the_taxonomy(engine: Engine, db_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "city.yaml", _city_taxonomy())
    result = _run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert result.exit_code == 0, result.output
    assert "taxonomy loaded" in result.output
    with make_session_factory(engine)() as session:
        new = session.get(Category, "E9901")
        assert new is not None
        assert (new.name, new.kind, new.level, new.parent_code, new.is_active) == (
            "共享单车乱停放",
            "event",
            2,
            "E99",
            True,
        )
        condition = session.get(FilingCondition, "E990101")
        assert condition is not None
        assert (condition.limit_amount, condition.limit_unit) == (2, "work_hours")
        for code in ("C01", "C0101"):
            gone = session.get(Category, code)
            assert gone is not None  # old cases keep their codes ...
            assert not gone.is_active  # ... but the class is retired
        retired = session.get(FilingCondition, "C010101")
        assert retired is not None
        assert not retired.is_active
        kept = session.get(Category, "E0102")
        assert kept is not None
        assert kept.is_active
        meta = session.get(Setting, TAXONOMY_KEY)
        assert meta is not None
        assert meta.value["name"] == "某市城市管理部件事件分类"
    assert f"{len(_shipped_component_01())} retired" in result.output

    # Loading the same file again changes nothing.
    again = _run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert again.exit_code == 0, again.output


def _shipped_component_01() -> list[str]:
    major = next(
        c
        for c in shipped_taxonomy_data()["classes"]
        if (c["kind"], c["code"]) == ("component", "01")
    )
    return ["C01", *(f"C{child['code']}" for child in major["children"])]


def test_a_broken_taxonomy_is_refused_whole_with_every_problem_listed(
    engine: Engine, db_url: str, tmp_path: Path, session: Session
) -> None:
    data = _city_taxonomy()
    new = data["classes"][-1]["children"][0]
    new["conditions"][0]["limit"] = {"amount": 2, "unit": "fortnights"}
    new["conditions"].append({"code": "01", "name": "重复编号", "limit": "2 work_hours"})
    data["classes"][0]["children"][0]["name"] = ""
    path = _write(tmp_path / "broken.yaml", data)
    before = (
        _count(engine, Category, Category.is_active),
        _count(engine, FilingCondition, FilingCondition.is_active),
    )
    result = _run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert result.exit_code == 2, result.output
    assert "fortnights" in result.output
    assert "duplicate code E990101" in result.output
    assert "'name' is empty" in result.output
    after = (
        _count(engine, Category, Category.is_active),
        _count(engine, FilingCondition, FilingCondition.is_active),
    )
    assert after == before
    assert session.get(Category, "E9901") is None
    kept = session.get(Category, "C01")
    assert kept is not None
    assert kept.is_active


@pytest.mark.parametrize(
    ("content", "message"),
    [("- just\n- a list\n", "does not hold a taxonomy mapping"), ("{unclosed: [", "cannot read")],
)
def test_an_unreadable_taxonomy_file_is_refused(
    engine: Engine, db_url: str, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = _run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert result.exit_code == 2
    assert message in result.output
    missing = _run(db_url, tmp_path, "taxonomy", "load", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2


def test_taxonomy_export_prints_a_loadable_file(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    exported = _run(db_url, tmp_path, "taxonomy", "export")
    assert exported.exit_code == 0
    path = tmp_path / "exported.yaml"
    path.write_text(exported.output, encoding="utf-8")
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == shipped_taxonomy_data()
    loaded = _run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert loaded.exit_code == 0, loaded.output
    assert "0 retired" in loaded.output


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = _run("sqlite://", tmp_path, "--help")
    assert result.exit_code == 0
    for command in ("init", "migrate", "demo", "serve", "jobs", "audit", "user", "taxonomy"):
        assert command in result.output


def test_serve_refuses_a_thread_pool_of_none(tmp_path: Path) -> None:
    result = _run("sqlite://", tmp_path, "serve", "--threads", "0")
    assert result.exit_code == 2
    assert "--threads" in result.output
    assert "at least 1" in result.output


@pytest.mark.parametrize("access_log", [True, False])
def test_serve_answers_reports_and_says_how_they_were_written(
    db_url: str, engine: Engine, tmp_path: Path, access_log: bool
) -> None:
    """The real server (uvicorn, its start-up and shutdown) on this test's database."""
    import signal
    import socket
    import subprocess
    import sys
    import time
    from datetime import UTC, datetime, timedelta

    import httpx

    from duban.api.deps import issue_token
    from tests.factories import make_user

    secret = "serve-test-secret-of-32-characters-or-more"
    with make_session_factory(engine)() as session:
        user = make_user(session, "operator", Role.OPERATOR)
        token = issue_token(secret, user, ttl=timedelta(hours=1), now=datetime.now(UTC))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
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
    assert "intake: 1 reports written in 1 transactions" in output, output
    assert ('"POST /api/v1/cases HTTP/1.1" 201' in output) is access_log, output
    assert _count(engine, Case) == 1
