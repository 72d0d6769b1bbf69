"""Supervision orders over HTTP: compile, list, read, answer, review, documents."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.cases import Case
from duban.kernel.context import Actor
from duban.reference import load_policy
from duban.supervision.documents import DOCX_TYPE, document_file
from duban.supervision.models import (
    OrderProblem,
    SupervisionEvent,
    SupervisionOrder,
    SupervisionRule,
)
from duban.supervision.orders import (
    OrderInput,
    answer_problem,
    create_order,
    get_order,
    list_orders,
    require_reader,
    review_problem,
    save_rule,
    visible_problems,
)
from duban.supervision.replies import ReplyInput
from duban.supervision.rules import (
    ORDER_LABELS,
    PROBLEM_LABELS,
    OrderStatus,
    ProblemStatus,
    SelectionRule,
)
from duban.supervision.schemas import (
    EventRead,
    OrderCreate,
    OrderPage,
    OrderRead,
    OrderSummary,
    ProblemRead,
    ReplyCreate,
    RuleCreate,
    RuleRead,
    SendBack,
    UnitRef,
)

router = APIRouter(tags=["supervision"])
BASE = "/api/v1/supervision-orders"

OrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ProblemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _tz(session: Session) -> ZoneInfo:
    return load_policy(session).tz


def _problem(p: OrderProblem, tz: ZoneInfo, codes: dict[int, str] | None = None) -> ProblemRead:
    status = ProblemStatus(p.status)
    return ProblemRead(
        id=p.id,
        position=p.position,
        subject_kind=p.subject_kind,
        case_id=p.case_id,
        case_code=(codes or {}).get(p.case_id) if p.case_id else None,
        ledger_item_id=p.ledger_item_id,
        unit=UnitRef(code=p.unit.code, name=p.unit.name),
        description=p.description,
        place=p.place,
        photo_url=f"/api/v1/photos/{p.photo_id}" if p.photo_id else None,
        status=status.value,
        status_label=PROBLEM_LABELS[status][0],
        measures=p.measures,
        reply_photo_ids=list(p.reply_photo_ids or []),
        done=p.done,
        answered_at=p.answered_at.astimezone(tz) if p.answered_at else None,
        send_back_reason=p.send_back_reason,
        send_back_count=p.send_back_count,
    )


def order_read(session: Session, order: SupervisionOrder, actor: Actor) -> OrderRead:
    """An order as its reader may see it (a unit: only its own problems and their events)."""
    tz = _tz(session)
    problems = visible_problems(order, actor)
    shown = {p.id for p in problems}
    case_ids = [p.case_id for p in problems if p.case_id]
    codes: dict[int, str] = (
        {i: c for i, c in session.execute(select(Case.id, Case.code).where(Case.id.in_(case_ids)))}
        if case_ids
        else {}
    )
    events = session.scalars(
        select(SupervisionEvent)
        .where(SupervisionEvent.order_id == order.id)
        .order_by(SupervisionEvent.seq)
    ).all()
    status = OrderStatus(order.status)
    return OrderRead(
        id=order.id,
        number=order.number,
        title=order.title,
        body=order.body,
        status=status.value,
        status_label=ORDER_LABELS[status][0],
        units=[UnitRef(code=a.unit.code, name=a.unit.name) for a in order.addressees],
        reply_work_days=order.reply_work_days,
        issued_at=order.issued_at.astimezone(tz),
        due_at=order.due_at.astimezone(tz),
        closed_at=order.closed_at.astimezone(tz) if order.closed_at else None,
        escalated=order.escalated,
        problems=[_problem(p, tz, codes) for p in problems],
        events=[
            EventRead(
                seq=e.seq,
                action=e.action,
                problem_id=e.problem_id,
                actor_role=e.actor_role,
                occurred_at=e.occurred_at.astimezone(tz),
                note=e.note,
            )
            for e in events
            if e.problem_id is None or e.problem_id in shown
        ],
        docx_url=f"{BASE}/{order.id}/document.docx",
        pdf_url=f"{BASE}/{order.id}/document.pdf",
    )


@router.post(
    "/supervision-orders",
    status_code=201,
    response_model=OrderRead,
    summary="Compile and issue a supervision order (督办单)",
)
def create(body: OrderCreate, session: SessionDep, actor: ActorDep, clock: ClockDep) -> OrderRead:
    """Supervisors only. Pick the cases by hand (``case_ids``), by a ``rule`` or by a saved
    ``rule_id``; the order is numbered per series and year without gaps
    (``督查通知单〔2026〕第12期``) and is due in ``reply_work_days`` working days."""
    rule = SelectionRule.parse(body.rule.kind, body.rule.params) if body.rule else None
    order = create_order(
        session,
        actor=actor,
        clock=clock,
        data=OrderInput(
            title=body.title,
            case_ids=body.case_ids,
            ledger_item_ids=body.ledger_item_ids,
            rule=rule,
            rule_id=body.rule_id,
            units=body.units,
            series=body.series,
            reply_work_days=body.reply_work_days,
            body=body.body,
        ),
    )
    return order_read(session, order, actor)


@router.get("/supervision-orders", response_model=OrderPage, summary="List supervision orders")
def listing(
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[
        OrderStatus | None, Query(description="issued | in_progress | closed")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OrderPage:
    """Newest first. Supervisors and leaders see every order; a unit the orders with a
    problem of its own."""
    orders, total = list_orders(session, actor=actor, status=status, page=page, page_size=page_size)
    tz = _tz(session)
    items = []
    for order in orders:
        mine = visible_problems(order, actor)
        state = OrderStatus(order.status)
        items.append(
            OrderSummary(
                id=order.id,
                number=order.number,
                title=order.title,
                status=state.value,
                status_label=ORDER_LABELS[state][0],
                units=[UnitRef(code=a.unit.code, name=a.unit.name) for a in order.addressees],
                issued_at=order.issued_at.astimezone(tz),
                due_at=order.due_at.astimezone(tz),
                problems=len(mine),
                accepted=sum(p.status == ProblemStatus.ACCEPTED for p in mine),
            )
        )
    return OrderPage(items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/supervision-orders/{order_id}", response_model=OrderRead, summary="A supervision order"
)
def read(order_id: OrderId, session: SessionDep, actor: ActorDep) -> OrderRead:
    """The order with the problems the caller may see, and its record of events."""
    return order_read(session, get_order(session, actor=actor, order_id=order_id), actor)


@router.post(
    "/supervision-orders/{order_id}/problems/{problem_id}/reply",
    response_model=OrderRead,
    summary="A unit answers one problem",
)
def reply(
    order_id: OrderId,
    problem_id: ProblemId,
    body: ReplyCreate,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> OrderRead:
    """The unit the problem is addressed to: measures taken, photos (ids of photos it
    uploaded through ``POST /photos``), done or not. Again after a send-back."""
    order = answer_problem(
        session,
        actor=actor,
        clock=clock,
        order_id=order_id,
        problem_id=problem_id,
        reply=ReplyInput(measures=body.measures, done=body.done, photo_ids=body.photo_ids),
    )
    return order_read(session, order, actor)


@router.post(
    "/supervision-orders/{order_id}/problems/{problem_id}/accept",
    response_model=OrderRead,
    summary="A supervisor accepts an answer",
)
def accept(
    order_id: OrderId, problem_id: ProblemId, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> OrderRead:
    """The order closes when every problem is accepted."""
    order = review_problem(
        session, actor=actor, clock=clock, order_id=order_id, problem_id=problem_id, accept=True
    )
    return order_read(session, order, actor)


@router.post(
    "/supervision-orders/{order_id}/problems/{problem_id}/send-back",
    response_model=OrderRead,
    summary="A supervisor sends an answer back with a reason",
)
def send_back(
    order_id: OrderId,
    problem_id: ProblemId,
    body: SendBack,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> OrderRead:
    """The unit answers again."""
    order = review_problem(
        session,
        actor=actor,
        clock=clock,
        order_id=order_id,
        problem_id=problem_id,
        accept=False,
        reason=body.reason,
    )
    return order_read(session, order, actor)


def _document(
    request: Request,
    session: Session,
    actor: Actor,
    order_id: int,
    fmt: str,
    unit_code: str | None = None,
) -> Response:
    file = document_file(
        session,
        actor=actor,
        order_id=order_id,
        fmt=fmt,
        store=request.app.state.photo_store,
        font=request.app.state.settings.cjk_font,
        unit_code=unit_code,
    )
    return Response(
        content=file.data,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


_DOC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {DOCX_TYPE: {}, "application/pdf": {}},
        "description": "The document (GB/T 9704-2012 layout)",
    }
}


@router.get(
    "/supervision-orders/{order_id}/document.docx",
    summary="The order as DOCX",
    response_class=Response,
    responses=_DOC_RESPONSES,
)
def document_docx(
    order_id: OrderId, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """Red head, number, addressees, the table of problems with photos, signature."""
    return _document(request, session, actor, order_id, "docx")


@router.get(
    "/supervision-orders/{order_id}/document.pdf",
    summary="The order as PDF",
    response_class=Response,
    responses=_DOC_RESPONSES,
)
def document_pdf(
    order_id: OrderId, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """As the DOCX, with a CJK font embedded."""
    return _document(request, session, actor, order_id, "pdf")


UnitCode = Annotated[str, Path(min_length=1, max_length=32)]


@router.get(
    "/supervision-orders/{order_id}/notices/{unit}.docx",
    summary="A unit's 限期整改通知书 as DOCX",
    response_class=Response,
    responses=_DOC_RESPONSES,
)
def notice_docx(
    order_id: OrderId, unit: UnitCode, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """The deadline notice of one addressed unit: its own problems only."""
    return _document(request, session, actor, order_id, "docx", unit)


@router.get(
    "/supervision-orders/{order_id}/notices/{unit}.pdf",
    summary="A unit's 限期整改通知书 as PDF",
    response_class=Response,
    responses=_DOC_RESPONSES,
)
def notice_pdf(
    order_id: OrderId, unit: UnitCode, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """As the DOCX, with a CJK font embedded."""
    return _document(request, session, actor, order_id, "pdf", unit)


@router.post(
    "/supervision-rules",
    status_code=201,
    response_model=RuleRead,
    summary="Save a rule that picks cases for orders",
)
def create_rule(
    body: RuleCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> RuleRead:
    """Supervisors only; kinds and parameters as in ``POST /supervision-orders``."""
    saved = save_rule(
        session,
        actor=actor,
        clock=clock,
        name=body.name,
        rule=SelectionRule.parse(body.kind, body.params),
    )
    return RuleRead(id=saved.id, name=saved.name, kind=saved.kind, params=saved.params)


@router.get(
    "/supervision-rules", response_model=list[RuleRead], summary="The saved selection rules"
)
def rules(session: SessionDep, actor: ActorDep) -> list[RuleRead]:
    """Everyone who works with orders may read the saved rules."""
    require_reader(actor)
    return [
        RuleRead(id=r.id, name=r.name, kind=r.kind, params=r.params)
        for r in session.scalars(select(SupervisionRule).order_by(SupervisionRule.name))
    ]
