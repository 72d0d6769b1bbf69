"""Admin page of the exchange: links to a higher platform, the results waiting to go up,
and the problems of its supervision orders to answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.datastructures import FormData

from duban.exchange.models import ExchangeProblem, ExchangePush
from duban.exchange.orders import AWAITING, answer_city_problem
from duban.exchange.rules import FAILED, PENDING, SENT
from duban.exchange.service import LinkSpec, get_link, list_links, retry_failed, save_link
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.web import forms
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
    problems = list(
        ctx.db.scalars(
            select(ExchangeProblem).order_by(ExchangeProblem.id.desc()).limit(SHOWN_PUSHES)
        )
    )
    waiting = set(
        ctx.db.scalars(
            select(ExchangePush.problem_id).where(
                ExchangePush.problem_id.is_not(None), ExchangePush.state == PENDING
            )
        )
    )
    answerable = {p.id for p in problems if p.external_status in AWAITING and p.id not in waiting}
    return {
        "links": list_links(ctx.db),
        "pushes": pushes,
        "state_text": STATE_TEXT,
        "problems": problems,
        "answerable": answerable,
    }


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
            staff_token=values["staff_token"] or None,  # blank: keep the one set
        ),
        clock=ctx.clock,
    )


def _answer(ctx: WebContext, actor: Actor, problem_id: int, form: FormData) -> None:
    photo_ids = forms.answer_photos(ctx, form, actor=actor)
    answer_city_problem(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        problem_id=problem_id,
        measures=str(form.get("measures") or ""),
        done=form.get("done") == "1",
        photo_ids=photo_ids,
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
        "staff_token",
    ),
    field_limit=2000,
    create=_set_link,
    create_doc="Add or change a link (its cursor and cases are kept).",
    error_field="name",
    blank=lambda ctx: {"source": "supervision", "is_active": "1"},
    rows=(
        RowAction("/exchange/{name}/retry", _retry, doc="Queue the failed pushes again."),
        RowAction(
            "/exchange/problems/{problem_id}/answer",
            _answer,
            key_type=int,
            error_key="problem:{key}",
            doc="Answer a problem of the higher platform's supervision order; it goes up "
            "with the next push.",
        ),
    ),
)
EXCHANGE.mount(router)
