"""Commands of hand-overs: ``duban handover load [FILE]``, ``duban handover list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

handover_app = typer.Typer(
    help="Hand-overs (移交): the responsibility list (权责清单) and bodies outside 城管."
)


@handover_app.command("load")
def handover_load(
    file: Annotated[
        Path | None,
        typer.Argument(help="a YAML file shaped like the shipped handover.yaml (default: it)"),
    ] = None,
) -> None:
    """Load bodies (with contacts) and responsibility-list entries; again changes nothing."""
    import yaml

    from duban.handover.policy import shipped_data
    from duban.handover.service import load_list
    from duban.kernel.context import SystemClock

    if file is None:
        data = shipped_data()
    else:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise CommandFailed(
                Msg("cannot read {path_name}: {err}", path_name=str(file), err=cause(err)),
                2,
                detail=str(err),
            ) from err
        if not isinstance(data, dict):
            raise CommandFailed(
                Msg(
                    "{path_name} is not a mapping with 'bodies' and 'responsibilities'",
                    path_name=str(file),
                ),
                2,
            )
    with console.database() as session:
        try:
            bodies, added = load_list(session, data, now=SystemClock().now())
        except (KeyError, TypeError, ValueError) as err:
            raise CommandFailed(
                Msg("malformed entry: {err}", err=cause(err)), 2, detail=str(err)
            ) from err
    typer.echo(f"{bodies} bodies saved, {added} responsibility-list entries added")


@handover_app.command("list")
def handover_list() -> None:
    """The responsibility list, active entries first."""
    from duban.handover.service import list_responsibilities

    with console.database() as session:
        for entry in list_responsibilities(session):
            matter = entry.condition_code or entry.category_code
            flags = (" at-once" if entry.at_once else "") + ("" if entry.is_active else " (off)")
            typer.echo(f"#{entry.id} {matter} → {entry.unit.code} {entry.unit.name}{flags}")
