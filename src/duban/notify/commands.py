"""Commands of notifications: ``duban webhook add|list|remove``."""

from __future__ import annotations

from typing import Annotated

import typer

from duban import console

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

    from duban.notify.preferences import add_subscription

    with console.database() as session:
        sub, key = add_subscription(
            session,
            name=name,
            url=url,
            events=console.csv_option(events),
            now=datetime.now(UTC),
            secret=secret,
        )
        typer.echo(f"webhook #{sub.id} {sub.url} ({', '.join(sub.events)})")
    typer.echo(f"secret: {key}")


@webhook_app.command("list")
def webhook_list() -> None:
    """Every subscription, stopped ones too."""
    from duban.notify.preferences import list_subscriptions

    with console.database() as session:
        for sub in list_subscriptions(session):
            state = "active" if sub.is_active else "stopped"
            typer.echo(f"#{sub.id}\t{state}\t{sub.name}\t{sub.url}\t{','.join(sub.events)}")


@webhook_app.command("remove")
def webhook_remove(
    subscription_id: Annotated[int, typer.Argument(help="the subscription's number")],
) -> None:
    """Stop sending to a subscription (an unknown number exits 2)."""
    from duban.notify.preferences import remove_subscription

    with console.database() as session:
        remove_subscription(session, subscription_id=subscription_id)
    typer.echo(f"webhook #{subscription_id} stopped")
