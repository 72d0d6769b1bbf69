"""``duban unit`` and ``duban user``: the accounts' commands that scripts rely on.

Each test runs the real Typer app against this test's database (SQLite file or the
PostgreSQL test database), with the environment a script would set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from duban.accounts.models import User
from duban.accounts.users import authenticate
from duban.kernel.db.session import make_session_factory
from duban.kernel.roles import Role
from tests.commands import count, run


@pytest.mark.usefixtures("fast_hashing")
def test_user_create(engine: Engine, db_url: str, tmp_path: Path) -> None:
    unit = run(db_url, tmp_path, "unit", "create", "SZGC", "市政工程管理处")
    assert unit.exit_code == 0, unit.output
    made = run(
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
    by_option = run(
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
    result = run(
        db_url, tmp_path, "user", "create", "zhao", *args, DUBAN_NEW_PASSWORD="long-enough-pw"
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert count(engine, User) == 0


@pytest.mark.usefixtures("fast_hashing")
def test_user_create_twice_is_refused(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env = {"DUBAN_NEW_PASSWORD": "long-enough-pw"}
    assert (
        run(db_url, tmp_path, "user", "create", "zhao", "--role", "operator", **env).exit_code == 0
    )
    again = run(db_url, tmp_path, "user", "create", "zhao", "--role", "leader", **env)
    assert again.exit_code == 2
    assert "user 'zhao' already exists" in again.output
    assert count(engine, User) == 1


def test_user_create_without_any_password_source_is_refused(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    result = run(db_url, tmp_path, "user", "create", "zhao", "--role", "operator")
    assert result.exit_code == 2
    assert "DUBAN_NEW_PASSWORD" in result.output


# --------------------------------------------------------------------------- taxonomy
