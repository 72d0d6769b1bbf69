"""Commands of Open311: API keys of clients, bulk export and import, the configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

apikey_app = typer.Typer(
    help="API keys of Open311 clients (stored hashed, revocable).", no_args_is_help=True
)
export_app = typer.Typer(help="Export data.", no_args_is_help=True)
#: ``duban import open311``; the root merges it with the other capabilities' imports.
import_app = typer.Typer()
open311_app = typer.Typer(help="The Open311 endpoint's configuration.", no_args_is_help=True)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="the client, e.g. fixmystreet")],
    unit: Annotated[
        str | None,
        typer.Option(help="a lower platform's key: the unit (code) it stands for"),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="district or street code: the key reads and reports in it only"),
    ] = None,
) -> None:
    """Issue a key to a client and print it once (only its hash is kept). With ``--unit``,
    the client is a lower platform (a district's Duban): its updates on cases dispatched
    to that unit are the unit's feedback (处理反馈) or return (回退)."""
    from duban.kernel.context import SystemClock
    from duban.open311.apikeys import create_api_key

    with console.database() as session:
        issued = create_api_key(
            session, name=name, clock=SystemClock(), unit_code=unit, region_code=region
        )
    typer.echo(issued.key)
    typer.echo(f"API key for '{issued.name}' (shown only now; send it as api_key)", err=True)


@apikey_app.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Argument(help="the client's key name")]) -> None:
    """Revoke a client's key; it stops working at once."""
    from duban.kernel.context import SystemClock
    from duban.open311.apikeys import revoke_api_key

    with console.database() as session:
        info = revoke_api_key(session, name=name, clock=SystemClock())
    typer.echo(f"revoked '{info.name}' ({info.prefix}…) at {info.revoked_at:%Y-%m-%d %H:%M:%S %Z}")


@apikey_app.command("list")
def apikey_list() -> None:
    """The keys issued so far (names and prefixes, never the keys)."""
    from duban.kernel.db.session import make_session_factory
    from duban.open311.apikeys import list_api_keys

    engine = console.engine(console.settings())
    with make_session_factory(engine)() as session:
        keys = list_api_keys(session)
    engine.dispose()
    if not keys:
        typer.echo("no API keys yet: duban apikey create NAME")
    for key in keys:
        state = "active" if key.is_active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        scope = f"  territory {key.region_code}" if key.region_code else ""
        typer.echo(
            f"{key.name:<24} {key.prefix}…  created {key.created_at:%Y-%m-%d %H:%M}  {state}{scope}"
        )


@export_app.command("open311")
def export_open311(
    file: Annotated[str, typer.Argument(help="the file to write, '-' for standard output")],
    format_: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    status: Annotated[
        str | None,
        typer.Option(help="open, closed, an extended status or Duban statuses, comma-separated"),
    ] = None,
    service_code: Annotated[
        str | None, typer.Option(help="service codes (a major class takes its subclasses)")
    ] = None,
    source: Annotated[str | None, typer.Option(help="sources, comma-separated")] = None,
    unit: Annotated[str | None, typer.Option(help="lead unit code")] = None,
    created_from: Annotated[
        str | None, typer.Option("--from", help="created at or after (ISO date/datetime)")
    ] = None,
    created_to: Annotated[
        str | None, typer.Option("--to", help="created before (ISO date/datetime)")
    ] = None,
    base_url: Annotated[str, typer.Option(help="prefix of photo URLs, e.g. https://city")] = "",
    region: Annotated[
        str | None, typer.Option(help="only the cases of this district or street")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--for-key", help="only what the named API key may see (its territory)"),
    ] = None,
) -> None:
    """Export cases in the Open311 bulk layout (CSV or JSON)."""
    import contextlib

    from duban.cases import Source
    from duban.kernel.parsing import parse_datetime
    from duban.open311.bulk_export import export_filter, export_rows, write_csv, write_json
    from duban.reference import load_policy

    if format_ not in ("csv", "json"):
        raise CommandFailed("--format is csv or json", 2)
    with console.database() as session:
        tz = load_policy(session).tz
        try:
            sources = [Source(s) for s in console.csv_option(source)]
        except ValueError as err:
            raise CommandFailed(Msg("unknown source in '{sources}'", sources=source), 2) from err
        filters = export_filter(
            statuses=console.csv_option(status),
            service_codes=console.csv_option(service_code),
            sources=sources,
            unit_code=unit,
            created_from=parse_datetime(created_from, "from", tz),
            created_to=parse_datetime(created_to, "to", tz),
            region=_export_region(session, region, api_key),
        )
        rows = export_rows(session, filters=filters, tz=tz, base_url=base_url.rstrip("/"))
        with contextlib.ExitStack() as stack:
            out = (
                sys.stdout
                if file == "-"
                else stack.enter_context(Path(file).open("w", encoding="utf-8", newline=""))
            )
            count = (write_json if format_ == "json" else write_csv)(rows, out)
    typer.echo(f"exported {count} case(s)", err=True)


