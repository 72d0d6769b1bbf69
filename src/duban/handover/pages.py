"""The body's answer page (a signed link, no account, made for a phone) and the admin's
page of the responsibility list (权责清单) and its bodies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from duban.cases import get_case
from duban.evidence import PhotoLimits
from duban.handover.rules import STATE_LABELS, Answer, TransferState
from duban.handover.service import (
    add_responsibility,
    answer_by_link,
    deactivate_responsibility,
    list_bodies,
    list_responsibilities,
    open_link,
    save_body,
)
from duban.kernel.context import SYSTEM_ACTOR, Actor
from duban.kernel.errors import Conflict, DubanError, InvalidInput, PermissionDenied
from duban.kernel.roles import Role
from duban.reference import Category, load_policy
from duban.web import forms
from duban.web.admin import ADMIN_PREFIX, AdminPage, RowAction, Values
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(include_in_schema=False)
admin_router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


def _message(ctx: WebContext, err: DubanError) -> Response:
    """A link that opens nothing: a clear page, never an error trace (403 or 409)."""
    ctx.db.rollback()
    status = 403 if isinstance(err, PermissionDenied) else 409
    used = err.detail.get("code") == "link_used"
    return ctx.render(
        "handover/message.html", status_code=status, message=ctx.t(err.text), used=used
    )


def _answer_page(
    ctx: WebContext,
    token: str,
    *,
    errors: forms.FieldErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        transfer = open_link(
            ctx.db, secret=ctx.request.app.state.secret_key, token=token, now=ctx.clock.now()
        )
    except (PermissionDenied, Conflict) as err:
        return _message(ctx, err)
    case = get_case(ctx.db, actor=SYSTEM_ACTOR, case_id=transfer.case_id)
    state = TransferState(transfer.state)
    category = ctx.db.get(Category, case.category_code)
    return ctx.render(
        "handover/answer.html",
        status_code=status,
        transfer=transfer,
        case=case,
        state=state,
        state_label=STATE_LABELS[state][0 if ctx.lang != "en" else 1],
        overdue=transfer.reply_due_at < ctx.clock.now(),
        token=token,
        category_name=category.name if category is not None else case.category_code,
        errors=errors.messages if errors else {},
        values=values or {},
    )


@router.get("/handover/{token}")
@pages
def answer_form(ctx: Ctx, token: str) -> Response:
    """What was handed over, and the three answers: accept, refuse, done with photos."""
    return _answer_page(ctx, token)


@router.post("/handover/{token}")
@pages
def answer(ctx: Ctx, token: str, form: Form) -> Response:
    """One answer, one event on the case; then the page again with the new state."""
    errors = forms.FieldErrors(ctx.lang)
    values = {k: forms.text(form, k, 2000) for k in ("answer", "note", "reason")}
    try:
        chosen = Answer(values["answer"])
    except ValueError:
        errors.add("answer", ctx.t("Please choose an answer."))
        return _answer_page(ctx, token, errors=errors, values=values, status=422)
    try:
        open_link(ctx.db, secret=ctx.request.app.state.secret_key, token=token, now=ctx.clock.now())
    except (PermissionDenied, Conflict) as err:
        return _message(ctx, err)
    photo_ids: list[str] = []
    if chosen == Answer.DONE:
        photo_ids = forms.save_uploads(
            ctx.db,
            forms.uploads(form),
            actor=SYSTEM_ACTOR,
            clock=ctx.clock,
            store=ctx.request.app.state.photo_store,
            limits=PhotoLimits(ctx.settings.max_photo_bytes, ctx.settings.max_photo_pixels),
            tz=load_policy(ctx.db).tz,
            errors=errors,
        )
        if errors:
            return _answer_page(ctx, token, errors=errors, values=values, status=422)
    try:
        answer_by_link(
            ctx.db,
            secret=ctx.request.app.state.secret_key,
            token=token,
            answer=chosen,
            clock=ctx.clock,
            note=values["note"],
            reason=values["reason"],
            photo_ids=photo_ids,
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add_error(err, "answer")
        if err.detail.get("field") == "photo_ids":
            errors.messages["photos"] = errors.messages.pop("photo_ids", "")
        return _answer_page(ctx, token, errors=errors, values=values, status=422)
    except (PermissionDenied, Conflict) as err:
        return _message(ctx, err)
    ctx.notice("Thank you — your answer was recorded.")
    if chosen == Answer.ACCEPT:
        return ctx.redirect(f"/handover/{token}")
    return ctx.render(
        "handover/message.html", message=ctx.t("Thank you — your answer was recorded."), used=True
    )


# --------------------------------------------------------------------------- admin


def _listing(ctx: WebContext) -> dict[str, Any]:
    return {"entries": list_responsibilities(ctx.db), "bodies": list_bodies(ctx.db)}


def _add_entry(ctx: WebContext, actor: Actor, values: Values, form: FormData) -> None:
    days = values["reply_days"].strip()
    if days and not days.isdigit():
        raise InvalidInput("reply days are a whole number of working days", field="reply_days")
    add_responsibility(
        ctx.db,
        body_code=values["body"],
        now=ctx.clock.now(),
        category_code=values["category"] or None,
        condition_code=values["condition"] or None,
        note=values["note"],
        legal_basis=values["legal_basis"],
        at_once=values["at_once"] == "1",
        reply_days=int(days) if days else None,
    )


def _entry_off(ctx: WebContext, actor: Actor, entry_id: int, form: FormData) -> None:
    deactivate_responsibility(ctx.db, entry_id)


RESPONSIBILITIES = AdminPage(
    path="/responsibilities",
    template="admin/responsibilities.html",
    doc="The responsibility list (权责清单): matters that belong to bodies outside 城管.",
    listing=_listing,
    fields=("body", "category", "condition", "note", "legal_basis", "at_once", "reply_days"),
    field_limit=2000,
    create=_add_entry,
    create_doc="Add an entry: a category or filing condition → a body outside 城管.",
    error_field="body",
    rows=(
        RowAction(
            "/responsibilities/{entry_id}/off",
            _entry_off,
            key_type=int,
            doc="Switch an entry off (hand-overs made by it keep what they were told).",
        ),
    ),
)
RESPONSIBILITIES.mount(admin_router)


@admin_router.post("/responsibilities/bodies")
@pages
def save_body_form(ctx: Ctx, form: Form) -> Response:
    """Add a body outside 城管, or change its name and contacts."""
    ctx.staff(Role.ADMIN)
    values = {
        k: forms.text(form, f"body_{k}", 300) for k in ("code", "name", "phone", "email", "address")
    }
    try:
        save_body(ctx.db, **values)
    except (InvalidInput, Conflict) as err:
        ctx.db.rollback()
        errors = forms.FieldErrors(ctx.lang)
        errors.add("body_code", forms.translate(err.text, ctx.lang))
        return RESPONSIBILITIES.render(ctx, errors=errors, status=422, body_values=values)
    ctx.notice("Saved.")
    return ctx.redirect(RESPONSIBILITIES.url)
