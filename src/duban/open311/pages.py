"""Admin page of Open311: the API keys of clients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, InvalidInput, NotFound
from duban.kernel.roles import Role
from duban.open311.apikeys import create_api_key, list_api_keys, revoke_api_key
from duban.web import forms
from duban.web.admin import ADMIN_PREFIX, AdminPage, RowAction
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


def _keys(ctx: WebContext) -> dict[str, Any]:
    return {"keys": list_api_keys(ctx.db), "issued": ""}


def _revoke_key(ctx: WebContext, actor: Actor, name: str, form: FormData) -> None:
    revoke_api_key(ctx.db, name=name, clock=ctx.clock)


API_KEYS = AdminPage(
    path="/apikeys",
    template="admin/apikeys.html",
    doc="API keys of Open311 clients.",
    listing=_keys,
    rows=(
        # Already gone: the page shows what is left.
        RowAction("/apikeys/{name}/revoke", _revoke_key, ignore=(NotFound,), doc="Revoke a key."),
    ),
)
API_KEYS.mount(router)


@router.post("/apikeys")
@pages
def add_key(ctx: Ctx, form: Form) -> Response:
    """Issue a key; its text is shown this once (so the page is shown, not redirected to)."""
    ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    try:
        issued = create_api_key(
            ctx.db,
            name=forms.text(form, "name", 64),
            clock=ctx.clock,
            region_code=forms.text(form, "region", 32) or None,
        )
    except (InvalidInput, Conflict) as err:
        ctx.db.rollback()
        field = "region" if err.detail.get("field") == "region" else "name"
        errors.add(field, forms.translate(err.text, ctx.lang))
        return API_KEYS.render(ctx, errors=errors, status=422)
    return API_KEYS.render(ctx, issued=issued.key)
