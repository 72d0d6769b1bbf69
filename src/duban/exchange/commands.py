"""``duban exchange``: links to a higher platform, and the pull and push over them."""

from __future__ import annotations

from typing import Annotated

import typer

from duban import console
from duban.kernel.errors import Msg

exchange_app = typer.Typer(
    help="Exchange with a higher platform (上级平台): take its cases, send results back.",
    no_args_is_help=True,
)
link_app = typer.Typer(help="Links to higher platforms.", no_args_is_help=True)
exchange_app.add_typer(link_app, name="link")


@link_app.command("set")
def link_set(
    name: Annotated[str, typer.Argument(help="our name for the link, e.g. city")],
    url: Annotated[str, typer.Option(help="the higher platform's Open311 endpoint")],
    api_key: Annotated[str, typer.Option(help="the key it issued to us (apikey --unit)")],
    agency: Annotated[str, typer.Option(help="our unit's code on the higher platform")],
    jurisdiction: Annotated[str | None, typer.Option(help="its jurisdiction_id")] = None,
    service: Annotated[
        list[str] | None, typer.Option(help="a service code to take (repeat; none: all)")
    ] = None,
    map_code: Annotated[
        list[str] | None,
        typer.Option("--map", help="THEIRS=OURS: their service code as our category (repeat)"),
    ] = None,
    source: Annotated[str, typer.Option(help="the source our cases get")] = "supervision",
    active: Annotated[bool, typer.Option(help="run this link in `exchange run`")] = True,
    staff_token: Annotated[
        str | None,
        typer.Option(
            help="a bearer token of our unit's handler account on its staff API: its "
            "supervision orders come down, our answers go up ('' removes it)"
        ),
    ] = None,
) -> None:
    """Create or change a link to a higher platform (its cursor and cases are kept)."""
    from duban.exchange.service import LinkSpec, save_link
    from duban.kernel.context import SystemClock

    pairs = {}
    for item in map_code or []:
        theirs, sep, ours = item.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise console.CommandFailed(Msg("--map takes THEIRS=OURS, not '{item}'", item=item), 2)
        pairs[theirs.strip()] = ours.strip()
    spec = LinkSpec(
        name=name,
        base_url=url,
        api_key=api_key,
        agency=agency,
        jurisdiction_id=jurisdiction,
        service_codes=tuple(service or ()),
        code_map=pairs,
        source=source,
        is_active=active,
        staff_token=staff_token,
    )
    with console.database() as session:
        link = save_link(session, spec=spec, clock=SystemClock())
        typer.echo(f"link '{link.name}' → {link.base_url} as {link.agency}")


@link_app.command("list")
def link_list() -> None:
    """The links, their cursors, queues and last errors (never the keys)."""
    from duban.exchange.service import list_links, pending_pushes

    with console.database() as session:
        links = list_links(session)
        if not links:
            typer.echo("no links yet: duban exchange link set NAME --url … --api-key … --agency …")
        for link in links:
            waiting = pending_pushes(session, link)
            state = "active" if link.is_active else "inactive"
            cursor = link.cursor.isoformat() if link.cursor else "-"
            typer.echo(
                f"{link.name:<16} {link.base_url}  agency {link.agency}  {state}  "
                f"cursor {cursor}  unsent {len(waiting)}  "
                f"orders {'yes' if link.staff_token else 'no'}"
                + (f"  last error: {link.last_error}" if link.last_error else "")
            )


def _run(pull: bool, push: bool, link: str | None) -> None:
    from duban.adapters.photostore import photo_store_for
    from duban.evidence import PhotoLimits
    from duban.exchange.service import run_exchange
    from duban.kernel.context import SystemClock

    settings = console.settings()
    with console.database() as session:
        report = run_exchange(
            session,
            clock=SystemClock(),
            store=photo_store_for(settings),
            pull=pull,
            push=push,
            link_name=link,
            limits=PhotoLimits(settings.max_photo_bytes, settings.max_photo_pixels),
        )
    typer.echo(report.summary())
    if any(run.error for run in report.links):
        raise typer.Exit(1)


LinkOption = Annotated[str | None, typer.Option(help="only this link (default: every active)")]


@exchange_app.command("pull")
def exchange_pull(link: LinkOption = None) -> None:
    """Take the higher platform's cases for us, changed since the last pull."""
    _run(True, False, link)


@exchange_app.command("push")
def exchange_push(link: LinkOption = None) -> None:
    """Send our results (结案, 作废) up; failed sends wait for their next try."""
    _run(False, True, link)


@exchange_app.command("run")
def exchange_run(link: LinkOption = None) -> None:
    """Pull, then push: the job (idempotent; run it from cron or the worker)."""
    _run(True, True, link)


@exchange_app.command("retry")
def exchange_retry(link: Annotated[str, typer.Argument(help="the link")]) -> None:
    """Put the link's failed pushes back in the queue, due now."""
    from duban.exchange.service import get_link, retry_failed
    from duban.kernel.context import SystemClock

    with console.database() as session:
        count = retry_failed(session, link=get_link(session, link), clock=SystemClock())
    typer.echo(f"{count} push(es) queued again")


@exchange_app.command("problems")
def exchange_problems(link: Annotated[str, typer.Argument(help="the link")]) -> None:
    """The higher platform's supervision-order problems to our unit, newest first."""
    from duban.exchange.orders import city_problems
    from duban.exchange.service import get_link

    with console.database() as session:
        for p in city_problems(session, get_link(session, link)):
            typer.echo(
                f"{p.id:>6}  {p.order_number}  #{p.external_problem_id}  {p.external_status}"
                f"  case {p.case_id or '-'}  {p.description[:60]}"
                + (f"  sent back: {p.send_back_reason}" if p.send_back_reason else "")
            )


@exchange_app.command("answer")
def exchange_answer(
    problem: Annotated[int, typer.Argument(help="the problem's id here (exchange problems)")],
    measures: Annotated[str, typer.Option(help="整改措施, as the higher platform reads it")],
    done: Annotated[bool, typer.Option(help="whether the problem is fixed")] = True,
    photo: Annotated[
        list[str] | None,
        typer.Option(help="id of a photo here, uploaded up with the answer (repeatable)"),
    ] = None,
) -> None:
    """Answer a higher platform's problem; the answer (with its photos) goes up with the
    next push."""
    from duban.exchange.orders import answer_city_problem
    from duban.kernel.context import Actor, SystemClock
    from duban.kernel.roles import Role

    with console.database() as session:
        answer_city_problem(
            session,
            actor=Actor(user_id=None, username="cli", role=Role.ADMIN),
            clock=SystemClock(),
            problem_id=problem,
            measures=measures,
            done=done,
            photo_ids=photo or (),
        )
    typer.echo(f"problem {problem} answered; it goes up with the next push")