def _export_region(session: Session, region: str | None, key_name: str | None) -> str | None:
    """The territory an export covers: ``--region``, or the one of the key ``--for-key``
    names (a key of the whole city: none). Both must agree when both are given."""
    from sqlalchemy import select

    from duban.open311.models import ApiKey

    if key_name is None:
        return region
    key = session.scalars(select(ApiKey).where(ApiKey.name == key_name)).first()
    if key is None or key.revoked_at is not None:
        raise CommandFailed(Msg("no active API key named '{key_name}'", key_name=key_name), 2)
    if region is not None and key.region_code is not None and region != key.region_code:
        raise CommandFailed(
            Msg(
                "the key '{key_name}' covers {key_region}, not {region}",
                key_name=key_name,
                key_region=key.region_code,
                region=region,
            ),
            2,
        )
    return key.region_code or region


@import_app.command("open311")
def import_open311(
    file: Annotated[Path, typer.Argument(help="a CSV or JSON file of requests")],
    format_: Annotated[
        str | None, typer.Option("--format", help="csv or json (default: from the file name)")
    ] = None,
    mapping: Annotated[
        str, typer.Option(help="open311 (the bulk layout) or sf311 (San Francisco 311 export)")
    ] = "open311",
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="import the good rows and report the bad ones (default: all or nothing)",
        ),
    ] = False,
    source: Annotated[
        str, typer.Option(help="source of rows that name none (default: third-party inspection)")
    ] = "inspection",
    user: Annotated[
        str | None, typer.Option(help="report as this user (default: the importer, as admin)")
    ] = None,
    errors: Annotated[
        Path | None, typer.Option(help="write the per-row error report to this CSV file")
    ] = None,
) -> None:
    """Import a file of requests as new reports, in one transaction, with a per-row report."""
    from sqlalchemy import select

    from duban.accounts import User, actor_of
    from duban.cases import Source
    from duban.kernel.context import Actor, SystemClock
    from duban.kernel.roles import Role
    from duban.open311.bulk_import import MAPPINGS, import_file, write_error_report
    from duban.reference import load_policy

    if mapping not in MAPPINGS:
        raise CommandFailed(
            Msg(
                "unknown mapping '{mapping}'; one of: {mappings}",
                mapping=mapping,
                mappings=", ".join(MAPPINGS),
            ),
            2,
        )
    try:
        default_source = Source(source)
    except ValueError as err:
        raise CommandFailed(Msg("unknown source '{given}'", given=source), 2) from err
    if not file.exists():
        raise CommandFailed(Msg("{path_name} does not exist", path_name=str(file)), 2)
    with console.database() as session:
        actor = Actor(user_id=None, username="import", role=Role.ADMIN)
        if user:
            row = session.scalars(select(User).where(User.username == user)).first()
            if row is None:
                raise CommandFailed(Msg("unknown user '{username}'", username=user), 2)
            actor = actor_of(row)
        report = import_file(
            session,
            file,
            fmt=format_,
            actor=actor,
            clock=SystemClock(),
            tz=load_policy(session).tz,
            mapping=mapping,
            on_error="skip" if skip_invalid else "abort",
            default_source=default_source,
        )
    for problem in report.errors[:20]:
        typer.echo(
            f"  row {problem.row} ({problem.external_id or '-'}) "
            f"{problem.field}: {problem.message}",
            err=True,
        )
    if len(report.errors) > 20:
        typer.echo(f"  … and {len(report.errors) - 20} more", err=True)
    if errors is not None:
        with errors.open("w", encoding="utf-8", newline="") as out:
            write_error_report(report, out)
        typer.echo(f"error report: {errors}", err=True)
    typer.echo(report.summary())
    if not report.committed:
        raise typer.Exit(1)


@open311_app.command("config")
def open311_config(
    file: Annotated[
        Path | None,
        typer.Argument(help="a YAML/JSON file to make the configuration; none: print it"),
    ] = None,
) -> None:
    """Show or set the Open311 configuration (jurisdiction_id, contact, key_service,
    service_type realtime|batch, update_policy note|reopen, source, area, fallback_point,
    attributes). Setting it bumps the discovery changeset."""
    from datetime import UTC, datetime

    import yaml

    from duban.kernel.db.models import Setting
    from duban.open311.config import CONFIG_KEY, DEFAULT_ATTRIBUTES, save_config

    with console.database() as session:
        if file is None:
            row = session.get(Setting, CONFIG_KEY)
            data = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
            data.setdefault("attributes", [dict(a) for a in DEFAULT_ATTRIBUTES])
            typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
            return
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise CommandFailed(
                Msg("cannot read {path_name}: {err}", path_name=str(file), err=cause(err)),
                2,
                detail=str(err),
            ) from err
        if not isinstance(loaded, dict):
            raise CommandFailed(Msg("{path_name} does not hold a mapping", path_name=str(file)), 2)
        save_config(session, loaded, now=datetime.now(UTC))
        typer.echo(f"Open311 configuration saved from {file}")
