"""Commands of notifications: ``duban webhook add|list|remove``."""

from __future__ import annotations

from typing import Annotated

import typer

from duban import console
from duban.console import CommandFailed

webhook_app = typer.Typer(
    help="Webhook subscriptions: signed POSTs of case events (README, 'Notifications')."
)


@webhook_app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(help="the receiver, an http(s) URL")],
    name: Annotated[str, typer.Option(help="a name to know it by")] = "",
    events: Annotated[
        str, typer.Option(help="event patterns, comma-separated, e.g. case.dispatch,case.close")
    ] = "case.*",
    secret: Annotated[
        str | None, typer.Option(help="the signing secret (default: a new random one)")
    ] = None,
) -> None:
    """Subscribe URL to case events; prints the signing secret (keep it: shown once)."""
    from datetime import UTC, datetime

    from duban.kernel.db.session import make_session_factory
    from duban.kernel.errors import InvalidInput
    from duban.notify.preferences import add_subscription

    engine = console.engine(console.settings())
    with make_session_factory(engine)() as session:
        try:
            sub, key = add_subscription(
                session,
                name=name,
                url=url,
                events=events.split(","),
                now=datetime.now(UTC),
                secret=secret,
            )
        except InvalidInput as err:
            raise CommandFailed(err.message, 2) from err
        typer.echo(f"webhook #{sub.id} {sub.url} ({', '.join(sub.events)})")
        typer.echo(f"secret: {key}")
    engine.dispose()


@webhook_app.command("list")
def webhook_list() -> None:
    """Every subscription, stopped ones too."""
    from duban.kernel.db.session import make_session_factory
    from duban.notify.preferences import list_subscriptions

    engine = console.engine(console.settings())
    with make_session_factory(engine)() as session:
        for sub in list_subscriptions(session):
            state = "active" if sub.is_active else "stopped"
            typer.echo(f"#{sub.id}\t{state}\t{sub.name}\t{sub.url}\t{','.join(sub.events)}")
    engine.dispose()


@webhook_app.command("remove")
def webhook_remove(
    subscription_id: Annotated[int, typer.Argument(help="the subscription's number")],
) -> None:
    """Stop sending to a subscription."""
    from duban.kernel.db.session import make_session_factory
    from duban.kernel.errors import NotFound
    from duban.notify.preferences import remove_subscription

    engine = console.engine(console.settings())
    with make_session_factory(engine)() as session:
        try:
            remove_subscription(session, subscription_id=subscription_id)
        except NotFound as err:
            raise CommandFailed(err.message, 1) from err
    engine.dispose()
    typer.echo(f"webhook #{subscription_id} stopped")
