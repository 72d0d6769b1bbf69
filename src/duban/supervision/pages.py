"""The supervisors' pages: the list of orders and one order with its documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from duban.kernel.roles import Role
from duban.supervision import reply_pages
from duban.supervision.documents import document_file
from duban.supervision.orders import (
    answer_problem,
    get_order,
    list_orders,
    review_problem,
    visible_problems,
)
from duban.supervision.rules import (
    ORDER_LABELS,
    PROBLEM_LABELS,
    OrderStatus,
    ProblemStatus,
    can_answer,
    can_review,
)
from duban.web.context import Ctx, Form, pages

router = APIRouter(include_in_schema=False)

ORDER_ROLES = (Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.HANDLER)
OrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ProblemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _label(ctx: Ctx, pair: tuple[str, str]) -> str:
    return pair[0] if ctx.lang == "zh" else pair[1]


@router.get("/supervision")
@pages
def orders_page(ctx: Ctx) -> Response:
    """Every order the viewer may see, newest first."""
    actor = ctx.staff(*ORDER_ROLES)
    orders, total = list_orders(ctx.db, actor=actor, page_size=200)
    rows = [
        {
            "order": o,
            "status": _label(ctx, ORDER_LABELS[OrderStatus(o.status)]),
            "problems": len(visible_problems(o, actor)),
        }
        for o in orders
    ]
    return ctx.render("supervision/list.html", rows=rows, total=total)


@router.get("/supervision/{order_id}")
@pages
def order_page(ctx: Ctx, order_id: OrderId) -> Response:
    """One order: its problems as the viewer may see them, and its documents."""
    actor = ctx.staff(*ORDER_ROLES)
    order = get_order(ctx.db, actor=actor, order_id=order_id)
    problems = [
        (p, _label(ctx, PROBLEM_LABELS[ProblemStatus(p.status)]))
        for p in visible_problems(order, actor)
    ]
    english = ctx.lang == "en"
    units = sorted(
        {
            p.unit.code: (p.unit.name_en or p.unit.name) if english else p.unit.name
            for p, _ in problems
        }.items()
    )
    answerable = {p.id for p, _ in problems if actor.role == Role.HANDLER and can_answer(p.status)}
    reviewable = {
        p.id for p, _ in problems if actor.role == Role.SUPERVISOR and can_review(p.status)
    }
    return ctx.render(
        "supervision/order.html",
        order=order,
        status=_label(ctx, ORDER_LABELS[OrderStatus(order.status)]),
        problems=problems,
        units=units,
        answerable=answerable,
        reviewable=reviewable,
    )


@router.post("/supervision/{order_id}/problems/{problem_id}/reply")
@pages
def reply_form(ctx: Ctx, order_id: OrderId, problem_id: ProblemId, form: Form) -> Response:
    """A unit answers one of its problems from the order page, with photos."""
    return reply_pages.reply_form(
        ctx,
        form,
        lambda reply: answer_problem(
            ctx.db,
            actor=ctx.staff(),
            clock=ctx.clock,
            order_id=order_id,
            problem_id=problem_id,
            reply=reply,
        ),
        f"/supervision/{order_id}",
    )


@router.post("/supervision/{order_id}/problems/{problem_id}/review")
@pages
def review_form(ctx: Ctx, order_id: OrderId, problem_id: ProblemId, form: Form) -> Response:
    """A supervisor accepts an answer or sends it back with a reason."""
    return reply_pages.review_form(
        ctx,
        form,
        lambda accept, reason: review_problem(
            ctx.db,
            actor=ctx.staff(),
            clock=ctx.clock,
            order_id=order_id,
            problem_id=problem_id,
            accept=accept,
            reason=reason,
        ),
        f"/supervision/{order_id}",
    )


@router.get("/supervision/{order_id}/document.{fmt}")
@pages
def order_document_page(ctx: Ctx, order_id: OrderId, fmt: str) -> Response:
    """The order as DOCX or PDF, for a signed-in viewer."""
    return _file(ctx, order_id, fmt, None)


@router.get("/supervision/{order_id}/notices/{unit}.{fmt}")
@pages
def notice_page(ctx: Ctx, order_id: OrderId, unit: str, fmt: str) -> Response:
    """A unit's 限期整改通知书 as DOCX or PDF."""
    return _file(ctx, order_id, fmt, unit)


def _file(ctx: Ctx, order_id: int, fmt: str, unit: str | None) -> Response:
    actor = ctx.staff(*ORDER_ROLES)
    file = document_file(
        ctx.db,
        actor=actor,
        order_id=order_id,
        fmt=fmt,
        store=ctx.request.app.state.photo_store,
        font=ctx.settings.cjk_font,
        unit_code=unit,
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
