"""Admin page of the exchange: links to a higher platform and the results waiting to go up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.datastructures import FormData

from duban.exchange.models import ExchangePush
from duban.exchange.rules import FAILED, PENDING, SENT
from duban.exchange.service import LinkSpec, get_link, list_links, retry_failed, save_link
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.web.admin import ADMIN_PREFIX, AdminPage, RowAction, Values
from duban.web.context import WebContext

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)
#: How a push's state reads (a catalogue text).
STATE_TEXT = {PENDING: "waiting to go up", SENT: "sent up", FAILED: "failed, not retried"}
#: The most recent pushes the page lists.
SHOWN_PUSHES = 50


def _listing(ctx: WebContext) -> dict[str, Any]:
    pushes = list(
        ctx.db.scalars(select(ExchangePush).order_by(ExchangePush.id.desc()).limit(SHOWN_PUSHES))
    )
    return {"links": list_links(ctx.db), "pushes": pushes, "state_text": STATE_TEXT}


def _pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        theirs, sep, ours = item.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise InvalidInput(
                "a code mapping is THEIRS=OURS, separated by commas", field="code_map"
            )
        pairs[theirs.strip()] = ours.strip()
    return pairs


def _set_link(ctx: WebContext, actor: Actor, values: Values, form: FormData) -> None:
    save_link(
        ctx.db,
        spec=LinkSpec(
            name=values["name"],
            base_url=values["base_url"],
            api_key=values["api_key"],
            agency=values["agency"],
            jurisdiction_id=values["jurisdiction_id"] or None,
            service_codes=tuple(c.strip() for c in values["service_codes"].split(",")),
            code_map=_pairs(values["code_map"]),
            source=values["source"] or "supervision",
            is_active=values["is_active"] == "1",
        ),
        clock=ctx.clock,
    )


def _retry(ctx: WebContext, actor: Actor, name: str, form: FormData) -> None:
    retry_failed(ctx.db, link=get_link(ctx.db, name), clock=ctx.clock)


EXCHANGE = AdminPage(
    path="/exchange",
    template="admin/exchange.html",
    doc="Links to a higher platform (上级平台) and the results waiting to go up.",
    listing=_listing,
    fields=(
        "name",
        "base_url",
        "api_key",
        "agency",
        "jurisdiction_id",
        "service_codes",
        "code_map",
        "source",
        "is_active",
    ),
    field_limit=300,
    create=_set_link,
    create_doc="Add or change a link (its cursor and cases are kept).",
    error_field="name",
    blank=lambda ctx: {"source": "supervision", "is_active": "1"},
    rows=(RowAction("/exchange/{name}/retry", _retry, doc="Queue the failed pushes again."),),
)
EXCHANGE.mount(router)
