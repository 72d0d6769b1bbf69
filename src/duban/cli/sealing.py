"""``duban secrets``: the sealed credentials (:mod:`duban.kernel.db.sealed`).

``duban secrets rotate`` seals every sealed value again with the current
``DUBAN_SECRET_KEY``, after the key changed and the old one was put in
``DUBAN_SECRET_KEY_OLD``; then the old key can be removed.
"""

from __future__ import annotations

import typer

from duban.console import CommandFailed, database
from duban.kernel.errors import Msg

secrets_app = typer.Typer(
    help="Sealed credentials: rotate the key they are sealed with.", no_args_is_help=True
)


@secrets_app.command("rotate")
def rotate() -> None:
    """Seal every sealed credential again with the current DUBAN_SECRET_KEY (one transaction
    per table; idempotent). Values sealed under DUBAN_SECRET_KEY_OLD keys open first."""
    import duban.tables  # noqa: F401  (registers every table's sealed columns)
    from duban.kernel.db.base import Base
    from duban.kernel.db.sealed import SealingKeyError, reseal_all

    with database() as session:
        try:
            done = reseal_all(session, Base.metadata)
        except SealingKeyError as err:
            raise CommandFailed(err.text) from err
    for table in done:
        typer.echo(
            str(
                Msg(
                    "{table}: {resealed} sealed again with the current key, "
                    "{current} already sealed with it",
                    table=table.table,
                    resealed=table.resealed,
                    current=table.current,
                )
            )
        )
