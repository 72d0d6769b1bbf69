"""Commands of places: importing regions and zones, grids, routing rules, locating a point."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

#: ``duban import regions|zones``; the root merges it with the other capabilities' imports.
import_app = typer.Typer()
#: ``duban locate``, a command of the root.
locate_app = typer.Typer()
grids_app = typer.Typer(
    help="Unit grids (单元网格): generate them for communities.", no_args_is_help=True
)
routing_app = typer.Typer(
    help="Routing rules: which unit answers for what, where.", no_args_is_help=True
)


def _print_import_report(report: object) -> None:
    from duban.places.region_import import ImportReport

    assert isinstance(report, ImportReport)
    for note in report.warnings:
        typer.secho(f"  ⚠ {console.say(note)}", fg=typer.colors.YELLOW, err=True)
    for problem in report.problems[:100]:
        typer.echo(
            f"  {console.say(problem.heading):<18} {problem.code:<16} {console.say(problem.text)}",
            err=True,
        )
    if len(report.problems) > 100:
        typer.echo(f"  … and {len(report.problems) - 100} more", err=True)
    typer.echo(console.say(report.summary_text()))


@import_app.command("regions")
def import_regions_command(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile (.shp or .zip)")],
    level: Annotated[str, typer.Option(help="district | street | community | grid")],
    code_field: Annotated[str, typer.Option(help="the property holding the code")],
    name_field: Annotated[str, typer.Option(help="the property holding the name")],
    parent_field: Annotated[
        str | None,
        typer.Option(help="the property holding the parent's code (default: from the code)"),
    ] = None,
    crs: Annotated[
        str, typer.Option(help="coordinates of the file: wgs84 | gcj02 | bd09")
    ] = "wgs84",
    layer: Annotated[str | None, typer.Option(help="the layer (GeoPackage)")] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="retire regions of this level under the same parents that the file leaves out",
        ),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="mend invalid polygons (each repair is listed)"),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate and report; write nothing")
    ] = False,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance-m2",
            help="overlaps, gaps and parts outside the parent up to this many m² are ignored",
        ),
    ] = 1.0,
) -> None:
    """Import regions of one level: validated whole first; a bad file is refused with the
    list of problems and nothing is written. Redrawn regions keep their history."""
    from datetime import UTC, datetime

    from duban.kernel.db.session import make_session_factory
    from duban.kernel.errors import DubanError
    from duban.places.region_import import import_regions

    engine = console.engine(console.settings())
    try:
        with make_session_factory(engine)() as session:
            report = import_regions(
                session,
                file,
                level=level,
                code_field=code_field,
                name_field=name_field,
                parent_field=parent_field,
                crs=crs,
                layer=layer,
                replace=replace,
                repair=repair,
                dry_run=dry_run,
                now=datetime.now(UTC),
                overlap_tolerance_m2=tolerance,
                gap_tolerance_m2=tolerance,
            )
    except DubanError as err:
        raise CommandFailed(err.text, 2) from err
    except ValueError as err:
        raise CommandFailed(
            Msg("cannot import {path_name}: {err}", path_name=str(file), err=cause(err)),
            2,
            detail=str(err),
        ) from err
    finally:
        engine.dispose()
    _print_import_report(report)
    if not report.ok:
        raise typer.Exit(1)


@import_app.command("zones")
def import_zones_command(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile")],
    kind: Annotated[str, typer.Option(help="leader_grid | road_segment | shopfront")],
    code_field: Annotated[str, typer.Option(help="the property holding the zone's code")],
    name_field: Annotated[str, typer.Option(help="the property holding the zone's name")],
    person_field: Annotated[
        str | None, typer.Option(help="the responsible person (网格长 / 路长 / 责任人)")
    ] = None,
    phone_field: Annotated[str | None, typer.Option(help="the person's phone")] = None,
    user_field: Annotated[str | None, typer.Option(help="the person's Duban username")] = None,
    buffer: Annotated[
        float | None, typer.Option(help="road segments: metres around the line (policy default)")
    ] = None,
    crs: Annotated[str, typer.Option(help="wgs84 | gcj02 | bd09")] = "wgs84",
    layer: Annotated[str | None, typer.Option(help="the layer (GeoPackage)")] = None,
) -> None:
    """Import responsibility zones (网格分包, 路长制, 门前三包); all or nothing."""
    from datetime import UTC, datetime

    from duban.places.region_import import import_zones
    from duban.reference import load_policy

    with console.database() as session:
        report = import_zones(
            session,
            file,
            kind=kind,
            code_field=code_field,
            name_field=name_field,
            person_field=person_field,
            phone_field=phone_field,
            user_field=user_field,
            buffer_m=buffer,
            crs=crs,
            layer=layer,
            now=datetime.now(UTC),
            policy=load_policy(session).places,
        )
    for problem in report.problems[:100]:
        typer.echo(f"  {console.say(problem)}", err=True)
    typer.echo(console.say(report.summary_text()))
    if not report.ok:
        raise typer.Exit(1)


@grids_app.command("generate")
def grids_generate(
    community: Annotated[
        list[str] | None,
        typer.Option(help="a community code to (re)generate; repeat for more"),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="every community that has no grids yet")
    ] = False,
    target_area: Annotated[
        float, typer.Option(help="about this many m² per grid (万米单元网格)")
    ] = 10_000.0,
) -> None:
    """Cut communities into unit grids with 15-digit codes (west→east, north→south)."""
    from datetime import UTC, datetime

    from duban.places.grids import generate_grids_for

    if bool(community) == all_:
        raise CommandFailed("give --community CODE (one or more) or --all", 2)
    with console.database() as session:
        report = generate_grids_for(
            session,
            now=datetime.now(UTC),
            community_codes=community or None,
            target_area_m2=target_area,
        )
    for code, reason in report.skipped:
        typer.echo(f"  skipped {code}: {reason}", err=True)
    typer.echo(report.summary())


@routing_app.command("add")
def routing_add(
    unit: Annotated[str, typer.Option(help="lead unit code (主办)")],
    helpers: Annotated[str | None, typer.Option(help="helper unit codes, comma-separated")] = None,
    category: Annotated[
        str | None, typer.Option(help="a major class or subclass code (any if omitted)")
    ] = None,
    condition: Annotated[str | None, typer.Option(help="a filing condition code")] = None,
    place_level: Annotated[
        str | None, typer.Option(help="district | street | community | grid | zone")
    ] = None,
    place: Annotated[str | None, typer.Option(help="the region or zone code")] = None,
    priority: Annotated[int, typer.Option(help="breaks ties; higher wins")] = 0,
    note: Annotated[str, typer.Option(help="why the rule exists")] = "",
) -> None:
    """Add a rule: (category or filing condition, place) → lead unit + helper units."""
    from datetime import UTC, datetime

    from duban.places.routing import add_rule, rule_description

    with console.database() as session:
        rule = add_rule(
            session,
            unit_code=unit,
            helper_units=console.csv_option(helpers),
            category_code=category,
            condition_code=condition,
            place_level=place_level,
            place_code=place,
            priority=priority,
            note=note,
            now=datetime.now(UTC),
        )
        typer.echo(f"added {rule_description(session, rule)}")


@routing_app.command("list")
def routing_list() -> None:
    """The active rules, most specific first, and the territorial units (属地)."""
    from duban.kernel.db.session import make_session_factory
    from duban.places.routing import list_rules, rule_description
    from duban.places.territory import territorial_units

    engine = console.engine(console.settings())
    with make_session_factory(engine)() as session:
        rules = list_rules(session)
        for rule in rules:
            typer.echo(rule_description(session, rule))
        if not rules:
            typer.echo("no routing rules")
        mappings = territorial_units(session)
    engine.dispose()
    for region, region_name, unit, unit_name in mappings:
        typer.echo(f"属地 {region} {region_name or ''} → {unit} {unit_name}")


@routing_app.command("remove")
def routing_remove(rule_id: Annotated[int, typer.Argument(help="the rule's id")]) -> None:
    """Switch a rule off (cases keep the reason they were given)."""
    from duban.places.routing import deactivate_rule

    with console.database() as session:
        deactivate_rule(session, rule_id)
    typer.echo(f"rule #{rule_id} switched off")


@routing_app.command("territorial")
def routing_territorial(
    region: Annotated[str, typer.Argument(help="a street (or district, community) code")],
    unit: Annotated[str, typer.Argument(help="the unit code")],
) -> None:
    """Set the territorial unit (属地) a region's cases fall back to."""
    from duban.places.territory import set_territorial_unit

    with console.database() as session:
        set_territorial_unit(session, region, unit)
    typer.echo(f"属地 {region} → {unit}")


@locate_app.command("locate")
def locate_command(
    lon: Annotated[float, typer.Argument(help="longitude")],
    lat: Annotated[float, typer.Argument(help="latitude")],
    crs: Annotated[str, typer.Option(help="wgs84 | gcj02 | bd09")] = "wgs84",
) -> None:
    """Which grid, community, street and district a point is in (and its zones)."""
    from duban.places.coords import to_wgs84_point
    from duban.places.index import locate

    with console.database() as session:
        wlon, wlat = to_wgs84_point(lon, lat, crs)
        found = locate(session, wlon, wlat)
    typer.echo(f"WGS84 {wlon:.7f} {wlat:.7f}")
    if not found.found:
        raise CommandFailed("outside every region Duban knows", 1)
    for level in ("grid", "community", "street", "district"):
        ref = found.at(level)
        if ref is not None:
            typer.echo(f"  {level:<10} {ref.code:<16} {ref.name or ''}")
    for zone in found.zones:
        typer.echo(f"  {zone.kind:<10} {zone.code:<16} {zone.name} {zone.person_name}")
