"""The ``duban`` command line: a thin adapter over services (heavy imports deferred).

The database comes from ``DUBAN_DATABASE_URL`` (default: SQLite under ``./var/``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from duban.config import Settings

app = typer.Typer(
    name="duban",
    help="督办 Duban — city-management supervision. Database: $DUBAN_DATABASE_URL "
    "(default sqlite:///var/duban.db).",
    no_args_is_help=True,
    add_completion=False,
)
jobs_app = typer.Typer(help="Background jobs (idempotent; run them from cron or a timer).")
audit_app = typer.Typer(help="Audit the tamper-evident event log.")
user_app = typer.Typer(help="Manage users.")
unit_app = typer.Typer(help="Manage responsible units.")
taxonomy_app = typer.Typer(help="The 部件/事件 taxonomy and its filing conditions.")
calendar_app = typer.Typer(help="The working calendar: a year's days off and make-up workdays.")
app.add_typer(jobs_app, name="jobs")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(unit_app, name="unit")
app.add_typer(taxonomy_app, name="taxonomy")
app.add_typer(calendar_app, name="calendar")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    from duban.config import Settings

    return Settings()


def _engine(settings: Settings) -> Engine:
    from duban.kernel.db.session import make_engine

    return make_engine(settings.database_url)


@contextlib.contextmanager
def _database() -> Iterator[Session]:
    """A session on the configured database; a refused use case exits 2 with its message."""
    from duban.kernel.db.session import make_session_factory
    from duban.kernel.errors import DubanError

    engine = _engine(_settings())
    try:
        with make_session_factory(engine)() as session:
            yield session
    except DubanError as err:
        raise _fail(err.message, 2) from err
    finally:
        engine.dispose()


def _init(settings: Settings) -> None:
    from datetime import UTC, datetime

    from duban.kernel.db.migrate import upgrade
    from duban.kernel.db.session import make_session_factory
    from duban.reference.categories import install_defaults

    engine = _engine(settings)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        loaded = install_defaults(session, now=datetime.now(UTC))
    if loaded:
        typer.echo(
            f"reference data: {loaded.categories} categories, {loaded.conditions} filing "
            "conditions, default policy"
        )
    engine.dispose()


@app.command()
def init() -> None:
    """Create or upgrade the schema and load the shipped reference data (idempotent)."""
    settings = _settings()
    _init(settings)
    typer.echo(f"database ready: {_safe_url(settings.database_url)}")


@app.command()
def migrate() -> None:
    """Upgrade the schema to the newest migration."""
    from duban.kernel.db.migrate import upgrade

    settings = _settings()
    engine = _engine(settings)
    upgrade(engine)
    engine.dispose()
    typer.echo("schema is at the newest revision")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (one per core is right)")] = 1,
    threads: Annotated[
        int | None,
        typer.Option(help="threads per worker for blocking work (else $DUBAN_WORKER_THREADS, 4)"),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            envvar="DUBAN_ACCESS_LOG",
            help="a line per request on standard output (behind a proxy that logs, turn it off)",
        ),
    ] = True,
) -> None:
    """Serve the web app and the API."""
    import uvicorn

    if threads is not None:
        if threads < 1:
            raise typer.BadParameter("must be at least 1", param_hint="--threads")
        os.environ["DUBAN_WORKER_THREADS"] = str(threads)  # read by every worker's app

    typer.echo(f"Duban on http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs)")
    uvicorn.run(
        "duban.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=_log_config(),
        access_log=access_log,
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with Duban's own INFO messages beside its server log."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["duban"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start the server afterwards")
    ] = True,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    places_data: Annotated[
        Path | None,
        typer.Option(
            "--places-data",
            envvar="DUBAN_DEMO_DATA",
            help="a directory with the Xuchang files of shared/datasets for real places "
            "(default: a generated demo city)",
        ),
    ] = None,
) -> None:
    """Prepare the demo (schema, reference data, demo city and one user per role), then serve."""
    from duban.adapters.photostore import LocalPhotoStore
    from duban.demo import install_demo
    from duban.kernel.db.session import make_session_factory

    settings = _settings()
    _init(settings)
    engine = _engine(settings)
    with make_session_factory(engine)() as session:
        try:
            report = install_demo(
                session,
                password=settings.demo_password,
                store=LocalPhotoStore(settings.photo_root),
                places_data=places_data,
            )
        except FileNotFoundError as err:
            raise _fail(str(err), 2) from err
    engine.dispose()
    typer.echo(report.describe(password=settings.demo_password))
    if serve_after:
        serve(host=host, port=port, workers=1)


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="the job: sweep")],
) -> None:
    """Run one job now. ``sweep``: mark overdue cases and raise 督办 on them."""
    if name not in ("sweep", "sweep-overdue"):
        raise _fail(f"unknown job '{name}'; known jobs: sweep", 2)
    from duban.jobs.sweep import sweep_overdue
    from duban.kernel.context import SystemClock
    from duban.kernel.db.session import make_session_factory
    from duban.reference.holidays import calendar_gaps

    clock = SystemClock()
    engine = _engine(_settings())
    with make_session_factory(engine)() as session:
        report = sweep_overdue(session, clock=clock)
        gaps = calendar_gaps(session, clock.now())
    engine.dispose()
    typer.echo(str(report))
    for code in report.supervised:
        typer.echo(f"  督办 {code}")
    # The sweep runs from cron: its log is where an operator will see this first.
    for gap in gaps:
        typer.echo(_calendar_gap_warning(gap.year, provisional=gap.provisional), err=True)


def _calendar_gap_warning(year: int, *, provisional: bool) -> str:
    """The warning for a year whose State Council holiday schedule is not entered."""
    if provisional:
        return (
            f"warning: the holidays of {year} are provisional ({year} 年节假日为临时数据): "
            "deadlines use the statutory holidays but no make-up workdays (调休); paste the "
            f"State Council's schedule (duban calendar set {year} FILE, or web: /admin/calendar)"
        )
    return (
        f"warning: the holidays of {year} are not entered ({year} 年节假日未录入): the "
        "national calendar installed here does not know them, so deadlines count every "
        "Monday to Friday as a working day; paste the State Council's schedule "
        f"(duban calendar set {year} FILE, or web: /admin/calendar)"
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain of every case; exit 1 at the first broken link."""
    from duban.cases.audit import verify_chain
    from duban.kernel.db.session import make_session_factory

    engine = _engine(_settings())
    with make_session_factory(engine)() as session:
        report = verify_chain(session)
    engine.dispose()
    if report.ok:
        typer.echo(
            f"audit ok: {report.cases_checked} cases, {report.events_checked} events, "
            "every chain intact"
        )
        return
    typer.secho(f"audit FAILED: first broken link: {report.first_break}", fg=typer.colors.RED)
    raise typer.Exit(1)


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
    name: Annotated[str, typer.Option(help="display name")] = "",
    phone: Annotated[str | None, typer.Option(help="phone number")] = None,
    password: Annotated[
        str | None, typer.Option(help="password (default: $DUBAN_NEW_PASSWORD, else asked for)")
    ] = None,
) -> None:
    """Create a user with a role (and a unit for handlers)."""
    from duban.accounts.users import create_user
    from duban.kernel.context import SystemClock

    password = password or os.environ.get("DUBAN_NEW_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise _fail("give --password or set DUBAN_NEW_PASSWORD (no terminal to ask on)", 2)
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _database() as session:
        user = create_user(
            session,
            clock=SystemClock(),
            username=username,
            password=password,
            role=role,
            unit_code=unit,
            display_name=name,
            phone=phone,
        )
        typer.echo(f"created user '{user.username}' (role {user.role.value})")


@unit_app.command("create")
def unit_create(
    code: Annotated[str, typer.Argument(help="unit code")],
    name: Annotated[str, typer.Argument(help="unit name, e.g. 市政工程管理处")],
    kind: Annotated[str, typer.Option(help="professional | territorial")] = "professional",
) -> None:
    """Add a responsible unit."""
    from duban.accounts.users import create_unit

    with _database() as session:
        create_unit(session, code=code, name=name, kind=kind)
        typer.echo(f"created unit {code} {name}")


@taxonomy_app.command("load")
def taxonomy_load(
    path: Annotated[
        Path, typer.Argument(help="a taxonomy YAML/JSON file (see duban/data/taxonomy.yaml)")
    ],
) -> None:
    """Replace the live taxonomy with a city's own file (validated first; all or nothing)."""
    from datetime import UTC, datetime

    import yaml

    from duban.reference.categories import install_taxonomy

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise _fail(f"cannot read {path}: {err}", 2) from err
    if not isinstance(data, dict):
        raise _fail(f"{path} does not hold a taxonomy mapping", 2)
    with _database() as session:
        result = install_taxonomy(session, data, now=datetime.now(UTC))
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

    with _database() as session:
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
        raise _fail(f"cannot read {path}: {err}", 2) from err
    actor = Actor(user_id=None, username="cli", role=Role.ADMIN)
    with _database() as session:
        schedule = paste_year_schedule(
            session, actor=actor, clock=SystemClock(), year=year, text=text
        )
    off = sum(1 for day in schedule.days_off if day.weekday() < 5)
    typer.echo(
        f"{year}: {schedule.source.value}; {len(schedule.days_off)} days off "
        f"({off} on weekdays), {len(schedule.workdays)} make-up workdays"
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Entry point of the ``duban`` script."""
    app()


# --------------------------------------------------------------------------- Open311


def _group(name: str, help_text: str) -> typer.Typer:
    """The sub-app ``name``, shared with any other command group of that name."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


apikey_app = _group("apikey", "API keys of Open311 clients (stored hashed, revocable).")
export_app = _group("export", "Export data.")
import_app = _group("import", "Import data.")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="the client, e.g. fixmystreet")],
) -> None:
    """Issue a key to a client and print it once (only its hash is kept)."""
    from duban.kernel.context import SystemClock
    from duban.open311.apikeys import create_api_key

    with _database() as session:
        issued = create_api_key(session, name=name, clock=SystemClock())
    typer.echo(issued.key)
    typer.echo(f"API key for '{issued.name}' (shown only now; send it as api_key)", err=True)


