"""The evaluation API: the ranked table, the cases behind a number, scores by hand, the
monthly bulletin and its archive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.evaluation.archive import archived_file, list_bulletins, make_bulletin
from duban.evaluation.bulletin import FORMATS, BulletinFile
from duban.evaluation.hotspots import as_page, find_hotspots, hotspots_geojson
from duban.evaluation.schemas import (
    BulletinList,
    BulletinRead,
    CaseRef,
    DrillDown,
    EvaluationPage,
    EvaluationRow,
    HotspotPage,
    ManualScoreCreate,
    ManualScoreRead,
)
from duban.evaluation.service import as_json, drill_down, evaluate, record_manual_score
from duban.reference import load_policy

router = APIRouter(tags=["evaluation"])

_OBJECT = (
    "district | street | community | grid | unit | collector | operator | shift_lead | dispatcher"
)
_FROM = "local date (Asia/Shanghai), inclusive, e.g. 2026-10-01; or ISO 8601 with offset"
_TO = "local date, exclusive, e.g. 2026-11-01; or ISO 8601 with offset"

ObjectQ = Annotated[str | None, Query(description=_OBJECT)]
FromQ = Annotated[str | None, Query(alias="from", description=_FROM)]
ToQ = Annotated[str | None, Query(description=_TO)]


@router.get("/evaluation", response_model=EvaluationPage, summary="Evaluation table (考核)")
def evaluation(
    session: SessionDep,
    actor: ActorDep,
    object: ObjectQ = None,
    from_: FromQ = None,
    to: ToQ = None,
    scheme: Annotated[str | None, Query(description="scoring scheme; default national")] = None,
) -> EvaluationPage:
    """Every indicator of every object of one kind over ``[from, to)``, with the scheme's
    score, grade, rank (ties share one) and change against the period before (环比).
    Leaders and administrators see every row; a unit's handler its own unit's row."""
    _, used, rows = evaluate(
        session, actor=actor, obj=object, start=from_, end=to, scheme_code=scheme
    )
    return EvaluationPage(
        scheme=used.code, rows=[EvaluationRow.model_validate(r) for r in as_json(rows)]
    )


@router.get("/evaluation/cases", response_model=DrillDown, summary="The cases behind a number")
def evaluation_cases(
    session: SessionDep,
    actor: ActorDep,
    object: ObjectQ = None,
    code: Annotated[str | None, Query(description="region/unit code or username")] = None,
    indicator: Annotated[str | None, Query(description="an indicator's name")] = None,
    part: Annotated[str | None, Query(description="numerator (the default) | denominator")] = None,
    from_: FromQ = None,
    to: ToQ = None,
) -> DrillDown:
    """The cases counted in the numerator or denominator of one indicator of one object."""
    ind, cases = drill_down(
        session,
        actor=actor,
        obj=object,
        code=code,
        indicator=indicator,
        part=part,
        start=from_,
        end=to,
    )
    return DrillDown(
        indicator=ind.code,
        part=part or "numerator",
        count=len(cases),
        cases=[CaseRef(id=i, code=c) for i, c in cases],
    )


DaysQ = Annotated[
    str | None, Query(description="the recurrence window in days; default from the policy (30)")
]
CategoryQ = Annotated[
    str | None, Query(description="a subclass (小类) code, or a major class (大类) by prefix")
]


@router.get(
    "/evaluation/hotspots",
    response_model=HotspotPage,
    response_model_by_alias=True,
    summary="Hotspots and recurrence (回潮)",
)
def hotspot_list(
    session: SessionDep,
    actor: ActorDep,
    from_: FromQ = None,
    to: ToQ = None,
    days: DaysQ = None,
    category: CategoryQ = None,
) -> HotspotPage:
    """Place (unit grid) × category whose cases reported in ``[from, to)`` came back
    within ``days`` days of another such case's closing, ranked by recurrences, then cases.
    Staff only; each sees the cases it may see."""
    found = find_hotspots(session, actor=actor, start=from_, end=to, days=days, category=category)
    return HotspotPage.model_validate(as_page(found, load_policy(session).tz))


@router.get(
    "/evaluation/hotspots.geojson",
    response_class=JSONResponse,
    summary="Hotspots as a GeoJSON map layer",
    responses={200: {"content": {"application/geo+json": {}}, "description": "Points"}},
)
def hotspot_layer(
    session: SessionDep,
    actor: ActorDep,
    from_: FromQ = None,
    to: ToQ = None,
    days: DaysQ = None,
    category: CategoryQ = None,
) -> JSONResponse:
    """The same rows as GeoJSON points (WGS84), each at the mean position of its cases."""
    found = find_hotspots(session, actor=actor, start=from_, end=to, days=days, category=category)
    return JSONResponse(hotspots_geojson(found), media_type="application/geo+json")


@router.post(
    "/evaluation/manual-scores",
    response_model=ManualScoreRead,
    status_code=201,
    summary="Enter a score by hand",
)
def enter_score(
    body: ManualScoreCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> ManualScoreRead:
    """Points of a scheme's manual or bonus item (第三方检查, 暗访 …) for one object and
    period, with the evidence; the same item, object and period again replaces it."""
    row = record_manual_score(
        session,
        actor=actor,
        clock=clock,
        scheme_code=body.scheme,
        item=body.item,
        obj=body.object,
        code=body.code,
        start=body.from_,
        end=body.to,
        points=body.score,
        note=body.note,
    )
    return ManualScoreRead(
        id=row.id,
        scheme=row.scheme,
        item=row.item,
        object=row.object,
        code=row.object_code,
        score=row.score,
        note=row.note,
        entered_at=row.entered_at,
    )


def _file(file: BulletinFile, bulletin_id: int) -> Response:
    return Response(
        content=file.data,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "X-Bulletin-Id": str(bulletin_id),
        },
    )


@router.get(
    "/reports/bulletin",
    response_class=Response,
    summary="The monthly bulletin (月度通报)",
    responses={200: {"content": {t: {} for t in FORMATS.values()}, "description": "The file"}},
)
def bulletin(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    period: Annotated[str | None, Query(description="the month, YYYY-MM, e.g. 2026-11")] = None,
    format: Annotated[str | None, Query(description="docx | pdf | xlsx")] = None,
    object: Annotated[str | None, Query(description=_OBJECT + "; default street")] = None,
    scheme: Annotated[str | None, Query(description="scoring scheme; default national")] = None,
) -> Response:
    """One month's ranking (with 环比 arrows), indicator table, summary, chart and typical
    cases (with photos) of one kind of object; XLSX has one sheet per table. Each call
    makes the bulletin anew and archives it in all three formats as a new version (its
    archive id in the ``X-Bulletin-Id`` header). Leaders, supervisors and administrators."""
    made_id, file = make_bulletin(
        session,
        actor=actor,
        clock=clock,
        period=period,
        fmt=format,
        obj=object,
        scheme_code=scheme,
        font=request.app.state.settings.cjk_font,
        store=request.app.state.photo_store,
    )
    return _file(file, made_id)


@router.get(
    "/reports/bulletins",
    response_model=BulletinList,
    summary="The archive of bulletins made (通报存档)",
)
def bulletins(
    session: SessionDep,
    actor: ActorDep,
    period: Annotated[str | None, Query(description="only this month, YYYY-MM")] = None,
    object: Annotated[str | None, Query(description="only this kind of object")] = None,
    scheme: Annotated[str | None, Query(description="only this scheme")] = None,
) -> BulletinList:
    """Every bulletin made, newest month first: by whom (or the job), with which scheme
    version, in which formats. Nothing is ever removed or replaced."""
    rows = list_bulletins(session, actor=actor, period=period, obj=object, scheme_code=scheme)
    return BulletinList(
        bulletins=[
            BulletinRead(
                id=r.id,
                period=r.period,
                object=r.object,
                scheme=r.scheme,
                scheme_version=r.scheme_version,
                version=r.version,
                source=r.source,
                title=r.title,
                created_at=r.created_at,
                created_by=r.created_by,
                formats=list(r.formats),
                downloads={f: f"/api/v1/reports/bulletins/{r.id}/{f}" for f in r.formats},
            )
            for r in rows
        ]
    )


@router.get(
    "/reports/bulletins/{bulletin_id}/{format}",
    response_class=Response,
    summary="Download an archived bulletin",
    responses={200: {"content": {t: {} for t in FORMATS.values()}, "description": "The file"}},
)
def archived_bulletin(
    session: SessionDep, actor: ActorDep, bulletin_id: int, format: str
) -> Response:
    """One file of an archived bulletin (docx, pdf or xlsx), exactly as it was made."""
    return _file(
        archived_file(session, actor=actor, bulletin_id=bulletin_id, fmt=format), bulletin_id
    )
