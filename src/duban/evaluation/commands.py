"""Commands of the evaluation: the table of one kind of object, and scores by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from duban import console
from duban.console import CommandFailed
from duban.kernel.errors import Msg

evaluation_app = typer.Typer(
    help="Evaluation (考核): indicators, scores, ranks; scores entered by hand.",
    no_args_is_help=True,
)


def _actor(session: object, username: str) -> object:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from duban.accounts import User, actor_of

    assert isinstance(session, Session)
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise CommandFailed(Msg("no active user '{username}'", username=username), 2)
    return actor_of(user)


@evaluation_app.command("show")
def show(
    object_: Annotated[str, typer.Option("--object", help="district … dispatcher")],
    from_: Annotated[str, typer.Option("--from", help="local date, inclusive")],
    to: Annotated[str, typer.Option(help="local date, exclusive")],
    by: Annotated[str, typer.Option(help="the leader or admin asking")],
    scheme: Annotated[str | None, typer.Option(help="scoring scheme")] = None,
) -> None:
    """Print the ranked table: rank, code, name, score, grade, 环比."""
    from duban.evaluation.service import evaluate
    from duban.kernel.context import Actor

    with console.database() as session:
        actor = _actor(session, by)
        assert isinstance(actor, Actor)
        _, used, rows = evaluate(
            session, actor=actor, obj=object_, start=from_, end=to, scheme_code=scheme
        )
    typer.echo(f"scheme {used.code}: {used.label_zh}")
    for r in rows:
        change = "" if r.change is None else f"{r.change:+.2f}"
        score = "-" if r.score is None else f"{r.score:.2f}"
        typer.echo(
            f"{r.rank or '-':>4}  {r.code:<16} {r.name:<20} {score:>7} {r.grade or '-'} {change}"
        )


@evaluation_app.command("rebuild-facts")
def rebuild_facts_command() -> None:
    """Recompute every case's facts (case_facts) from the event log and the evaluation
    summary (eval_summary) from them: after a change of data/case_facts.yaml or of the
    indicators of data/evaluation.yaml. Set-based; the writer keeps them otherwise."""
    from sqlalchemy import func, select

    from duban.cases import CaseFact, rebuild_facts
    from duban.evaluation.indicators import rebuild_summary
    from duban.kernel.unitofwork import writing

    with console.database() as session:
        with writing(session):
            rebuild_facts(session)
            rebuild_summary(session)
        rows = session.scalar(select(func.count()).select_from(CaseFact))
    typer.echo(f"case facts rebuilt: {rows} rows; the evaluation summary recounted")


@evaluation_app.command("score")
def enter_score(
    scheme: Annotated[str, typer.Option(help="scoring scheme, e.g. city_streets")],
    item: Annotated[str, typer.Option(help="a manual or bonus item of the scheme")],
    object_: Annotated[str, typer.Option("--object", help="district … dispatcher")],
    code: Annotated[str, typer.Option(help="region or unit code, or username")],
    from_: Annotated[str, typer.Option("--from", help="local date, inclusive")],
    to: Annotated[str, typer.Option(help="local date, exclusive")],
    score: Annotated[float, typer.Option(help="the points")],
    note: Annotated[str, typer.Option(help="the evidence the score rests on")],
    by: Annotated[str, typer.Option(help="the leader or admin entering it")],
) -> None:
    """Enter (or replace) a score by hand, with its evidence."""
    from duban.evaluation.service import record_manual_score
    from duban.kernel.context import Actor, SystemClock

    try:
        start, end = date.fromisoformat(from_), date.fromisoformat(to)
    except ValueError as err:
        raise CommandFailed("--from and --to are dates such as 2026-11-01", 2) from err
    with console.database() as session:
        actor = _actor(session, by)
        assert isinstance(actor, Actor)
        row = record_manual_score(
            session,
            actor=actor,
            clock=SystemClock(),
            scheme_code=scheme,
            item=item,
            obj=object_,
            code=code,
            start=start,
            end=end,
            points=score,
            note=note,
        )
        typer.echo(f"{row.scheme} {row.item} {row.object} {row.object_code}: {row.score:g}")


@evaluation_app.command("bulletin")
def bulletin(
    period: Annotated[str, typer.Option(help="the month, YYYY-MM, e.g. 2026-11")],
    file: Annotated[Path, typer.Argument(help="where to write the file")],
    by: Annotated[str, typer.Option(help="the leader or admin asking")],
    format_: Annotated[str, typer.Option("--format", help="docx | pdf | xlsx")] = "docx",
    object_: Annotated[str, typer.Option("--object", help="district … dispatcher")] = "street",
    scheme: Annotated[str | None, typer.Option(help="scoring scheme")] = None,
) -> None:
    """Make the monthly bulletin (月度通报) of one month, archive it (all three formats, a
    new version) and write it as DOCX, PDF or XLSX."""
    from duban.adapters.photostore import photo_store_for
    from duban.evaluation.archive import make_bulletin
    from duban.kernel.context import Actor, SystemClock

    settings = console.settings()
    with console.database() as session:
        actor = _actor(session, by)
        assert isinstance(actor, Actor)
        made_id, made = make_bulletin(
            session,
            actor=actor,
            clock=SystemClock(),
            period=period,
            fmt=format_,
            obj=object_,
            scheme_code=scheme,
            font=settings.cjk_font,
            store=photo_store_for(settings),
        )
    file.write_bytes(made.data)
    typer.echo(f"{file}: {len(made.data)} bytes (archived as bulletin {made_id})")