@apikey_app.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Argument(help="the client's key name")]) -> None:
    """Revoke a client's key; it stops working at once."""
    from duban.kernel.context import SystemClock
    from duban.open311.apikeys import revoke_api_key

    with _database() as session:
        info = revoke_api_key(session, name=name, clock=SystemClock())
    typer.echo(f"revoked '{info.name}' ({info.prefix}…) at {info.revoked_at:%Y-%m-%d %H:%M:%S %Z}")


@apikey_app.command("list")
def apikey_list() -> None:
    """The keys issued so far (names and prefixes, never the keys)."""
    from duban.kernel.db.session import make_session_factory
    from duban.open311.apikeys import list_api_keys

    engine = _engine(_settings())
    with make_session_factory(engine)() as session:
        keys = list_api_keys(session)
    engine.dispose()
    if not keys:
        typer.echo("no API keys yet: duban apikey create NAME")
    for key in keys:
        state = "active" if key.is_active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        typer.echo(
            f"{key.name:<24} {key.prefix}…  created {key.created_at:%Y-%m-%d %H:%M}  {state}"
        )


def _csv_option(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


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
) -> None:
    """Export cases in the Open311 bulk layout (CSV or JSON)."""
    import contextlib

    from duban.cases.workflow import Source
    from duban.kernel.parsing import parse_datetime
    from duban.open311.bulk_export import export_filter, export_rows, write_csv, write_json
    from duban.reference.policy import load_policy

    if format_ not in ("csv", "json"):
        raise _fail("--format is csv or json", 2)
    with _database() as session:
        tz = load_policy(session).tz
        try:
            sources = [Source(s) for s in _csv_option(source)]
        except ValueError as err:
            raise _fail(f"unknown source in '{source}'", 2) from err
        filters = export_filter(
            statuses=_csv_option(status),
            service_codes=_csv_option(service_code),
            sources=sources,
            unit_code=unit,
            created_from=parse_datetime(created_from, "from", tz),
            created_to=parse_datetime(created_to, "to", tz),
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

    from duban.accounts.models import User
    from duban.accounts.users import actor_of
    from duban.cases.workflow import Source
    from duban.kernel.context import Actor, SystemClock
    from duban.kernel.roles import Role
    from duban.open311.bulk_import import MAPPINGS, import_file, write_error_report
    from duban.reference.policy import load_policy

    if mapping not in MAPPINGS:
        raise _fail(f"unknown mapping '{mapping}'; one of: {', '.join(MAPPINGS)}", 2)
    try:
        default_source = Source(source)
    except ValueError as err:
        raise _fail(f"unknown source '{source}'", 2) from err
    if not file.exists():
        raise _fail(f"{file} does not exist", 2)
    with _database() as session:
        actor = Actor(user_id=None, username="import", role=Role.ADMIN)
        if user:
            row = session.scalars(select(User).where(User.username == user)).first()
            if row is None:
                raise _fail(f"unknown user '{user}'", 2)
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


# --------------------------------------------------------------------------- Places

places_import_app = _group("import", "Import data.")
grids_app = _group("grids", "Unit grids (单元网格): generate them for communities.")
routing_app = _group("routing", "Routing rules: which unit answers for what, where.")


def _print_import_report(report: object) -> None:
    from duban.places.region_import import ImportReport

    assert isinstance(report, ImportReport)
    for note in report.warnings:
        typer.secho(f"  warning: {note}", fg=typer.colors.YELLOW, err=True)
    for problem in report.problems[:100]:
        typer.echo(f"  {problem.kind:<18} {problem.code:<16} {problem.message}", err=True)
    if len(report.problems) > 100:
        typer.echo(f"  … and {len(report.problems) - 100} more", err=True)
    typer.echo(report.summary())


@places_import_app.command("regions")
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

    engine = _engine(_settings())
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
    except (DubanError, ValueError) as err:
        raise _fail(getattr(err, "message", str(err)), 2) from err
    finally:
        engine.dispose()
    _print_import_report(report)
    if not report.ok:
        raise typer.Exit(1)


@places_import_app.command("zones")
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
    from duban.reference.policy import load_policy

    with _database() as session:
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
        typer.echo(f"  {problem}", err=True)
    typer.echo(report.summary())
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
        raise _fail("give --community CODE (one or more) or --all", 2)
    with _database() as session:
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

    with _database() as session:
        rule = add_rule(
            session,
            unit_code=unit,
            helper_units=_csv_option(helpers),
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

    engine = _engine(_settings())
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

    with _database() as session:
        deactivate_rule(session, rule_id)
    typer.echo(f"rule #{rule_id} switched off")


@routing_app.command("territorial")
def routing_territorial(
    region: Annotated[str, typer.Argument(help="a street (or district, community) code")],
    unit: Annotated[str, typer.Argument(help="the unit code")],
) -> None:
    """Set the territorial unit (属地) a region's cases fall back to."""
    from duban.places.territory import set_territorial_unit

    with _database() as session:
        set_territorial_unit(session, region, unit)
    typer.echo(f"属地 {region} → {unit}")


@app.command("locate")
def locate_command(
    lon: Annotated[float, typer.Argument(help="longitude")],
    lat: Annotated[float, typer.Argument(help="latitude")],
    crs: Annotated[str, typer.Option(help="wgs84 | gcj02 | bd09")] = "wgs84",
) -> None:
    """Which grid, community, street and district a point is in (and its zones)."""
    from duban.places.coords import to_wgs84_point
    from duban.places.index import locate

    with _database() as session:
        wlon, wlat = to_wgs84_point(lon, lat, crs)
        found = locate(session, wlon, wlat)
    typer.echo(f"WGS84 {wlon:.7f} {wlat:.7f}")
    if not found.found:
        raise _fail("outside every region Duban knows", 1)
    for level in ("grid", "community", "street", "district"):
        ref = found.at(level)
        if ref is not None:
            typer.echo(f"  {level:<10} {ref.code:<16} {ref.name or ''}")
    for zone in found.zones:
        typer.echo(f"  {zone.kind:<10} {zone.code:<16} {zone.name} {zone.person_name}")


open311_app = _group("open311", "The Open311 endpoint's configuration.")


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

    with _database() as session:
        if file is None:
            row = session.get(Setting, CONFIG_KEY)
            data = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
            data.setdefault("attributes", [dict(a) for a in DEFAULT_ATTRIBUTES])
            typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
            return
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise _fail(f"cannot read {file}: {err}", 2) from err
        if not isinstance(loaded, dict):
            raise _fail(f"{file} does not hold a mapping", 2)
        save_config(session, loaded, now=datetime.now(UTC))
        typer.echo(f"Open311 configuration saved from {file}")
