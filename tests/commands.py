"""Helpers of the command-line tests: run the real ``duban`` Typer app as a script would.

Each capability tests its own commands beside its other tests (``tests/accounts``,
``tests/reference``, ``tests/places``, ``tests/open311``); ``tests/cli`` keeps the root
app's own (``init``, ``demo``, ``serve``, ``--help``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from duban.cli import app
from duban.kernel.db.session import make_session_factory

#: The operator's locale of the tests: English messages, whatever the machine's locale
#: (a test of the Chinese passes ``LC_ALL="zh_CN.UTF-8"``).
LOCALE = {"LC_ALL": "C.UTF-8"}


def runner(url: str, tmp_path: Path) -> CliRunner:
    """A runner whose every ``invoke`` uses the database at ``url``."""
    return CliRunner(
        env={"DUBAN_DATABASE_URL": url, "DUBAN_VAR_DIR": str(tmp_path / "var"), **LOCALE}
    )


def run(url: str, tmp_path: Path, *args: str, **env: str) -> Result:
    """``duban ARGS…`` on the database at ``url``, with ``env`` added to its environment."""
    environment = {
        "DUBAN_DATABASE_URL": url,
        "DUBAN_VAR_DIR": str(tmp_path / "var"),
        **LOCALE,
        **env,
    }
    return CliRunner().invoke(app, list(args), env=environment)


def count(engine: Engine, model: type[Any], *where: Any) -> int:
    """Rows of ``model`` matching ``where``, read through a new session."""
    with make_session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)
