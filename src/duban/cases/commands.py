"""Commands of cases: auditing the tamper-evident event log."""

from __future__ import annotations

import typer

from duban.kernel import console

audit_app = typer.Typer(help="Audit the tamper-evident event log.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain of every case; exit 1 at the first broken link."""
    from duban.cases.audit import verify_chain
    from duban.kernel.db.session import make_session_factory

    engine = console.engine(console.settings())
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
