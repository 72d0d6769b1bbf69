"""Cases: report, list, read, act."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import User
from duban.api.deps import (
    ActorDep,
    ClockDep,
    SessionDep,
    SettingsDep,
    TokenSubject,
    bearer_token,
    signed_in_actor,
    token_verifier,
)
from duban.api.limits import request_lang
from duban.cases.actions import (
    ActionInput,
    NewCase,
    get_case,
    perform_action,
)
from duban.cases.intake import WrittenReport, new_case_objects, report
from duban.cases.models import Case, CaseEvent
from duban.cases.presenters import deadline_view
from duban.cases.queries import SORTS, CaseFilter, list_cases
from duban.cases.schemas import (
    ActionRequest,
    CaseCreate,
    CasePage,
    CaseRead,
    case_read,
    routing_reasons,
    sees_routing,
)
from duban.cases.workflow import Action, CaseStatus, Source
from duban.kernel.context import Actor, Clock
from duban.kernel.db.session import REQUEST_MEMO
from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.kernel.parsing import parse_bound, parse_choices
from duban.kernel.roles import Role
from duban.photochecks import verdicts_of
from duban.places import case_locations
from duban.reference import load_policy

router = APIRouter(tags=["cases"])
#: The one route of intake, kept apart so the app can match it first: the busiest request
#: should not be compared against every other route's path on its way in.
intake_router = APIRouter(tags=["cases"])


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


def _present(
    session: Session,
    case: Case,
    actor: Actor,
    clock: Clock,
    *,
    full: bool,
    new: bool = False,
    lang: str = "en",
) -> CaseRead:
    """The case as ``actor`` sees it (routing's reason in ``lang``). ``new``: ``actor``
    has just created it in this session, so its one event and its empty collections are
    in memory and not read back."""
    policy = load_policy(session)
    events: list[CaseEvent] | None
    if not full:
        events = None
    elif new:
        events = list(case.events)
    else:
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        )
    ids = {case.assignee_id} if case.assignee_id else set()
    for e in events or []:
        if e.actor_id:
            ids.add(e.actor_id)
    if new and actor.user_id is not None and ids <= {actor.user_id}:
        usernames = {actor.user_id: actor.username}
    else:
        usernames = _usernames(session, ids)
    verdicts = (
        verdicts_of(session, [case.id])
        if actor.role != Role.CITIZEN and (not new or case.fixed_on_site)
        else {}
    )
    return case_read(
        case,
        deadline_view(case, policy, clock.now()),
        viewer=actor,
        tz=policy.tz,
        usernames=usernames,
        events=events,
        with_photos=full,
        place=case_locations(session, [case])[0],
        photo_verdict=verdicts.get(case.id),
        policy=policy,
        routing_reason=routing_reasons(session, [case], lang).get(case.id)
        if case.routed_at is not None and sees_routing(actor)
        else None,
    )


# The route reads its token, its Idempotency-Key and its body itself rather than through
# FastAPI's parameters and dependencies, whose resolution cost as much again as the rest
# of the request's parsing; the documentation says what they would have said (the
# schema CaseCreate is added to the components by duban.app).
_CREATE_CASE_DOCS: dict[str, Any] = {
    "security": [{"OAuth2PasswordBearer": []}],
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "a key of your choice (1-200 characters): the same key again "
            "returns the first case instead of filing a second",
            "schema": {"type": "string", "maxLength": 200, "title": "Idempotency-Key"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseCreate"}}},
    },
    "responses": {
        "422": {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        }
    },
}
#: Models that routes document without declaring them (see ``duban.app``).
DOCUMENTED_MODELS: tuple[type[BaseModel], ...] = (CaseCreate,)


@intake_router.post(
    "/cases",
    status_code=201,
    response_model=CaseRead,
    summary="Report a case (上报)",
    openapi_extra=_CREATE_CASE_DOCS,
)
async def create_case(request: Request) -> Response:
    """Create a case. A retried request with the same ``Idempotency-Key`` returns the
    first case (with the header ``Idempotent-Replayed: true``), never a second one."""
    state = request.app.state
    # Who asks first: a caller without a valid token learns nothing of the body's faults.
    subject = token_verifier(request.app).subject(bearer_token(request), state.clock.now())
    try:
        body = CaseCreate.model_validate_json(await request.body())
    except ValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from err
    idempotency_key = request.headers.get("idempotency-key")
    data = NewCase(
        source=body.source,
        category_code=body.category_code,
        condition_code=body.condition_code,
        lat=body.lat,
        lon=body.lon,
        address=body.address,
        description=body.description,
        reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone,
        photo_ids=tuple(body.photo_ids),
        crs=body.crs,
        fixed_on_site=body.fixed_on_site,
        after_photo_ids=tuple(body.after_photo_ids),
        hotline_ticket=body.hotline_ticket,
    )
    # The one use case of every face, in the thread pool: each report is its own short
    # unit of work, so one bad report never takes another with it.
    case_id, content, created = await run_in_threadpool(
        _report_in_session, state, subject, data, idempotency_key
    )
    headers = {"Location": f"/api/v1/cases/{case_id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    # Serialized here, by the model itself: FastAPI would validate the returned model
    # again and encode it twice over.
    return Response(
        content.model_dump_json(), status_code=201, headers=headers, media_type="application/json"
    )


def _present_new(written: WrittenReport, clock: Clock) -> CaseRead:
    """A case just written (without photos), as its reporter sees it: built from the
    rows written, nothing is read back."""
    prepared = written.prepared
    case, event = new_case_objects(written)
    actor = prepared.actor
    policy = prepared.policy
    return case_read(
        case,
        deadline_view(case, policy, clock.now()),
        viewer=actor,
        tz=policy.tz,
        usernames={actor.user_id: actor.username} if actor.user_id is not None else {},
        events=[event],
        with_photos=True,
        place=prepared.location,
    )


def _report_in_session(
    state: Any, subject: TokenSubject, data: NewCase, idempotency_key: str | None
) -> tuple[int, CaseRead, bool]:
    """:func:`~duban.cases.intake.report` in a session of its own: the case's id, the
    case as its reporter sees it, and whether it is new (False: the first case of a
    retried Idempotency-Key)."""
    clock: Clock = state.clock
    with state.session_factory() as session:
        session.info[REQUEST_MEMO] = {}
        actor = signed_in_actor(session, subject)
        done = report(session, actor=actor, clock=clock, data=data, idempotency_key=idempotency_key)
        written = done.written
        if written is not None and not written.prepared.photo_ids:
            return done.case_id, _present_new(written, clock), True
        content = _present(session, done.case, actor, clock, full=True, new=done.created)
        return done.case_id, content, done.created


@router.get("/cases", response_model=CasePage, summary="List cases")
def cases(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    settings: SettingsDep,
    status: Annotated[
        str | None, Query(description="one or more statuses, comma-separated")
    ] = None,
    unit: Annotated[str | None, Query(description="lead unit code")] = None,
    category: Annotated[
        str | None, Query(description="category code; a major class includes its subclasses")
    ] = None,
    source: Annotated[str | None, Query(description="one or more sources, comma-separated")] = None,
    overdue: bool | None = None,
    supervised: bool | None = None,
    grid: Annotated[str | None, Query(description="grid code or a prefix of it")] = None,
    created_from: Annotated[str | None, Query(description="date or datetime (inclusive)")] = None,
    created_to: Annotated[
        str | None, Query(description="date (inclusive) or datetime (exclusive)")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="search: an exact 案卷号 first, then words in the description or "
            "address (Chinese substrings too), best match first",
        ),
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            description="reported | due | status | category | unit; a leading '-' "
            "reverses; ties go by case id"
        ),
    ] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[
        str | None,
        Query(max_length=500, description="the next page: the `after` of the page before"),
    ] = None,
    before: Annotated[
        str | None,
        Query(max_length=500, description="the page before: the `before` of the page after"),
    ] = None,
) -> CasePage:
    """Cases visible to the caller, newest first (or by ``sort``), with filters and pages."""
    if sort and sort.lstrip("-") not in SORTS:
        raise InvalidInput(
            Msg(
                "sort '{sort}' is not one of {choices} (a leading '-' reverses)",
                sort=sort,
                choices=", ".join(SORTS),
            ),
            field="sort",
        )
    policy = load_policy(session)
    filters = CaseFilter(
        statuses=parse_choices(status, CaseStatus, "status"),
        unit_code=unit or None,
        categories=(category,) if category else (),
        sources=parse_choices(source, Source, "source"),
        overdue=overdue,
        supervised=supervised,
        grid=grid or None,
        created_from=parse_bound(created_from, "created_from", policy.tz, end=False),
        created_to=parse_bound(created_to, "created_to", policy.tz, end=True),
        text=(q or "").strip() or None,
    )
    now = clock.now()
    page_size = min(page_size, settings.page_size_max)
    listing = list_cases(
        session,
        actor=actor,
        filters=filters,
        now=now,
        page=page,
        page_size=page_size,
        sort=sort or None,
        after=after or None,
        before=before or None,
    )
    rows, total = listing.rows, listing.total
    names = _usernames(session, {c.assignee_id for c in rows if c.assignee_id})
    places = case_locations(session, rows)
    verdicts = verdicts_of(session, [c.id for c in rows]) if actor.role != Role.CITIZEN else {}
    reasons = (
        routing_reasons(session, [c for c in rows if c.routed_at], request_lang(request))
        if sees_routing(actor)
        else {}
    )
    items = [
        case_read(
            c,
            deadline_view(c, policy, now),
            viewer=actor,
            tz=policy.tz,
            usernames=names,
            place=place,
            photo_verdict=verdicts.get(c.id),
            policy=policy,
            routing_reason=reasons.get(c.id),
        )
        for c, place in zip(rows, places, strict=True)
    ]
    return CasePage(
        items=items,
        total=total,
        total_exact=listing.total_exact,
        page=page,
        page_size=page_size,
        pages=max(1, math.ceil(total / page_size)),
        after=listing.after,
        before=listing.before,
    )


@router.get("/cases/{case_id}", response_model=CaseRead, summary="One case with its timeline")
def case_detail(
    case_id: int, request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> CaseRead:
    """Everything about a case the caller may see, including the event timeline (routing's
    reason in the language ``Accept-Language`` asks for first: zh or en)."""
    case = get_case(session, actor=actor, case_id=case_id)
    return _present(session, case, actor, clock, full=True, lang=request_lang(request))


@router.post(
    "/cases/{case_id}/actions/{action}", response_model=CaseRead, summary="Take an action on a case"
)
def act(
    case_id: int,
    action: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    body: Annotated[ActionRequest | None, Body()] = None,
) -> CaseRead:
    """Take ``action`` (assign, verify, reject, file, void, dispatch, accept, return,
    request_extension, approve_extension, deny_extension, request_park, approve_park,
    deny_park, resume, feedback, check, close, reopen, merge, supervise, transfer,
    callback, dispatch_to_platform, platform_return).

    Refused with 409 when the case's status or the caller's role does not allow it (the
    message names both), 403 when it is not the caller's case or task, 422 for missing
    or malformed arguments, and 409 ``stale_case`` when someone else changed the case
    at the same time.
    """
    try:
        chosen = Action(action)
    except ValueError as err:
        names = ", ".join(a.value for a in Action if a != Action.REPORT)
        raise NotFound(
            Msg("unknown action '{action}'; one of: {names}", action=action, names=names)
        ) from err
    body = body or ActionRequest()
    case = perform_action(
        session,
        case_id=case_id,
        action=chosen,
        actor=actor,
        clock=clock,
        expected_version=body.expected_version,
        params=ActionInput(
            note=body.note,
            reason=body.reason,
            unit=body.unit,
            helper_units=tuple(body.helper_units),
            passed=body.passed,
            rework_reason=body.rework_reason,
            until=body.until,
            amount=body.amount,
            photo_ids=tuple(body.photo_ids),
            collector=body.collector,
            duplicate_of=body.duplicate_of,
            category_code=body.category_code,
            condition_code=body.condition_code,
            lat=body.lat,
            lon=body.lon,
            crs=body.crs,
            address=body.address,
            rating=body.rating,
            platform=body.platform,
        ),
    )
    return _present(session, case, actor, clock, full=True, lang=request_lang(request))
