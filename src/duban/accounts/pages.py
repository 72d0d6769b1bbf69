"""Admin pages of accounts: responsible units, and users with their roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.datastructures import FormData

from duban.accounts.beats import MAX_BEAT_BYTES, beat_grid_counts, parse_beat_file
from duban.accounts.directory import set_unit_active, set_unit_english_name, update_user
from duban.accounts.models import Unit, User
from duban.accounts.users import create_unit, create_user, set_beat
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.web import forms
from duban.web.admin import ADMIN_PREFIX, AdminPage, RowAction, Values
from duban.web.context import WebContext

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)

PERSON_ROLES = [r for r in Role if r != Role.SYSTEM]


def _units(ctx: WebContext) -> dict[str, Any]:
    return {
        "units": ctx.db.scalars(select(Unit).order_by(Unit.code)).all(),
        "territories": territories(ctx.db, ctx.lang),
    }


def _add_unit(ctx: WebContext, actor: Actor, values: Values, form: FormData) -> None:
    create_unit(
        ctx.db,
        code=values["code"],
        name=values["name"],
        kind=values["kind"] or "professional",
        name_en=values["name_en"] or None,
        region_code=values["region"] or None,
    )


def _rename_unit_en(ctx: WebContext, actor: Actor, code: str, form: FormData) -> None:
    set_unit_english_name(ctx.db, actor=actor, code=code, name_en=forms.text(form, "name_en", 200))


def _toggle_unit(ctx: WebContext, actor: Actor, code: str, form: FormData) -> None:
    set_unit_active(ctx.db, actor=actor, code=code, active=forms.text(form, "active", 3) == "1")


UNITS = AdminPage(
    path="/units",
    template="admin/units.html",
    doc="Responsible units.",
    listing=_units,
    fields=("code", "name", "name_en", "kind", "region"),
    create=_add_unit,
    create_doc="Add a unit.",
    error_field="code",
    rows=(
        RowAction("/units/{code}/active", _toggle_unit, doc="Switch a unit on or off."),
        RowAction(
            "/units/{code}/name_en",
            _rename_unit_en,
            doc="Correct a unit's English name (empty: drafted from its name).",
        ),
    ),
)


def _users(ctx: WebContext) -> dict[str, Any]:
    users = ctx.db.scalars(
        select(User).options(selectinload(User.unit)).order_by(User.role, User.username)
    ).all()
    return {
        "users": users,
        "units": ctx.db.scalars(select(Unit).where(Unit.is_active).order_by(Unit.code)).all(),
        "roles": PERSON_ROLES,
        "territories": territories(ctx.db, ctx.lang),
        "beat_grids": beat_grid_counts(ctx.db),
    }


def territories(db: Any, lang: str = "zh") -> list[tuple[str, str]]:
    """``(code, name)`` of the districts and streets a user may belong to (names in
    ``lang``: the English name where there is one)."""
    from duban.places import Region  # deferred: places reads accounts

    rows = db.execute(
        select(Region.code, Region.name, Region.name_en)
        .where(Region.valid_to.is_(None), Region.level.in_(("district", "street")))
        .order_by(Region.code)
    ).all()
    return [
        (str(code), str(name_en or name) if lang == "en" else str(name))
        for code, name, name_en in rows
    ]


def _add_user(ctx: WebContext, actor: Actor, values: Values, form: FormData) -> None:
    create_user(
        ctx.db,
        clock=ctx.clock,
        username=values["username"],
        password=forms.text(form, "password", 200),
        role=values["role"],
        unit_code=values["unit"] or None,
        region_code=values["region"] or None,
        display_name=values["display_name"],
        phone=values["phone"] or None,
    )


def _change_user(ctx: WebContext, actor: Actor, username: str, form: FormData) -> None:
    active = {"1": True, "0": False}.get(forms.text(form, "active", 3))
    update_user(
        ctx.db,
        actor=actor,
        username=username,
        role=forms.text(form, "role", 32) or None,
        unit_code=forms.text(form, "unit", 32) or None,
        active=active,
        password=forms.text(form, "password", 200) or None,
        region_code=forms.text(form, "region", 32) if "region" in form else None,
    )


def _draw_beat(ctx: WebContext, actor: Actor, username: str, form: FormData) -> None:
    """Draw a collector's beat from an uploaded GeoJSON file, or clear it."""
    if forms.text(form, "clear", 3) == "1":
        set_beat(ctx.db, username=username, beat=None)
        return
    files = forms.uploads(form, "beat")
    if not files:
        raise InvalidInput("choose a GeoJSON file of the beat", field="beat")
    data = files[0].file.read(MAX_BEAT_BYTES + 1)
    set_beat(ctx.db, username=username, beat=parse_beat_file(data))


USERS = AdminPage(
    path="/users",
    template="admin/users.html",
    doc="Users and their roles.",
    listing=_users,
    fields=("username", "display_name", "role", "unit", "region", "phone"),
    create=_add_user,
    create_doc="Add a user.",
    error_field="username",
    rows=(
        RowAction(
            "/users/{username}",
            _change_user,
            error_key="user:{key}",
            doc="Change a user's role and unit, switch the account on or off, or reset "
            "the password.",
        ),
        RowAction(
            "/users/{username}/beat",
            _draw_beat,
            error_key="beat:{key}",
            doc="Draw a collector's beat from a GeoJSON file (or clear it).",
        ),
    ),
)

for _page in (UNITS, USERS):
    _page.mount(router)
