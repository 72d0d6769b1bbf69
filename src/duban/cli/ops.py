"""Commands that run Duban: schema, server, demo and background jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg, cause

if TYPE_CHECKING:
    from duban.config import Settings

#: ``duban init|migrate|serve|demo``, commands of the root.
ops_app = typer.Typer()
jobs_app = typer.Typer(help="Background jobs (idempotent; run them from cron or a timer).")


def _init(settings: Settings) -> None:
    from datetime import UTC, datetime

    from duban.kernel.db.migrate import upgrade
    from duban.kernel.db.session import make_session_factory
    from duban.reference.categories import install_defaults

    engine = console.engine(settings)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        loaded = install_defaults(session, now=datetime.now(UTC))
    if loaded:
        typer.echo(
            f"reference data: {loaded.categories} categories, {loaded.conditions} filing "
            "conditions, default policy"
        )
    engine.dispose()


@ops_app.command()
def init() -> None:
    """Create or upgrade the schema and load the shipped reference data (idempotent)."""
    settings = console.settings()
    _init(settings)
    typer.echo(f"database ready: {console.safe_url(settings.database_url)}")


@ops_app.command()
def migrate() -> None:
    """Upgrade the schema to the newest migration."""
    from duban.kernel.db.migrate import upgrade

    settings = console.settings()
    engine = console.engine(settings)
    upgrade(engine)
    engine.dispose()
    typer.echo("schema is at the newest revision")


@ops_app.command()
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
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="run the background worker (sweep, notifications, bulletin) in the server "
            "process; turn it off when `duban worker` runs apart",
        ),
    ] = True,
) -> None:
    """Serve the web app and the API (and, unless --no-worker, the background worker)."""
    import uvicorn

    if threads is not None:
        if threads < 1:
            raise typer.BadParameter("must be at least 1", param_hint="--threads")
        os.environ["DUBAN_WORKER_THREADS"] = str(threads)  # read by every worker's app

    os.environ["DUBAN_RUN_WORKER"] = "1" if worker else "0"  # read by every worker's app
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


@ops_app.command()
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
    from duban.adapters.photostore import photo_store_for
    from duban.demo import install_demo
    from duban.kernel.db.session import make_session_factory

    settings = console.settings()
    _init(settings)
    engine = console.engine(settings)
    with make_session_factory(engine)() as session:
        try:
            report = install_demo(
                session,
                password=settings.demo_password,
                store=photo_store_for(settings),
                places_data=places_data,
            )
        except FileNotFoundError as err:
            raise CommandFailed(
                Msg("cannot read {path_name}: {err}", path_name=str(err.filename), err=cause(err)),
                2,
                detail=str(err),
            ) from err
    engine.dispose()
    typer.echo(report.describe(password=settings.demo_password))
    if serve_after:
        serve(host=host, port=port, workers=1)


@ops_app.command("worker")
def worker(
    status: Annotated[
        bool, typer.Option("--status", help="show each job's last and next run, and exit")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="run the jobs that are due once, and exit")
    ] = False,
) -> None:
    """Run the background worker: the deadline sweep (every minute), notification delivery
    (every few seconds), the monthly bulletin (checked daily), the public subscribers'
    alerts of new reports (every minute) and the exchange with a higher platform (every
    two minutes), until stopped. Several workers may run against PostgreSQL; two never
    run one job at once."""
    import signal

    from duban.adapters.photostore import photo_store_for
    from duban.config import signing_key
    from duban.jobs.worker import JOBS, worker_for
    from duban.kernel.context import SystemClock
    from duban.kernel.db.session import make_session_factory

    settings = console.settings()
    engine = console.engine(settings)
    factory = make_session_factory(engine)
    if status:
        _print_status(factory, list(JOBS))
        engine.dispose()
        return
    runner = worker_for(
        settings,
        factory,
        clock=SystemClock(),
        secret=signing_key(settings),
        store=photo_store_for(settings),
    )
    if once:
        for job in JOBS:
            summary = runner.run_job(job, force=True)
            typer.echo(f"{job}: {summary if summary is not None else 'held by another worker'}")
        engine.dispose()
        return
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    typer.echo(f"worker {runner.name}: {', '.join(JOBS)} (Ctrl-C to stop)")
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        runner.stop()
    engine.dispose()


def _print_status(factory: Any, jobs: list[str]) -> None:
    from duban import notify
    from duban.jobs.schedule import job_status

    with factory() as session:
        for st in job_status(session, jobs):
            last = st.last
            if last is None:
                typer.echo(f"{st.job}: never run")
                continue
            state = "running" if last.ok is None else ("ok" if last.ok else "error")
            nxt = f"{st.next_run_at:%Y-%m-%d %H:%M:%S} UTC" if st.next_run_at else "-"
            typer.echo(
                f"{st.job}: last {last.started_at:%Y-%m-%d %H:%M:%S} UTC, {state}"
                f" — {last.summary or '-'}; next {nxt}"
            )
        counts = notify.outbox_counts(session)
    typer.echo("outbox: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="the job: sweep | bulletin")],
) -> None:
    """Run one job now. ``sweep``: mark overdue cases and raise 督办 on them.
    ``bulletin``: make and archive last month's bulletin (月度通报), once."""
    if name not in ("sweep", "sweep-overdue", "bulletin"):
        raise CommandFailed(Msg("unknown job '{name}'; known jobs: sweep, bulletin", name=name), 2)
    if name == "bulletin":
        _run_bulletin()
        return
    from duban.jobs.sweep import sweep_overdue
    from duban.kernel.context import SystemClock
    from duban.kernel.db.session import make_session_factory
    from duban.reference.holidays import calendar_gaps

    clock = SystemClock()
    engine = console.engine(console.settings())
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


