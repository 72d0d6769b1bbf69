"""Commands of accounts: users and responsible units."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

user_app = typer.Typer(help="Manage users.")
unit_app = typer.Typer(help="Manage responsible units.")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[
        str,
        typer.Option(
            help="citizen, collector, operator, shift_lead, "
            "dispatcher, handler, supervisor, leader, admin"
        ),
    ],
    unit: Annotated[str | None, typer.Option(help="unit code (handlers only)")] = None,
    region: Annotated[
        str | None,
        typer.Option(help="territory: a district or street code (none: city-wide)"),
    ] = None,
    name: Annotated[str, typer.Option(help="display name")] = "",
    phone: Annotated[str | None, typer.Option(help="phone number")] = None,
    password: Annotated[
        str | None, typer.Option(help="password (default: $DUBAN_NEW_PASSWORD, else asked for)")
    ] = None,
) -> None:
    """Create a user with a role (and a unit for handlers, a territory for district or
    street staff)."""
    from duban.accounts.users import create_user
    from duban.kernel.context import SystemClock

    password = password or os.environ.get("DUBAN_NEW_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CommandFailed(
                "give --password or set DUBAN_NEW_PASSWORD (no terminal to ask on)", 2
            )
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with console.database() as session:
        user = create_user(
            session,
            clock=SystemClock(),
            username=username,
            password=password,
            role=role,
            unit_code=unit,
            region_code=region,
            display_name=name,
            phone=phone,
        )
        scope = f", territory {user.region_code}" if user.region_code else ""
        typer.echo(f"created user '{user.username}' (role {user.role.value}{scope})")


@unit_app.command("create")
def unit_create(
    code: Annotated[str, typer.Argument(help="unit code")],
    name: Annotated[str, typer.Argument(help="unit name, e.g. 市政工程管理处")],
    kind: Annotated[str, typer.Option(help="professional | territorial")] = "professional",
    name_en: Annotated[
        str | None, typer.Option("--name-en", help="English name, for English pages")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="district or street code: a unit of that region's platform (二级派遣)"),
    ] = None,
) -> None:
    """Add a responsible unit."""
    from duban.accounts.users import create_unit

    with console.database() as session:
        create_unit(session, code=code, name=name, kind=kind, name_en=name_en, region_code=region)
        scope = f", platform {region}" if region else ""
        typer.echo(f"created unit {code} {name}{scope}")


@user_app.command("signout")
def user_signout(
    username: Annotated[str, typer.Argument(help="the account to sign out")],
) -> None:
    """End every token and web session of the account (a machine client's token too)."""
    from sqlalchemy import select

    from duban.accounts.models import User
    from duban.accounts.users import sign_out_everywhere

    with console.database() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise CommandFailed("there is no user of that name", 1)
        sign_out_everywhere(session, user)
    typer.echo(f"signed out '{username}': every token and session of it ends")


@user_app.command("beat")
def user_beat(
    username: Annotated[str, typer.Argument(help="the collector")],
    file: Annotated[
        Path | None,
        typer.Argument(help="GeoJSON file: a (Multi)Polygon, a Feature, or a collection of one"),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="clear the beat instead")] = False,
) -> None:
    """Draw a collector's beat (责任区) from a GeoJSON file, or clear it; the unit grids it
    covers are resolved at once (漏报 counts others' reports in them)."""
    from duban.accounts.beats import MAX_BEAT_BYTES, beat_grid_counts, parse_beat_file
    from duban.accounts.users import set_beat

    if clear == (file is not None):
        raise CommandFailed("give a GeoJSON file or --clear (one of them)", 2)
    data = b""
    if file is not None:
        try:
            with file.open("rb") as given:
                data = given.read(MAX_BEAT_BYTES + 1)
        except OSError as err:
            raise CommandFailed(
                Msg("cannot read {path_name}: {err}", path_name=str(file), err=cause(err)),
                2,
                detail=err.strerror,
            ) from err
    with console.database() as session:
        beat: Any = parse_beat_file(data) if file is not None else None
        user = set_beat(session, username=username, beat=beat)
        grids = beat_grid_counts(session, [user.id]).get(user.id, 0)
    if clear:
        typer.echo(f"cleared the beat of '{username}'")
    else:
        typer.echo(f"drew the beat of '{username}': {grids} unit grids")
