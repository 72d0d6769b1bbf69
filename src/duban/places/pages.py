"""Admin pages of places: region import with its validation report, routing rules."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, select
from starlette.datastructures import FormData

from duban.accounts import Unit
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.places.models import Region
from duban.places.region_import import import_regions
from duban.places.routing import add_rule, deactivate_rule, list_rules, rule_description
from duban.web import forms
from duban.web.admin import ADMIN_PREFIX, AdminPage, RowAction, Values
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)

MAX_REGION_UPLOAD_BYTES = 200 * 1024 * 1024


def _regions(ctx: WebContext) -> dict[str, Any]:
    counts = dict(
        ctx.db.execute(
            select(Region.level, func.count())
            .where(Region.valid_to.is_(None))
            .group_by(Region.level)
        ).all()
    )
    return {"report": None, "counts": counts}


REGIONS = AdminPage(
    path="/regions",
    template="admin/regions.html",
    doc="Import districts, streets, communities or grids from a file.",
    listing=_regions,
    blank=lambda ctx: {"level": "district", "crs": "wgs84"},
)


def _routing(ctx: WebContext) -> dict[str, Any]:
    rules = list_rules(ctx.db)
    return {
        "rules": [(rule, rule_description(ctx.db, rule)) for rule in rules],
        "units": ctx.db.scalars(select(Unit).where(Unit.is_active).order_by(Unit.code)).all(),
        "levels": ["district", "street", "community", "grid", "zone"],
    }


def _add_rule(ctx: WebContext, actor: Actor, values: Values, form: FormData) -> None:
    add_rule(
        ctx.db,
        unit_code=values["unit"],
        now=ctx.clock.now(),
        helper_units=forms.texts(form, "helper_units"),
        category_code=values["category"] or None,
        condition_code=values["condition"] or None,
        place_level=values["place_level"] or None,
        place_code=values["place_code"] or None,
        note=values["note"],
    )


def _rule_off(ctx: WebContext, actor: Actor, rule_id: int, form: FormData) -> None:
    deactivate_rule(ctx.db, rule_id)


ROUTING = AdminPage(
    path="/routing",
    template="admin/routing.html",
    doc="Routing rules, most specific first, and a form to add one.",
    listing=_routing,
    fields=("unit", "category", "condition", "place_level", "place_code", "note"),
    field_limit=64,
    create=_add_rule,
    create_doc="Add a rule: (category or filing condition, place) → lead unit and helpers.",
    error_field="unit",
    conflict_on_form=False,
    rows=(
        RowAction(
            "/routing/{rule_id}/off",
            _rule_off,
            key_type=int,
            doc="Switch a rule off (cases keep the reason they were given).",
        ),
    ),
)

for _page in (REGIONS, ROUTING):
    _page.mount(router)


@router.post("/regions")
@pages
def import_regions_file(ctx: Ctx, form: Form) -> Response:
    """Validate the whole file; write it only if nothing is wrong (or only check it)."""
    ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    values = {
        k: forms.text(form, k, 64)
        for k in ("level", "code_field", "name_field", "parent_field", "crs", "dry_run")
    }
    files = forms.uploads(form, "file")
    if not files:
        errors.add("file", ctx.t("Choose a file."))
    for name in ("code_field", "name_field"):
        if not values[name]:
            errors.add(name, ctx.t("Required."))
    if errors:
        return REGIONS.render(ctx, errors=errors, values=values, status=422)
    upload = files[0]
    filename = Path(upload.filename or "upload.geojson").name
    suffix = "".join(Path(filename).suffixes[-2:]) or ".geojson"
    data = upload.file.read(MAX_REGION_UPLOAD_BYTES + 1)
    if len(data) > MAX_REGION_UPLOAD_BYTES:
        errors.add("file", ctx.t("The file is too large."))
        return REGIONS.render(ctx, errors=errors, values=values, status=422)
    try:
        with tempfile.TemporaryDirectory(prefix="duban-import-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            report = import_regions(
                ctx.db,
                path,
                level=values["level"],
                code_field=values["code_field"],
                name_field=values["name_field"],
                parent_field=values["parent_field"] or None,
                crs=values["crs"] or "wgs84",
                dry_run=values["dry_run"] == "1",
                now=ctx.clock.now(),
            )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add_error(err, "file")
        return REGIONS.render(ctx, errors=errors, values=values, status=422)
    report.source = filename
    return REGIONS.render(ctx, report=report, values=values, status=200 if report.ok else 422)