def _run_bulletin() -> None:
    from duban.adapters.photostore import photo_store_for
    from duban.jobs.bulletin import monthly_bulletin
    from duban.kernel.context import SystemClock
    from duban.kernel.db.session import make_session_factory

    settings = console.settings()
    engine = console.engine(settings)
    with make_session_factory(engine)() as session:
        report = monthly_bulletin(
            session,
            clock=SystemClock(),
            store=photo_store_for(settings),
            font=settings.cjk_font,
        )
    engine.dispose()
    typer.echo(str(report))


def _calendar_gap_warning(year: int, *, provisional: bool) -> str:
    """The warning for a year whose State Council holiday schedule is not entered, in the
    operator's language."""
    if provisional:
        return console.say(
            Msg(
                "warning: the holidays of {year} are provisional: deadlines use the statutory "
                "holidays but no make-up workdays; paste the State Council's schedule "
                "(duban calendar set {year} FILE, or web: /admin/calendar)",
                year=year,
            )
        )
    return console.say(
        Msg(
            "warning: the holidays of {year} are not entered: the national calendar installed "
            "here does not know them, so deadlines count every Monday to Friday as a working "
            "day; paste the State Council's schedule (duban calendar set {year} FILE, or web: "
            "/admin/calendar)",
            year=year,
        )
    )


# ``duban user token``: mounted on the accounts' ``user`` group (it signs with the app's
# key, which only this layer reads).


def user_token(
    username: Annotated[str, typer.Argument(help="the account the client acts as")],
    days: Annotated[int, typer.Option(min=1, max=3660, help="how long it works")] = 365,
) -> None:
    """Issue a long-lived bearer token for a machine client (a lower platform's exchange
    acting as a handler account of its unit here): printed once, never stored; it ends
    at once with `duban user signout USERNAME` (or a password change, a deactivation)."""
    from datetime import timedelta

    from sqlalchemy import select

    from duban.accounts.models import User
    from duban.api.deps import issue_token
    from duban.config import signing_key
    from duban.kernel.context import SystemClock

    with console.database() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None or not user.is_active:
            raise CommandFailed("there is no active user of that name", 1)
        token = issue_token(
            signing_key(console.settings()),
            user,
            ttl=timedelta(days=days),
            now=SystemClock().now(),
        )
    typer.echo(token)
