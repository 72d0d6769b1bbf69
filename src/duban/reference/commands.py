"""Commands of reference data: the taxonomy and the working calendar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

taxonomy_app = typer.Typer(help="The 部件/事件 taxonomy and its filing conditions.")
calendar_app = typer.Typer(help="The working calendar: a year's days off and make-up workdays.")


@taxonomy_app.command("load")
def taxonomy_load(
    path: Annotated[
        Path, typer.Argument(help="a taxonomy YAML/JSON file (see duban/data/taxonomy.yaml)")
    ],
) -> None:
    """Replace the live taxonomy with a city's own file (validated first; all or nothing)."""
    from datetime import UTC, datetime

    import yaml

    from duban.kernel.errors import PolicyError
    from duban.reference.categories import install_taxonomy

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise CommandFailed(
            Msg("cannot read {path_name}: {err}", path_name=str(path), err=cause(err)),
            2,
            detail=str(err),
        ) from err
    if not isinstance(data, dict):
        raise CommandFailed(
            Msg("{path_name} does not hold a taxonomy mapping", path_name=str(path)), 2
        )
    with console.database() as session:
        try:
            result = install_taxonomy(session, data, now=datetime.now(UTC))
        except PolicyError as err:
            problems = err.detail.get("problems") or []
            if not problems:
                raise
            for problem in problems:  # the file's editor fixes them all in one go
                typer.echo(f"  - {console.say(problem)}", err=True)
            raise CommandFailed(
                Msg("the taxonomy has {count} problem(s), listed above", count=len(problems)),
                2,
            ) from err
    typer.echo(
        f"taxonomy loaded: {result.categories} categories, {result.conditions} conditions, "
        f"{result.deactivated} retired; fingerprint {result.fingerprint[:12]}"
    )


@taxonomy_app.command("export")
def taxonomy_export() -> None:
    """Print the shipped reference taxonomy (a starting point for a city's own file)."""
    from importlib import resources

    typer.echo(resources.files("duban.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8"))


@calendar_app.command("show")
def calendar_show(year: Annotated[int, typer.Argument(help="the year, e.g. 2027")]) -> None:
    """Print where the year's holidays come from, then each day off (休) and make-up
    workday (班) with its source."""
    from duban.reference.holidays import special_days
    from duban.reference.policy import load_policy

    with console.database() as session:
        source = load_policy(session).calendar.year_source(year)
        days = special_days(session, year)
    typer.echo(f"{year}: {source.value} — {source.label}")
    for item in days:
        kind = "班" if item.is_workday else "休"
        typer.echo(f"{item.day.isoformat()} {kind}  {item.day:%a}  {item.source.value}")


@calendar_app.command("set")
def calendar_set(
    year: Annotated[int, typer.Argument(help="the year, e.g. 2027")],
    path: Annotated[
        Path,
        typer.Argument(
            help="the State Council's schedule, one day or range per line ending 休 or 班 "
            "(e.g. '2027-02-05..2027-02-13 休', '2027-02-14 班'); '-' reads standard input"
        ),
    ],
) -> None:
    """Replace the year's local days with its official schedule, in one step."""
    from duban.kernel.context import Actor, SystemClock
    from duban.kernel.roles import Role
    from duban.reference.holidays import paste_year_schedule

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CommandFailed(
            Msg("cannot read {path_name}: {err}", path_name=str(path), err=cause(err)),
            2,
            detail=str(err),
        ) from err
    actor = Actor(user_id=None, username="cli", role=Role.ADMIN)
    with console.database() as session:
        schedule = paste_year_schedule(
            session, actor=actor, clock=SystemClock(), year=year, text=text
        )
    off = sum(1 for day in schedule.days_off if day.weekday() < 5)
    typer.echo(
        f"{year}: {schedule.source.value}; {len(schedule.days_off)} days off "
        f"({off} on weekdays), {len(schedule.workdays)} make-up workdays"
    )
