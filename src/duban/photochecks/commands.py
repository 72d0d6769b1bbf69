"""Commands of the photo checks."""

from __future__ import annotations

from typing import Annotated

import typer

from duban import console

photos_app = typer.Typer(help="Photos: prints for the photo checks.", no_args_is_help=True)


@photos_app.command("backfill-prints")
def backfill(
    limit: Annotated[int, typer.Option(min=1, help="at most this many photos")] = 100_000,
) -> None:
    """Print photos uploaded before the photo checks existed (decoded once, from the store),
    so their later feedback is checked and the reuse index knows them."""
    from datetime import UTC, datetime

    from duban.adapters.photostore import photo_store_for
    from duban.photochecks.checks import backfill_prints

    store = photo_store_for(console.settings())
    with console.database() as session:
        done = backfill_prints(session, store, now=datetime.now(UTC), limit=limit)
    typer.echo(f"printed {done} photos")
