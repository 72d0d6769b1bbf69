"""Commands of ledgers: ``duban ledger import FILE --title T``, ``duban ledger export ID FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

ledger_app = typer.Typer(help="Rectification ledgers (整改台账): import and export .xlsx.")


@ledger_app.command("import")
def ledger_import(
    file: Annotated[Path, typer.Argument(help="an .xlsx in the template (one row per measure)")],
    title: Annotated[str, typer.Option(help="the ledger's title")],
    lang: Annotated[str, typer.Option(help="language of the messages: zh or en")] = "zh",
) -> None:
    """Import a ledger; a bad file is refused whole, every bad cell listed, nothing written."""
    from duban.kernel.context import SYSTEM_ACTOR, SystemClock
    from duban.ledgers.errors import LedgerFileRefused
    from duban.ledgers.imports import import_ledger

    try:
        data = file.read_bytes()
    except OSError as err:
        raise CommandFailed(
            Msg("cannot read {path_name}: {err}", path_name=str(file), err=cause(err)),
            2,
            detail=err.strerror,
        ) from err
    with console.database() as session:
        try:
            done = import_ledger(
                session, actor=SYSTEM_ACTOR, clock=SystemClock(), title=title, data=data, lang=lang
            )
        except LedgerFileRefused as err:
            for row in err.rows:
                where = f"row {row['row']}" if row["row"] else "file"
                column = f", {row['column']}" if row["column"] else ""
                typer.echo(f"  {where}{column}: {row['message']}", err=True)
            raise CommandFailed(err.text, 2) from err
        counts = ", ".join(f"{v} {k}" for k, v in done.counts.items())
        typer.echo(f"imported ledger {done.ledger.id} '{done.ledger.title}': {counts}")


@ledger_app.command("export")
def ledger_export(
    ledger_id: Annotated[int, typer.Argument(help="the ledger's id")],
    file: Annotated[Path, typer.Argument(help="where to write the .xlsx")],
) -> None:
    """Export a ledger in the import template."""
    from duban.kernel.context import SYSTEM_ACTOR
    from duban.ledgers.exports import export_workbook

    with console.database() as session:
        data = export_workbook(session, actor=SYSTEM_ACTOR, ledger_id=ledger_id)
    try:
        file.write_bytes(data)
    except OSError as err:
        raise CommandFailed(
            Msg("cannot write {path_name}: {err}", path_name=str(file), err=cause(err)),
            2,
            detail=err.strerror,
        ) from err
    typer.echo(f"exported ledger {ledger_id} to {file} ({len(data)} bytes)")
