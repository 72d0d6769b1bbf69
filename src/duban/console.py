"""What every capability's commands share: the configured database and refusing a command.

Each capability keeps its Typer commands in ``<capability>/commands.py``; :mod:`duban.cli`
mounts them. Heavy imports (SQLAlchemy, the settings) are deferred so that ``--help``
stays quick.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from duban.kernel.errors import Msg

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from duban.config import Settings


class CommandFailed(typer.Exit):
    """A command refused: prints ``error: <message>`` on standard error and exits ``code``.

    Raise it where the command stops, with a catalogue template like a domain error:
    ``raise CommandFailed(Msg("cannot read {path_name}: {err}", ...), 2)``. The message is
    printed in the operator's language (:func:`operator_language`): the Chinese of the
    catalogue, or the template as written (its English names the flags and files an
    operator types); ``text`` keeps the template, ``message`` its English.
    """

    def __init__(self, message: str | Msg, code: int = 1, *, detail: str | None = None) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        self.message = str(self.text)
        typer.secho(say(Msg("error: {message}", message=self.text)), fg=typer.colors.RED, err=True)
        if detail:  # a library's own words, for the operator who has to fix the file
            typer.secho(f"  ({detail})", err=True)
        super().__init__(code)


def operator_language() -> str:
    """``zh`` or ``en``: the language of the operator's locale (``LC_ALL``, else
    ``LC_MESSAGES``, else ``LANG``, as POSIX orders them); Chinese for a ``zh`` locale."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def say(text: str | Msg) -> str:
    """A catalogue message as the operator reads it (see :class:`CommandFailed`)."""
    from duban.web.i18n import translate

    lang = operator_language()
    return translate(text, "zh" if lang == "zh" else "api")


def settings() -> Settings:
    """The settings of this environment (``DUBAN_*`` variables)."""
    from duban.config import Settings

    return Settings()


def engine(settings: Settings) -> Engine:
    """An engine on the configured database (dispose of it when done)."""
    from duban.kernel.db.session import make_engine

    return make_engine(settings.database_url)


@contextlib.contextmanager
def database() -> Iterator[Session]:
    """A session on the configured database; a refused use case exits 2 with its message."""
    from duban.kernel.db.session import make_session_factory
    from duban.kernel.errors import DubanError

    bound = engine(settings())
    try:
        with make_session_factory(bound)() as session:
            yield session
    except DubanError as err:
        raise CommandFailed(err.text, 2) from err
    finally:
        bound.dispose()


def csv_option(value: str | None) -> list[str]:
    """The items of a comma-separated option, blanks dropped."""
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def safe_url(url: str) -> str:
    """A database URL fit to print (the password hidden)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
