"""The campaigns' pages: the list with a form to start one, one campaign (figures, by
unit, by category, by day, the map, the cases), closing it and its report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from duban.cases import SOURCE_LABELS, Source
from duban.kernel.errors import DubanError, InvalidInput, NotFound
from duban.kernel.roles import Role
from duban.places import Region
from duban.reference import Category
from duban.supervision.campaign_report import report_file
from duban.supervision.campaign_rules import CAMPAIGN_LABELS, CampaignStatus, fixed_rate
from duban.supervision.campaigns import (
    CampaignInput,
    campaign_cases,
    campaign_kinds,
    campaign_points,
    campaign_stats,
    close_campaign,
    create_campaign,
    get_campaign,
    kind_label,
    list_campaigns,
    scope_names,
    scope_of,
    update_campaign,
)
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(include_in_schema=False)

CAMPAIGN_ROLES = (
    Role.SUPERVISOR,
    Role.LEADER,
    Role.ADMIN,
    Role.HANDLER,
    Role.DISPATCHER,
    Role.SHIFT_LEAD,
    Role.OPERATOR,
)
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: Where the map opens when a campaign has no case yet (the demo city, 许昌).
DEFAULT_CENTRE = (34.0297, 113.8166)


def _label(ctx: WebContext, pair: tuple[str, str]) -> str:
    return pair[0] if ctx.lang == "zh" else pair[1]


def _choices(ctx: WebContext) -> dict[str, Any]:
    """What the form offers: kinds, categories (major classes and subclasses), regions
    (districts and streets), sources."""
    zh = ctx.lang == "zh"
    categories = [
        (c.code, c.level, c.name if zh else (c.name_en or c.name))
        for c in ctx.db.scalars(select(Category).where(Category.is_active).order_by(Category.code))
    ]
    regions = [
        (r.code, r.level, r.name if zh else (r.name_en or r.name))
        for r in ctx.db.scalars(
            select(Region)
            .where(Region.valid_to.is_(None), Region.level.in_(["district", "street"]))
            .order_by(Region.code)
        )
    ]
    return {
        "kinds": [(k.code, k.zh if zh else k.en) for k in campaign_kinds()],
        "categories": categories,
        "regions": regions,
        "sources": [(s.value, _label(ctx, SOURCE_LABELS[s])) for s in Source],
    }


def _list(
    ctx: WebContext, *, error: str = "", values: dict[str, Any] | None = None, status: int = 200
) -> Response:
    actor = ctx.staff(*CAMPAIGN_ROLES)
    rows = [
        {
            "campaign": c,
            "kind": kind_label(c.kind, ctx.lang),
            "status": _label(ctx, CAMPAIGN_LABELS[CampaignStatus(c.status)]),
        }
        for c in list_campaigns(ctx.db, actor=actor)
    ]
    return ctx.render(
        "supervision/campaigns.html",
        status_code=status,
        rows=rows,
        can_create=actor.role == Role.SUPERVISOR,
        error=error,
        values=values or {},
        **(_choices(ctx) if actor.role == Role.SUPERVISOR else {}),
    )


@router.get("/campaigns")
@pages
def campaigns_page(ctx: Ctx) -> Response:
    """Every campaign, and for supervisors a form to start one."""
    return _list(ctx)


def _date(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as err:
        raise InvalidInput("a date is written as YYYY-MM-DD", field=name) from err


def _texts(form: Any, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _form_values(form: Any) -> dict[str, Any]:
    return {
        "name": _text(form, "name"),
        "kind": _text(form, "kind"),
        "starts_on": _text(form, "starts_on"),
        "ends_on": _text(form, "ends_on"),
        "description": _text(form, "description"),
        "categories": _texts(form, "categories"),
        "regions": _texts(form, "regions"),
        "sources": _texts(form, "sources"),
    }


def _input(values: dict[str, Any]) -> CampaignInput:
    return CampaignInput(
        name=values["name"],
        kind=values["kind"],
        starts_on=_date(values["starts_on"], "starts_on"),
        ends_on=_date(values["ends_on"], "ends_on"),
        categories=values["categories"],
        regions=values["regions"],
        sources=values["sources"],
        description=values["description"],
    )


@router.post("/campaigns")
@pages
def create_form(ctx: Ctx, form: Form) -> Response:
    """A supervisor starts a campaign from the form."""
    actor = ctx.staff(Role.SUPERVISOR)
    values = _form_values(form)
    try:
        made = create_campaign(ctx.db, actor=actor, clock=ctx.clock, data=_input(values))
    except DubanError as err:
        return _list(ctx, error=ctx.t(err.text), values=values, status=422)
    ctx.notice("Saved.")
    return ctx.redirect(f"/campaigns/{made.id}")


def _stored_values(campaign: Any) -> dict[str, Any]:
    scope = scope_of(campaign)
    return {
        "name": campaign.name,
        "kind": campaign.kind,
        "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "description": campaign.description,
        "categories": list(scope.categories),
        "regions": list(scope.regions),
        "sources": list(scope.sources),
    }


@router.get("/campaigns/{campaign_id}")
@pages
def campaign_page(ctx: Ctx, campaign_id: CampaignId) -> Response:
    """One campaign: figures, by unit, by category, by day, the map and the cases."""
    return _campaign_page(ctx, campaign_id)


def _campaign_page(
    ctx: WebContext,
    campaign_id: int,
    *,
    error: str = "",
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    actor = ctx.staff(*CAMPAIGN_ROLES)
    campaign = get_campaign(ctx.db, actor=actor, campaign_id=campaign_id)
    editable = actor.role == Role.SUPERVISOR and campaign.status == CampaignStatus.ACTIVE
    now = ctx.clock.now()
    stats = campaign_stats(ctx.db, actor=actor, campaign=campaign, now=now, lang=ctx.lang)
    cases, total = campaign_cases(ctx.db, actor=actor, campaign=campaign, now=now, page_size=200)
    peak = max((n for _d, n in stats.by_day), default=0)
    return ctx.render(
        "supervision/campaign.html",
        status_code=status,
        error=error,
        values=values or _stored_values(campaign),
        editable=editable,
        **(_choices(ctx) if editable else {}),
        campaign=campaign,
        kind=kind_label(campaign.kind, ctx.lang),
        status=_label(ctx, CAMPAIGN_LABELS[CampaignStatus(campaign.status)]),
        active=campaign.status == CampaignStatus.ACTIVE,
        scope=scope_names(ctx.db, scope_of(campaign), ctx.lang),
        stats=stats,
        rate=fixed_rate(stats.fixed, stats.found),
        peak=peak,
        cases=cases,
        total=total,
        can_close=actor.role == Role.SUPERVISOR and campaign.status == CampaignStatus.ACTIVE,
        centre=DEFAULT_CENTRE,
    )


@router.post("/campaigns/{campaign_id}/edit")
@pages
def edit_form(ctx: Ctx, campaign_id: CampaignId, form: Form) -> Response:
    """A supervisor edits an active campaign from its page; its cases are tagged anew."""
    actor = ctx.staff(Role.SUPERVISOR)
    values = _form_values(form)
    try:
        update_campaign(
            ctx.db, actor=actor, clock=ctx.clock, campaign_id=campaign_id, data=_input(values)
        )
    except DubanError as err:
        if isinstance(err, NotFound):
            raise
        ctx.db.rollback()
        return _campaign_page(ctx, campaign_id, error=ctx.t(err.text), values=values, status=422)
    ctx.notice("Saved.")
    return ctx.redirect(f"/campaigns/{campaign_id}")


@router.post("/campaigns/{campaign_id}/close")
@pages
def close_form(ctx: Ctx, campaign_id: CampaignId, form: Form) -> Response:
    """A supervisor closes the campaign."""
    actor = ctx.staff(Role.SUPERVISOR)
    close_campaign(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        campaign_id=campaign_id,
        note=_text(form, "note"),
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/campaigns/{campaign_id}")


@router.get("/campaigns/{campaign_id}/map.json")
@pages
def map_json(ctx: Ctx, campaign_id: CampaignId) -> Response:
    """The campaign's cases as the one map's points."""
    actor = ctx.staff(*CAMPAIGN_ROLES)
    campaign = get_campaign(ctx.db, actor=actor, campaign_id=campaign_id)
    data = campaign_points(ctx.db, actor=actor, campaign=campaign, now=ctx.clock.now())
    return ctx.respond(JSONResponse(data))


@router.get("/campaigns/{campaign_id}/report.docx")
@pages
def report_page(ctx: Ctx, campaign_id: CampaignId) -> Response:
    """The closing report, for a signed-in viewer."""
    actor = ctx.staff(*CAMPAIGN_ROLES)
    file = report_file(
        ctx.db,
        actor=actor,
        campaign_id=campaign_id,
        now=ctx.clock.now(),
        font=ctx.settings.cjk_font,
    )
    return Response(
        content=file.data,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
