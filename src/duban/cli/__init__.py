"""The ``duban`` command line: a root Typer app that mounts each capability's commands.

Each capability keeps its commands in ``<capability>/commands.py`` (thin adapters over
its use cases, heavy imports deferred); running Duban itself (schema, server, demo, jobs)
is :mod:`duban.cli.ops`. The database comes from ``DUBAN_DATABASE_URL`` (default: SQLite
under ``./var/``).
"""

from __future__ import annotations

import typer

from duban.accounts import commands as accounts
from duban.cases import commands as cases
from duban.cli import ops
from duban.cli.sealing import secrets_app
from duban.evaluation import commands as evaluation
from duban.exchange import commands as exchange
from duban.handover import commands as handover
from duban.ledgers import commands as ledgers
from duban.notify import commands as notify
from duban.open311 import commands as open311
from duban.photochecks import commands as photochecks
from duban.places import commands as places
from duban.reference import commands as reference

app = typer.Typer(
    name="duban",
    help="督办 Duban — city-management supervision. Database: $DUBAN_DATABASE_URL "
    "(default sqlite:///var/duban.db).",
    no_args_is_help=True,
    add_completion=False,
)
#: ``duban import …``: one group over every capability's importers.
import_app = typer.Typer(help="Import data.", no_args_is_help=True)
import_app.add_typer(open311.import_app)
import_app.add_typer(places.import_app)
import_app.add_typer(cases.import_app)

# Commands of the root first (a Typer without a name adds its commands here), then the
# groups, in the order ``duban --help`` lists them.
app.add_typer(ops.ops_app)
app.add_typer(places.locate_app)
app.add_typer(ops.jobs_app, name="jobs")
app.add_typer(cases.audit_app, name="audit")
accounts.user_app.command("token")(ops.user_token)
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.unit_app, name="unit")
app.add_typer(reference.taxonomy_app, name="taxonomy")
app.add_typer(reference.calendar_app, name="calendar")
app.add_typer(open311.apikey_app, name="apikey")
app.add_typer(open311.export_app, name="export")
app.add_typer(import_app, name="import")
app.add_typer(places.grids_app, name="grids")
app.add_typer(places.routing_app, name="routing")
app.add_typer(open311.open311_app, name="open311")
app.add_typer(evaluation.evaluation_app, name="evaluation")
app.add_typer(ledgers.ledger_app, name="ledger")
app.add_typer(photochecks.photos_app, name="photos")
app.add_typer(handover.handover_app, name="handover")
app.add_typer(exchange.exchange_app, name="exchange")
app.add_typer(notify.webhook_app, name="webhook")
app.add_typer(secrets_app, name="secrets")


def main() -> None:
    """Entry point of the ``duban`` script."""
    app()
