"""Admin pages: units, users and roles, filing-condition limits, calendar overrides,
API keys of Open311 clients, region import with its validation report, routing rules."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import date
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from duban.accounts.directory import set_unit_active, update_user
from duban.accounts.models import Unit, User
from duban.accounts.users import create_unit, create_user
from duban.kernel.errors import Conflict, InvalidInput, NotFound
from duban.kernel.roles import Role
from duban.open311.apikeys import create_api_key, list_api_keys, revoke_api_key
from duban.places.models import Region
from duban.places.region_import import ImportReport, import_regions
from duban.places.routing import add_rule, deactivate_rule, list_rules, rule_description
from duban.reference.admin import set_condition_limit
from duban.reference.calendar import LimitUnit
from duban.reference.holidays import (
    CalendarGap,
    calendar_gaps,
    calendar_overrides,
    paste_year_schedule,
    set_calendar_day,
    year_sources,
)
from duban.reference.models import Category, FilingCondition
from duban.reference.national import ScheduleError
from duban.web import forms
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(prefix="/admin", include_in_schema=False)

PERSON_ROLES = [r for r in Role if r != Role.SYSTEM]


@router.get("")
@pages
def admin_home(ctx: Ctx) -> Response:
    """What an admin keeps."""
    ctx.staff(Role.ADMIN)
    return ctx.render("admin/index.html", calendar_gaps=_calendar_gaps(ctx))


def _calendar_gaps(ctx: WebContext) -> list[CalendarGap]:
    """The years whose holidays nobody has entered (provisional or unknown)."""
    return calendar_gaps(ctx.db, ctx.clock.now())


def _units_page(
    ctx: WebContext,
    errors: forms.FieldErrors | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    units = ctx.db.scalars(select(Unit).order_by(Unit.code)).all()
    return ctx.render(
        "admin/units.html",
        status_code=status,
        units=units,
        errors=errors.messages if errors else {},
        values=values or {},
    )


@router.get("/units")
@pages
def units_page(ctx: Ctx) -> Response:
    """Responsible units."""
    ctx.staff(Role.ADMIN)
    return _units_page(ctx)


@router.post("/units")
@pages
def add_unit(ctx: Ctx, form: Form) -> Response:
    """Add a unit."""
    ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    values = {k: forms.text(form, k, 200) for k in ("code", "name", "kind")}
    try:
        create_unit(
            ctx.db, code=values["code"], name=values["name"], kind=values["kind"] or "professional"
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add_error(err, "code")
        return _units_page(ctx, errors, 422, values)
    except Conflict as err:
        ctx.db.rollback()
        errors.add("code", forms.localize(err.message, ctx.lang))
        return _units_page(ctx, errors, 409, values)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/units")


@router.post("/units/{code}/active")
@pages
def toggle_unit(ctx: Ctx, code: str, form: Form) -> Response:
    """Switch a unit on or off."""
    actor = ctx.staff(Role.ADMIN)
    set_unit_active(ctx.db, actor=actor, code=code, active=forms.text(form, "active", 3) == "1")
    ctx.notice("Saved.")
    return ctx.redirect("/admin/units")


def _users_page(
    ctx: WebContext,
    errors: forms.FieldErrors | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    users = ctx.db.scalars(
        select(User).options(selectinload(User.unit)).order_by(User.role, User.username)
    ).all()
    return ctx.render(
        "admin/users.html",
        status_code=status,
        users=users,
        units=ctx.db.scalars(select(Unit).where(Unit.is_active).order_by(Unit.code)).all(),
        roles=PERSON_ROLES,
        errors=errors.messages if errors else {},
        values=values or {},
    )


@router.get("/users")
@pages
def users_page(ctx: Ctx) -> Response:
    """Users and their roles."""
    ctx.staff(Role.ADMIN)
    return _users_page(ctx)


@router.post("/users")
@pages
def add_user(ctx: Ctx, form: Form) -> Response:
    """Add a user."""
    ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    values = {
        k: forms.text(form, k, 200) for k in ("username", "display_name", "role", "unit", "phone")
    }
    try:
        create_user(
            ctx.db,
            clock=ctx.clock,
            username=values["username"],
            password=forms.text(form, "password", 200),
            role=values["role"],
            unit_code=values["unit"] or None,
            display_name=values["display_name"],
            phone=values["phone"] or None,
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add_error(err, "username")
        return _users_page(ctx, errors, 422, values)
    except Conflict as err:
        ctx.db.rollback()
        errors.add("username", forms.localize(err.message, ctx.lang))
        return _users_page(ctx, errors, 409, values)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/users")


@router.post("/users/{username}")
@pages
def change_user(ctx: Ctx, username: str, form: Form) -> Response:
    """Change a user's role and unit, switch the account on or off, or reset the password."""
    actor = ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    active = {"1": True, "0": False}.get(forms.text(form, "active", 3))
    try:
        update_user(
            ctx.db,
            actor=actor,
            username=username,
            role=forms.text(form, "role", 32) or None,
            unit_code=forms.text(form, "unit", 32) or None,
            active=active,
            password=forms.text(form, "password", 200) or None,
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add(f"user:{username}", forms.localize(err.message, ctx.lang))
        return _users_page(ctx, errors, 422)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/users")


@router.get("/taxonomy")
@pages
def taxonomy_page(ctx: Ctx, q: str = "") -> Response:
    """Categories with their filing conditions and time limits; search to narrow."""
    ctx.staff(Role.ADMIN)
    return _taxonomy_page(ctx, q)


def _taxonomy_page(
    ctx: WebContext, q: str, errors: forms.FieldErrors | None = None, status: int = 200
) -> Response:
    stmt = (
        select(Category)
        .where(Category.level == 2, Category.is_active)
        .options(selectinload(Category.conditions))
        .order_by(Category.position, Category.code)
    )
    text = q.strip()[:50]
    if text:
        like = f"%{text}%"
        stmt = stmt.where(
            or_(
                Category.name.like(like),
                Category.code.like(like),
                Category.name_en.like(like),
                Category.code.in_(
                    select(FilingCondition.category_code).where(FilingCondition.name.like(like))
                ),
            )
        )
    cats = ctx.db.scalars(stmt.limit(40 if not text else 200)).all()
    return ctx.render(
        "admin/taxonomy.html",
        status_code=status,
        cats=cats,
        q=text,
        limit_units=[u.value for u in LimitUnit],
        errors=errors.messages if errors else {},
    )


@router.post("/conditions/{code}/limit")
@pages
def change_limit(ctx: Ctx, code: str, form: Form) -> Response:
    """Set a filing condition's time limit."""
    actor = ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    amount = forms.number(form, "amount", errors, label=ctx.t("Limit"))
    q = forms.text(form, "q", 50)
    if amount is not None:
        try:
            set_condition_limit(
                ctx.db,
                actor=actor,
                clock=ctx.clock,
                code=code,
                amount=amount,
                unit=forms.text(form, "unit", 20),
            )
        except InvalidInput as err:
            ctx.db.rollback()
            errors.add(f"limit:{code}", forms.localize(err.message, ctx.lang))
    else:
        errors.add(f"limit:{code}", ctx.t("Limit must be a number."))
    if errors:
        return _taxonomy_page(ctx, q, errors, 422)
    ctx.notice("Saved.")
    return ctx.redirect(f"/admin/taxonomy?q={q}" if q else "/admin/taxonomy")


def _calendar_page(
    ctx: WebContext,
    errors: forms.FieldErrors | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    holidays, workdays = calendar_overrides(ctx.db)
    years = year_sources(ctx.db, ctx.clock.now())
    return ctx.render(
        "admin/calendar.html",
        status_code=status,
        holidays=holidays,
        workdays=workdays,
        years=years,
        calendar_gaps=_calendar_gaps(ctx),
        errors=errors.messages if errors else {},
        values=values or {"year": str(years[-1][0])},
    )


@router.get("/calendar")
@pages
def calendar_page(ctx: Ctx) -> Response:
    """Local days off and make-up workdays on top of the national calendar."""
    ctx.staff(Role.ADMIN)
    return _calendar_page(ctx)


@router.post("/calendar")
@pages
def change_calendar(ctx: Ctx, form: Form) -> Response:
    """Add or remove one local override."""
    actor = ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    try:
        day = date.fromisoformat(forms.text(form, "day", 10))
    except ValueError:
        errors.add("day", ctx.t("Enter a date."))
        return _calendar_page(ctx, errors, 422)
    try:
        set_calendar_day(
            ctx.db, actor=actor, clock=ctx.clock, day=day, kind=forms.text(form, "kind", 10)
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add("day", forms.localize(err.message, ctx.lang))
        return _calendar_page(ctx, errors, 422)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/calendar")


@router.post("/calendar/schedule")
@pages
def paste_calendar_schedule(ctx: Ctx, form: Form) -> Response:
    """Replace a year's local days with the State Council's schedule, pasted in one step."""
    actor = ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    values = {"year": forms.text(form, "year", 4), "schedule": forms.text(form, "schedule")}
    year = int(values["year"]) if values["year"].isdigit() else 0
    if not 1949 <= year <= 2200:
        errors.add("year", ctx.t("Enter a year."))
        return _calendar_page(ctx, errors, 422, values)
    try:
        paste_year_schedule(
            ctx.db, actor=actor, clock=ctx.clock, year=year, text=values["schedule"]
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add("schedule", _schedule_problem(ctx, err))
        return _calendar_page(ctx, errors, 422, values)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/calendar")


def _schedule_problem(ctx: WebContext, err: InvalidInput) -> str:
    """A paste's problem in the page's language, naming its line."""
    cause = err.__cause__
    if not isinstance(cause, ScheduleError):
        return forms.localize(err.message, ctx.lang)
    text = ctx.t(cause.problem, **cause.values)
    return ctx.t("Line {line}: {problem}", line=cause.line, problem=text) if cause.line else text


def _keys_page(
    ctx: WebContext, issued: str = "", errors: forms.FieldErrors | None = None, status: int = 200
) -> Response:
    return ctx.render(
        "admin/apikeys.html",
        status_code=status,
        keys=list_api_keys(ctx.db),
        issued=issued,
        errors=errors.messages if errors else {},
    )


@router.get("/apikeys")
@pages
def keys_page(ctx: Ctx) -> Response:
    """API keys of Open311 clients."""
    ctx.staff(Role.ADMIN)
    return _keys_page(ctx)


@router.post("/apikeys")
@pages
def add_key(ctx: Ctx, form: Form) -> Response:
    """Issue a key; its text is shown this once."""
    ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    try:
        issued = create_api_key(ctx.db, name=forms.text(form, "name", 64), clock=ctx.clock)
    except (InvalidInput, Conflict) as err:
        ctx.db.rollback()
        errors.add("name", forms.localize(err.message, ctx.lang))
        return _keys_page(ctx, errors=errors, status=422)
    return _keys_page(ctx, issued=issued.key)


@router.post("/apikeys/{name}/revoke")
@pages
def revoke_key(ctx: Ctx, name: str, form: Form) -> Response:
    """Revoke a key."""
    ctx.staff(Role.ADMIN)
    with contextlib.suppress(NotFound):  # already gone: the page shows what is left
        revoke_api_key(ctx.db, name=name, clock=ctx.clock)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/apikeys")


# --------------------------------------------------------------------------- places

MAX_REGION_UPLOAD_BYTES = 200 * 1024 * 1024


def _regions_page(
    ctx: WebContext,
    *,
    report: ImportReport | None = None,
    errors: forms.FieldErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    counts = dict(
        ctx.db.execute(
            select(Region.level, func.count())
            .where(Region.valid_to.is_(None))
            .group_by(Region.level)
        ).all()
    )
    return ctx.render(
        "admin/regions.html",
        status_code=status,
        report=report,
        counts=counts,
        errors=errors.messages if errors else {},
        values=values or {"level": "district", "crs": "wgs84"},
    )


@router.get("/regions")
@pages
def regions_page(ctx: Ctx) -> Response:
    """Import districts, streets, communities or grids from a file."""
    ctx.staff(Role.ADMIN)
    return _regions_page(ctx)


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
        return _regions_page(ctx, errors=errors, values=values, status=422)
    upload = files[0]
    filename = Path(upload.filename or "upload.geojson").name
    suffix = "".join(Path(filename).suffixes[-2:]) or ".geojson"
    data = upload.file.read(MAX_REGION_UPLOAD_BYTES + 1)
    if len(data) > MAX_REGION_UPLOAD_BYTES:
        errors.add("file", ctx.t("The file is too large."))
        return _regions_page(ctx, errors=errors, values=values, status=422)
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
        return _regions_page(ctx, errors=errors, values=values, status=422)
    report.source = filename
    return _regions_page(ctx, report=report, values=values, status=200 if report.ok else 422)


def _routing_page(
    ctx: WebContext,
    errors: forms.FieldErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rules = list_rules(ctx.db)
    return ctx.render(
        "admin/routing.html",
        status_code=status,
        rules=[(rule, rule_description(ctx.db, rule)) for rule in rules],
        units=ctx.db.scalars(select(Unit).where(Unit.is_active).order_by(Unit.code)).all(),
        levels=["district", "street", "community", "grid", "zone"],
        errors=errors.messages if errors else {},
        values=values or {},
    )


@router.get("/routing")
@pages
def routing_page(ctx: Ctx) -> Response:
    """Routing rules, most specific first, and a form to add one."""
    ctx.staff(Role.ADMIN)
    return _routing_page(ctx)


@router.post("/routing")
@pages
def add_routing_rule(ctx: Ctx, form: Form) -> Response:
    """Add a rule: (category or filing condition, place) → lead unit and helpers."""
    ctx.staff(Role.ADMIN)
    errors = forms.FieldErrors(ctx.lang)
    values = {
        k: forms.text(form, k, 64)
        for k in ("unit", "category", "condition", "place_level", "place_code", "note")
    }
    try:
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
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add_error(err, "unit")
        return _routing_page(ctx, errors, values, 422)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/routing")


@router.post("/routing/{rule_id}/off")
@pages
def routing_rule_off(ctx: Ctx, rule_id: int, form: Form) -> Response:
    """Switch a rule off (cases keep the reason they were given)."""
    ctx.staff(Role.ADMIN)
    deactivate_rule(ctx.db, rule_id)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/routing")
