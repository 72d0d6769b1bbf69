"""The order editor (督办单编辑): a supervisor searches the case list and a ledger's items,
picks problems by hand, names the addressees and the reply time, previews the order and
issues it; the order's page then offers its DOCX and PDF.

One form carries everything, so a search keeps what is already picked: ``do=search``
shows the lists again, ``do=preview`` the order as it would be issued (nothing written,
no number drawn), ``do=create`` issues it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from duban.accounts import Unit
from duban.cases import Case, CaseFilter, CaseStatus, list_cases
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.ledgers import list_ledgers, pickable_items
from duban.supervision.orders import OrderInput, create_order, preview_order
from duban.supervision.policy import supervision_policy
from duban.web.context import Ctx, Form, pages
from duban.web.i18n import translate

router = APIRouter(include_in_schema=False)


def _field(form: Form | None, name: str) -> str:
    if form is None:
        return ""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _ids(form: Form | None, name: str) -> list[int]:
    if form is None:
        return []
    out = []
    for value in form.getlist(name):
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
            out.append(int(value.strip()))
    return list(dict.fromkeys(out))


def _statuses(raw: str) -> list[CaseStatus]:
    try:
        return [CaseStatus(raw)] if raw else []
    except ValueError:
        return []


def _render(ctx: Ctx, form: Form | None, *, error: str = "") -> Response:
    actor = ctx.staff(Role.SUPERVISOR)
    q = _field(form, "q")
    status = _field(form, "status")
    unit = _field(form, "unit")
    filters = CaseFilter(
        statuses=_statuses(status),
        unit_code=unit or None,
        overdue=True if _field(form, "overdue") == "1" else None,
        supervised=True if _field(form, "supervised") == "1" else None,
    )
    listing = list_cases(ctx.db, actor=actor, filters=filters, now=ctx.clock.now(), page_size=200)
    found, total = listing.rows, listing.total
    if q:
        found = [c for c in found if q in c.code or q in (c.description or "")]
    found = found[:50]
    picked_cases = _ids(form, "case")
    picked_items = _ids(form, "item")
    chosen = {c.id for c in found}
    kept = [
        c
        for c in ctx.db.scalars(select(Case).where(Case.id.in_(picked_cases)))
        if c.id not in chosen
    ]
    ledgers = list_ledgers(ctx.db, actor=actor)
    ledger_id = _ids(form, "ledger")
    ledger = ledger_id[0] if ledger_id else (ledgers[0]["id"] if ledgers else None)
    items = (
        pickable_items(ctx.db, actor=actor, ledger_id=ledger, q=_field(form, "item_q"))
        if ledger is not None and any(entry["id"] == ledger for entry in ledgers)
        else []
    )
    units = list(ctx.db.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)))
    policy = supervision_policy()
    preview = None
    if form is not None and _field(form, "do") == "preview" and not error:
        try:
            preview = preview_order(ctx.db, actor=actor, clock=ctx.clock, data=_input(form))
        except InvalidInput as err:
            error = translate(err.text, ctx.lang)
    values: dict[str, Any] = {
        "q": q,
        "status": status,
        "unit": unit,
        "overdue": _field(form, "overdue") == "1",
        "supervised": _field(form, "supervised") == "1",
        "item_q": _field(form, "item_q"),
        "title": _field(form, "title") or policy.series,
        "days": _field(form, "days") or str(policy.reply_work_days),
        "body": _field(form, "body"),
        "to": set(form.getlist("to")) if form is not None else set(),
    }
    return ctx.render(
        "supervision/editor.html",
        status_code=422 if error else 200,
        cases=found,
        kept=kept,
        total=total,
        picked_cases=set(picked_cases),
        picked_items=set(picked_items),
        ledgers=ledgers,
        ledger=ledger,
        items=items,
        units=units,
        statuses=list(CaseStatus),
        values=values,
        preview=preview,
        error=error,
    )


def _input(form: Form) -> OrderInput:
    days_text = _field(form, "days")
    if not days_text.isdigit() or len(days_text) > 4:
        raise InvalidInput("the reply time must be 1 to 365 working days", field="reply_work_days")
    return OrderInput(
        title=_field(form, "title"),
        case_ids=_ids(form, "case"),
        ledger_item_ids=_ids(form, "item"),
        units=[u for u in form.getlist("to") if isinstance(u, str) and u],
        reply_work_days=int(days_text),
        body=_field(form, "body"),
    )


@router.get("/supervision/new")
@pages
def editor_page(ctx: Ctx) -> Response:
    """The order editor, empty."""
    return _render(ctx, None)


@router.post("/supervision/new")
@pages
def editor_form(ctx: Ctx, form: Form) -> Response:
    """Search, preview or issue the order the form describes."""
    actor = ctx.staff(Role.SUPERVISOR)
    if _field(form, "do") != "create":
        return _render(ctx, form)
    try:
        made = create_order(ctx.db, actor=actor, clock=ctx.clock, data=_input(form))
    except InvalidInput as err:
        return _render(ctx, form, error=translate(err.text, ctx.lang))
    ctx.notice("Saved.")
    return ctx.redirect(f"/supervision/{made.id}")
