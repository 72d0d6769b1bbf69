"""Campaigns over HTTP: create, list, read with figures, edit, close, their cases and
the closing report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.cases import STATUS_LABELS, CaseStatus
from duban.kernel.context import Actor
from duban.reference import load_policy
from duban.supervision.campaign_report import report_file
from duban.supervision.campaign_rules import CAMPAIGN_LABELS, CampaignStatus, fixed_rate
from duban.supervision.campaigns import (
    CampaignInput,
    campaign_cases,
    campaign_stats,
    close_campaign,
    create_campaign,
    get_campaign,
    kind_label,
    list_campaigns,
    scope_of,
    update_campaign,
)
from duban.supervision.documents import DOCX_TYPE
from duban.supervision.models import Campaign
from duban.supervision.schemas import (
    BreakdownRow,
    CampaignCasePage,
    CampaignCaseRead,
    CampaignClose,
    CampaignCreate,
    CampaignRead,
    CampaignStatsRead,
    CampaignSummary,
    DayCount,
    UnitRef,
)

router = APIRouter(tags=["campaigns"])
BASE = "/api/v1/campaigns"

CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _summary_fields(campaign: Campaign) -> dict[str, Any]:
    scope = scope_of(campaign)
    status = CampaignStatus(campaign.status)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "kind_label": kind_label(campaign.kind, "zh"),
        "status": status.value,
        "status_label": CAMPAIGN_LABELS[status][0],
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "categories": list(scope.categories),
        "regions": list(scope.regions),
        "sources": list(scope.sources),
    }


def campaign_read(session: Session, campaign: Campaign, actor: Actor, clock: Any) -> CampaignRead:
    """A campaign with its figures as the caller may see them."""
    tz = load_policy(session).tz
    stats = campaign_stats(session, actor=actor, campaign=campaign, now=clock.now())

    def rows(items: Any) -> list[BreakdownRow]:
        return [
            BreakdownRow(
                key=r.key,
                label=r.label,
                found=r.found,
                fixed=r.fixed,
                open=r.open,
                overdue=r.overdue,
            )
            for r in items
        ]

    return CampaignRead(
        **_summary_fields(campaign),
        description=campaign.description,
        created_at=campaign.created_at.astimezone(tz),
        closed_at=campaign.closed_at.astimezone(tz) if campaign.closed_at else None,
        tagged_at=campaign.tagged_at.astimezone(tz) if campaign.tagged_at else None,
        stats=CampaignStatsRead(
            found=stats.found,
            fixed=stats.fixed,
            open=stats.open,
            overdue=stats.overdue,
            fixed_percent=fixed_rate(stats.fixed, stats.found),
            by_unit=rows(stats.by_unit),
            by_category=rows(stats.by_category),
            by_day=[DayCount(day=d, found=n) for d, n in stats.by_day],
        ),
        cases_url=f"{BASE}/{campaign.id}/cases",
        report_url=f"{BASE}/{campaign.id}/report.docx",
    )


def _input(body: CampaignCreate) -> CampaignInput:
    return CampaignInput(
        name=body.name,
        kind=body.kind,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        categories=body.categories,
        regions=body.regions,
        sources=body.sources,
        description=body.description,
    )


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignRead,
    summary="Start a campaign (专项整治 / 专项巡护 / 攻坚月)",
)
def create(
    body: CampaignCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> CampaignRead:
    """Supervisors only. The cases already reported inside the period and scope are
    tagged at once; new ones by the next sweep (``duban jobs run sweep``)."""
    campaign = create_campaign(session, actor=actor, clock=clock, data=_input(body))
    return campaign_read(session, campaign, actor, clock)


@router.get("/campaigns", response_model=list[CampaignSummary], summary="List campaigns")
def listing(session: SessionDep, actor: ActorDep) -> list[CampaignSummary]:
    """Active ones first, newest first. Staff only."""
    return [CampaignSummary(**_summary_fields(c)) for c in list_campaigns(session, actor=actor)]


@router.get(
    "/campaigns/{campaign_id}", response_model=CampaignRead, summary="A campaign and its figures"
)
def read(
    campaign_id: CampaignId, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> CampaignRead:
    """Found, fixed (closed), open and overdue, by unit, by category and by day — counted
    over the tagged cases the caller may see (a unit its own, a street its territory)."""
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    return campaign_read(session, campaign, actor, clock)


@router.put(
    "/campaigns/{campaign_id}", response_model=CampaignRead, summary="Edit an active campaign"
)
def edit(
    campaign_id: CampaignId,
    body: CampaignCreate,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> CampaignRead:
    """Supervisors only; the whole campaign as in ``POST``. Its cases are tagged anew."""
    campaign = update_campaign(
        session, actor=actor, clock=clock, campaign_id=campaign_id, data=_input(body)
    )
    return campaign_read(session, campaign, actor, clock)


@router.post(
    "/campaigns/{campaign_id}/close", response_model=CampaignRead, summary="Close a campaign"
)
def close(
    campaign_id: CampaignId,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    body: CampaignClose | None = None,
) -> CampaignRead:
    """Supervisors only. Tags a last time, then keeps its cases."""
    campaign = close_campaign(
        session,
        actor=actor,
        clock=clock,
        campaign_id=campaign_id,
        note=body.note if body else "",
    )
    return campaign_read(session, campaign, actor, clock)


@router.get(
    "/campaigns/{campaign_id}/cases",
    response_model=CampaignCasePage,
    summary="The cases of a campaign",
)
def cases(
    campaign_id: CampaignId,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CampaignCasePage:
    """Newest first; only the cases the caller may see."""
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    rows, total = campaign_cases(
        session, actor=actor, campaign=campaign, now=clock.now(), page=page, page_size=page_size
    )
    tz = load_policy(session).tz
    return CampaignCasePage(
        items=[
            CampaignCaseRead(
                id=c.id,
                code=c.code,
                status=CaseStatus(c.status).value,
                status_label=STATUS_LABELS[CaseStatus(c.status)][0],
                category_code=c.category_code,
                unit=UnitRef(code=c.unit.code, name=c.unit.name) if c.unit else None,
                address=c.address,
                reported_at=c.created_at.astimezone(tz),
                overdue=late,
                url=f"/api/v1/cases/{c.id}",
            )
            for c, late in rows
        ],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.get(
    "/campaigns/{campaign_id}/report.docx",
    summary="The campaign's closing report as DOCX",
    response_class=Response,
    responses={200: {"content": {DOCX_TYPE: {}}, "description": "GB/T 9704-2012 layout"}},
)
def report(
    campaign_id: CampaignId,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> Response:
    """Period, scope, summary figures, a table and a chart by unit, typical cases — of
    the cases the caller may see."""
    file = report_file(
        session,
        actor=actor,
        campaign_id=campaign_id,
        now=clock.now(),
        font=request.app.state.settings.cjk_font,
    )
    return Response(
        content=file.data,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )
