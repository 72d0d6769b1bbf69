"""Commands of cases: auditing the tamper-evident event log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban import console

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
    """Recompute the signed chain of every case and check each case row against its
    events (and a checkpoint); exit 1 at the first break."""
    from duban.cases.audit import CheckpointError, read_checkpoint, verify_chain
    from duban.cases.auditkey import AuditKeyError
    from duban.kernel.db.session import make_session_factory

    try:
        point = read_checkpoint(checkpoint) if checkpoint is not None else None
    except (OSError, CheckpointError, AuditKeyError) as exc:
        raise console.CommandFailed(f"checkpoint {checkpoint}: {exc}") from exc
    engine = console.engine(console.settings())
    try:
        with make_session_factory(engine)() as session:
            report = verify_chain(session, accept_unkeyed=accept_unkeyed, checkpoint=point)
    except AuditKeyError as exc:
        raise console.CommandFailed(str(exc)) from exc
    finally:
        engine.dispose()
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
        return
    typer.secho(f"audit FAILED: first broken link: {report.first_break}", fg=typer.colors.RED)
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
        raise console.CommandFailed(str(exc)) from exc
    finally:
        engine.dispose()
    typer.echo(
        f"checkpoint written: {file} ({point.cases} cases, {point.events} events, "
        f"signed with audit key {point.key_id!r})"
    )
