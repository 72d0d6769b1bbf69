"""Admin pages of reference data: the taxonomy's limits and the working calendar."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.reference.admin import set_condition_limit
from duban.reference.calendar import LimitUnit
from duban.reference.holidays import (
    calendar_overrides,
    paste_year_schedule,
    set_calendar_day,
    year_sources,
)
from duban.reference.models import Category, FilingCondition
from duban.reference.national import ScheduleError
from duban.web import forms
from duban.web.admin import ADMIN_PREFIX, AdminPage, admin_calendar_gaps
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


def _taxonomy(ctx: WebContext, q: str = "") -> dict[str, Any]:
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
                    select(FilingCondition.category_code).where(
                        or_(FilingCondition.name.like(like), FilingCondition.name_en.like(like))
                    )
                ),
            )
        )
    cats = ctx.db.scalars(stmt.limit(40 if not text else 200)).all()
    return {"cats": cats, "q": text, "limit_units": [u.value for u in LimitUnit]}


TAXONOMY = AdminPage(
    path="/taxonomy",
    template="admin/taxonomy.html",
    doc="Categories with their filing conditions and time limits; search to narrow.",
    listing=_taxonomy,
    query=("q",),
)


def _calendar(ctx: WebContext) -> dict[str, Any]:
    holidays, workdays = calendar_overrides(ctx.db)
    return {
        "holidays": holidays,
        "workdays": workdays,
        "years": year_sources(ctx.db, ctx.clock.now()),
        "calendar_gaps": admin_calendar_gaps(ctx),
    }


CALENDAR = AdminPage(
    path="/calendar",
    template="admin/calendar.html",
    doc="Local days off and make-up workdays on top of the national calendar.",
    listing=_calendar,
    blank=lambda ctx: {"year": str(year_sources(ctx.db, ctx.clock.now())[-1][0])},
)

for _page in (TAXONOMY, CALENDAR):
    _page.mount(router)


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
            errors.add(f"limit:{code}", forms.translate(err.text, ctx.lang))
    else:
        errors.add(f"limit:{code}", ctx.t("Limit must be a number."))
    if errors:
        return TAXONOMY.render(ctx, query={"q": q}, errors=errors, status=422)
    ctx.notice("Saved.")
    return ctx.redirect(f"/admin/taxonomy?q={q}" if q else "/admin/taxonomy")


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
        return CALENDAR.render(ctx, errors=errors, status=422)
    try:
        set_calendar_day(
            ctx.db, actor=actor, clock=ctx.clock, day=day, kind=forms.text(form, "kind", 10)
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add("day", forms.translate(err.text, ctx.lang))
        return CALENDAR.render(ctx, errors=errors, status=422)
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
        return CALENDAR.render(ctx, errors=errors, status=422, values=values)
    try:
        paste_year_schedule(
            ctx.db, actor=actor, clock=ctx.clock, year=year, text=values["schedule"]
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors.add("schedule", _schedule_problem(ctx, err))
        return CALENDAR.render(ctx, errors=errors, status=422, values=values)
    ctx.notice("Saved.")
    return ctx.redirect("/admin/calendar")


def _schedule_problem(ctx: WebContext, err: InvalidInput) -> str:
    """A paste's problem in the page's language, naming its line."""
    cause = err.__cause__
    if not isinstance(cause, ScheduleError):
        return forms.translate(err.text, ctx.lang)
    text = ctx.t(cause.problem, **cause.values)
    return ctx.t("Line {line}: {problem}", line=cause.line, problem=text) if cause.line else text
