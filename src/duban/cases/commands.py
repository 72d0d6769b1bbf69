"""Commands of cases: auditing the tamper-evident event log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban import console
from duban.kernel.errors import DubanError, Msg, cause

audit_app = typer.Typer(help="Audit the tamper-evident event log.")


@audit_app.command("verify")
def audit_verify(
    accept_unkeyed: Annotated[
        bool,
        typer.Option(
            "--accept-unkeyed",
            help="accept events written before the audit key (plain sha256 links)",
        ),
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="a file of `duban audit checkpoint`: also find cases deleted or rewound since",
        ),
    ] = None,
) -> None:
    """Recompute every signed chain — the cases' events (each case row against its
    events, and a checkpoint), the supervision orders', joint sessions', revisits' and
    campaigns' records and the ledgers' events — and report each kind; exit 1 if any
    chain is broken."""
    from duban.cases.audit import CheckpointError, read_checkpoint, verify_chain
    from duban.cases.auditkey import AuditKeyError, audit_keys
    from duban.kernel.db.session import make_session_factory
    from duban.ledgers import verify_ledger_chains
    from duban.supervision import verify_supervision_chains

    try:
        point = read_checkpoint(checkpoint) if checkpoint is not None else None
    except (CheckpointError, AuditKeyError) as exc:
        raise console.CommandFailed(
            Msg("checkpoint {path_name}: {err}", path_name=str(checkpoint), err=exc.text)
        ) from exc
    except OSError as exc:
        raise console.CommandFailed(
            Msg("checkpoint {path_name}: {err}", path_name=str(checkpoint), err=cause(exc)),
            detail=str(exc),
        ) from exc
    engine = console.engine(console.settings())
    try:
        with make_session_factory(engine)() as session:
            report = verify_chain(session, accept_unkeyed=accept_unkeyed, checkpoint=point)
            try:
                keys = audit_keys(create=False)
            except AuditKeyError:
                keys = None  # no key yet: only unsigned links can verify, signed ones break
            others = [
                *verify_supervision_chains(session, keys),
                verify_ledger_chains(session, keys, accept_unkeyed=accept_unkeyed),
            ]
    except AuditKeyError as exc:
        raise console.CommandFailed(exc.text) from exc
    finally:
        engine.dispose()
    failed = not report.ok
    if report.ok:
        extra = (
            f", {report.unkeyed_events} of them unkeyed (accepted)" if report.unkeyed_events else ""
        )
        against = (
            f"; nothing lost since the checkpoint of {point.taken_at.isoformat()}" if point else ""
        )
        typer.echo(
            f"audit ok: {report.cases_checked} cases, {report.events_checked} events{extra}, "
            f"every chain intact{against}"
        )
    else:
        typer.secho(f"audit FAILED: first broken link: {report.first_break}", fg=typer.colors.RED)
    for chain in others:
        counts = f"{chain.subjects} chains, {chain.events} events"
        if chain.ok:
            typer.echo(f"audit ok: {chain.name}: {counts}, every chain intact")
            continue
        failed = True
        typer.secho(f"audit FAILED: {chain.name}: {counts}", fg=typer.colors.RED)
        for problem in chain.breaks:
            typer.secho(f"  {problem}", fg=typer.colors.RED)
    if failed:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    file: Annotated[Path, typer.Argument(help="where to write it: keep it off the database host")],
    accept_unkeyed: Annotated[
        bool,
        typer.Option("--accept-unkeyed", help="accept events written before the audit key"),
    ] = False,
) -> None:
    """Verify, then write each case's chain head, signed with the audit key, to FILE."""
    from duban.cases.audit import take_checkpoint, write_checkpoint
    from duban.cases.auditkey import AuditKeyError
    from duban.kernel.context import SystemClock
    from duban.kernel.db.session import make_session_factory

    engine = console.engine(console.settings())
    try:
        with make_session_factory(engine)() as session:
            report, point = take_checkpoint(
                session, now=SystemClock().now(), accept_unkeyed=accept_unkeyed
            )
        if point is None:
            typer.secho(
                f"audit FAILED: first broken link: {report.first_break}; no checkpoint written",
                fg=typer.colors.RED,
            )
            raise typer.Exit(1)
        write_checkpoint(point, file)
    except AuditKeyError as exc:
        raise console.CommandFailed(exc.text) from exc
    finally:
        engine.dispose()
    typer.echo(
        f"checkpoint written: {file} ({point.cases} cases, {point.events} events, "
        f"signed with audit key {point.key_id!r})"
    )


#: ``duban import history``: mounted in the ``import`` group by :mod:`duban.cli`.
@audit_app.command("map-counts")
def audit_map_counts(
    fix: Annotated[
        bool, typer.Option("--fix", help="recount the table from the cases if it is off")
    ] = False,
) -> None:
    """Compare the map counts (map_counts) with a count over the cases; exit 1 if off."""
    from duban.cases.mapcounts import map_counts_drift, rebuild_map_counts
    from duban.kernel.unitofwork import writing

    with console.database() as session:
        found = map_counts_drift(session)
        for key, kept, counted in found[:20]:
            typer.echo(f"{key}: {kept} kept, {counted} counted")
        if not found:
            typer.echo("map counts: right")
            return
        if fix:
            with writing(session):
                rebuild_map_counts(session)
            typer.echo(f"map counts: {len(found)} rows were off; recounted")
            return
    typer.secho(f"map counts: {len(found)} rows off (--fix recounts)", fg=typer.colors.RED)
    raise typer.Exit(1)


import_app = typer.Typer()


@import_app.command("history")
def import_history_command(
    file: Annotated[Path, typer.Argument(help="a CSV (UTF-8) or XLSX file, one row per action")],
    users: Annotated[
        Path | None,
        typer.Option(
            "--users", help="a CSV mapping the old system's names onto usernames (name,username)"
        ),
    ] = None,
) -> None:
    """Replay an old platform's cases through the use cases, each row at its own time.

    Columns: case, at (ISO 8601 with offset), action (report, rate, or an action of the
    API), user, then the action's fields as in the API. A refused row names its line and
    reason and leaves its case out; cases imported before are skipped; the audit chain is
    verified afterwards.
    """
    from duban.cases.audit import verify_chain
    from duban.cases.history import (
        HistoryFileError,
        import_history,
        read_history,
        read_user_map,
    )

    try:
        rows = read_history(file)
        names = read_user_map(users) if users is not None else {}
    except (HistoryFileError, DubanError) as exc:
        raise console.CommandFailed(Msg("cannot read the history: {err}", err=exc.text), 2) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise console.CommandFailed(
            Msg("cannot read the history: {err}", err=cause(exc)), 2, detail=str(exc)
        ) from exc
    with console.database() as session:
        with typer.progressbar(length=len(rows), label="importing", file=None) as bar:
            report = import_history(session, rows=rows, users=names, progress=bar.update)
        audit = verify_chain(session)
    for refusal in report.refused[:50]:
        typer.echo(f"  refused {refusal}", err=True)
    if len(report.refused) > 50:
        typer.echo(f"  … and {len(report.refused) - 50} more", err=True)
    typer.echo(
        f"history: {report.rows} rows, {report.cases} cases: {report.imported} imported "
        f"({report.events} events), {report.already} already imported (skipped), "
        f"{len(report.refused)} refused"
        + (f"; {report.phones_dropped} phone numbers left out" if report.phones_dropped else "")
    )
    if not audit.ok:
        typer.secho(f"audit FAILED: first broken link: {audit.first_break}", fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"audit ok: {audit.cases_checked} cases, {audit.events_checked} events")
    if report.refused:
        raise typer.Exit(1)
