"""The ``duban`` command line: a thin adapter over services (heavy imports deferred).

The database comes from ``DUBAN_DATABASE_URL`` (default: SQLite under ``./var/``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

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
app.add_typer(jobs_app, name="jobs")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(unit_app, name="unit")
app.add_typer(taxonomy_app, name="taxonomy")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    from duban.config import Settings

    return Settings()


def _engine(settings: Settings) -> Engine:
    from duban.store.session import make_engine

    return make_engine(settings.database_url)


def _init(settings: Settings) -> None:
    from datetime import UTC, datetime

    from duban.services.reference import install_defaults
    from duban.store.migrate import upgrade
    from duban.store.session import make_session_factory

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
    from duban.store.migrate import upgrade

    settings = _settings()
    engine = _engine(settings)
    upgrade(engine)
    engine.dispose()
    typer.echo("schema is at the newest revision")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the web app and the API."""
    import uvicorn

    typer.echo(f"Duban on http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs)")
    uvicorn.run(
        "duban.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="start the server afterwards")
    ] = True,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Prepare the demo (schema, reference data, demo city and one user per role), then serve."""
    from duban.adapters.photostore import LocalPhotoStore
    from duban.demo import install_demo
    from duban.store.session import make_session_factory

    settings = _settings()
    _init(settings)
    engine = _engine(settings)
    with make_session_factory(engine)() as session:
        report = install_demo(
            session, password=settings.demo_password, store=LocalPhotoStore(settings.photo_root)
        )
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
    from duban.services.context import SystemClock
    from duban.store.session import make_session_factory

    engine = _engine(_settings())
    with make_session_factory(engine)() as session:
        report = sweep_overdue(session, clock=SystemClock())
    engine.dispose()
    typer.echo(str(report))
    for code in report.supervised:
        typer.echo(f"  督办 {code}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain of every case; exit 1 at the first broken link."""
    from duban.services.audit import verify_chain
    from duban.store.session import make_session_factory

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
    from duban.domain.errors import DubanError
    from duban.services.context import SystemClock
    from duban.services.users import create_user
    from duban.store.session import make_session_factory

    password = password or os.environ.get("DUBAN_NEW_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise _fail("give --password or set DUBAN_NEW_PASSWORD (no terminal to ask on)", 2)
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = _engine(_settings())
    try:
        with make_session_factory(engine)() as session:
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
    except DubanError as err:
        raise _fail(err.message, 2) from err
    finally:
        engine.dispose()


@unit_app.command("create")
def unit_create(
    code: Annotated[str, typer.Argument(help="unit code")],
    name: Annotated[str, typer.Argument(help="unit name, e.g. 市政工程管理处")],
    kind: Annotated[str, typer.Option(help="professional | territorial")] = "professional",
) -> None:
    """Add a responsible unit."""
    from duban.domain.errors import DubanError
    from duban.services.users import create_unit
    from duban.store.session import make_session_factory

    engine = _engine(_settings())
    try:
        with make_session_factory(engine)() as session:
            create_unit(session, code=code, name=name, kind=kind)
            session.commit()
            typer.echo(f"created unit {code} {name}")
    except DubanError as err:
        raise _fail(err.message, 2) from err
    finally:
        engine.dispose()


@taxonomy_app.command("load")
def taxonomy_load(
    path: Annotated[
        Path, typer.Argument(help="a taxonomy YAML/JSON file (see duban/data/taxonomy.yaml)")
    ],
) -> None:
    """Replace the live taxonomy with a city's own file (validated first; all or nothing)."""
    from datetime import UTC, datetime

    import yaml

    from duban.domain.errors import DubanError
    from duban.services.reference import install_taxonomy
    from duban.store.session import make_session_factory

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise _fail(f"cannot read {path}: {err}", 2) from err
    if not isinstance(data, dict):
        raise _fail(f"{path} does not hold a taxonomy mapping", 2)
    engine = _engine(_settings())
    try:
        with make_session_factory(engine)() as session:
            result = install_taxonomy(session, data, now=datetime.now(UTC))
    except DubanError as err:
        raise _fail(err.message, 2) from err
    finally:
        engine.dispose()
    typer.echo(
        f"taxonomy loaded: {result.categories} categories, {result.conditions} conditions, "
        f"{result.deactivated} retired; fingerprint {result.fingerprint[:12]}"
    )


@taxonomy_app.command("export")
def taxonomy_export() -> None:
    """Print the shipped reference taxonomy (a starting point for a city's own file)."""
    from importlib import resources

    typer.echo(resources.files("duban.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8"))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Entry point of the ``duban`` script."""
    app()
