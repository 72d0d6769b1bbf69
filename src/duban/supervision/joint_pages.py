"""Pages of joint sessions (会商) and revisits (回头看): the session list with the form
that records one, a session with its minutes and decisions (a unit answers its own, a
supervisor reviews), the minutes as DOCX, and the revisit task list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path
from fastapi.responses import Response
from sqlalchemy import select

from duban.accounts import Unit, User
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.reference import load_policy
from duban.supervision import reply_pages
from duban.supervision.documents import DOCX_TYPE
from duban.supervision.followup import (
    REASON_LABELS,
    REVISIT_LABELS,
    RevisitReason,
    RevisitState,
)
from duban.supervision.joint import (
    DecisionInput,
    SessionInput,
    add_decision,
    answer_decision,
    create_session,
    get_session,
    list_sessions,
    review_decision,
    update_minutes,
    visible_decisions,
)
from duban.supervision.minutes import minutes_docx
from duban.supervision.pages import _label
from duban.supervision.reply_pages import field
from duban.supervision.revisits import list_revisits, record_revisit
from duban.supervision.rules import PROBLEM_LABELS, ProblemStatus, can_answer, can_review
from duban.web.context import Ctx, Form, pages

router = APIRouter(include_in_schema=False)

JOINT_ROLES = (Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.HANDLER)
REVISIT_ROLES = (Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.COLLECTOR, Role.HANDLER)
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _ids(raw: str, name: str) -> list[int]:
    parts = [p for p in raw.replace("，", ",").replace(" ", ",").split(",") if p.strip()]
    if not all(p.strip().isdigit() and int(p) <= 2**31 - 1 for p in parts):
        raise InvalidInput("give ids as whole numbers separated by commas", field=name)
    return [int(p) for p in parts]


def _when(raw: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("give the date and time of the session", field="held_at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _decision(form: Form) -> DecisionInput:
    days = field(form, "due_work_days").strip()
    day = field(form, "due_on").strip()
    try:
        due_on = date.fromisoformat(day) if day else None
    except ValueError:
        raise InvalidInput("the deadline must be a day from today on", field="due_on") from None
    if days and not days.isdigit():
        raise InvalidInput("the deadline must be 1 to 365 working days", field="due_work_days")
    case = field(form, "case_id").strip()
    return DecisionInput(
        text=field(form, "text"),
        unit=field(form, "unit"),
        due_work_days=int(days) if days else None,
        due_on=due_on,
        case_id=_ids(case, "case_id")[0] if case else None,
    )


@router.get("/joint")
@pages
def sessions_page(ctx: Ctx) -> Response:
    """The joint sessions the viewer may see; supervisors record new ones here."""
    actor = ctx.staff(*JOINT_ROLES)
    rows = [
        {"session": m, "decisions": visible_decisions(m, actor)}
        for m in list_sessions(ctx.db, actor=actor)
    ]
    units = (
        list(ctx.db.scalars(select(Unit).where(Unit.is_active).order_by(Unit.code)))
        if actor.role == Role.SUPERVISOR
        else []
    )
    return ctx.render("supervision/joint_list.html", rows=rows, units=units)


@router.post("/joint")
@pages
def create_form(ctx: Ctx, form: Form) -> Response:
    """A supervisor records a joint session."""
    actor = ctx.staff(Role.SUPERVISOR)
    meeting = create_session(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        data=SessionInput(
            title=field(form, "title"),
            held_at=_when(field(form, "held_at"), load_policy(ctx.db).tz),
            place=field(form, "place"),
            units=[u for u in form.getlist("units") if isinstance(u, str)],
            case_ids=_ids(field(form, "case_ids"), "case_ids"),
            ledger_item_ids=_ids(field(form, "ledger_item_ids"), "ledger_item_ids"),
            minutes=field(form, "minutes"),
        ),
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/joint/{meeting.id}")


@router.get("/joint/{session_id}")
@pages
def session_page(ctx: Ctx, session_id: SessionId) -> Response:
    """One session: units, cases and items, minutes and the decisions the viewer may see."""
    actor = ctx.staff(*JOINT_ROLES)
    meeting = get_session(ctx.db, actor=actor, session_id=session_id)
    now = ctx.clock.now()
    decisions = [
        (
            d,
            _label(ctx, PROBLEM_LABELS[ProblemStatus(d.status)]),
            d.status != ProblemStatus.ACCEPTED and d.due_at <= now,
        )
        for d in visible_decisions(meeting, actor)
    ]
    answerable = {
        d.id for d, _, _ in decisions if actor.role == Role.HANDLER and can_answer(d.status)
    }
    reviewable = {
        d.id for d, _, _ in decisions if actor.role == Role.SUPERVISOR and can_review(d.status)
    }
    return ctx.render(
        "supervision/joint.html",
        meeting=meeting,
        decisions=decisions,
        answerable=answerable,
        reviewable=reviewable,
        editable=actor.role == Role.SUPERVISOR,
    )


@router.post("/joint/{session_id}/minutes")
@pages
def minutes_form(ctx: Ctx, session_id: SessionId, form: Form) -> Response:
    """A supervisor replaces the minutes."""
    actor = ctx.staff(Role.SUPERVISOR)
    update_minutes(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        session_id=session_id,
        minutes=field(form, "minutes"),
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/joint/{session_id}")


@router.post("/joint/{session_id}/decisions")
@pages
def decision_form(ctx: Ctx, session_id: SessionId, form: Form) -> Response:
    """A supervisor adds a decision."""
    actor = ctx.staff(Role.SUPERVISOR)
    add_decision(ctx.db, actor=actor, clock=ctx.clock, session_id=session_id, data=_decision(form))
    ctx.notice("Saved.")
    return ctx.redirect(f"/joint/{session_id}")


@router.post("/joint/{session_id}/decisions/{decision_id}/reply")
@pages
def reply_form(ctx: Ctx, session_id: SessionId, decision_id: ItemId, form: Form) -> Response:
    """A unit answers its decision, with photos."""
    return reply_pages.reply_form(
        ctx,
        form,
        lambda reply: answer_decision(
            ctx.db,
            actor=ctx.staff(),
            clock=ctx.clock,
            session_id=session_id,
            decision_id=decision_id,
            reply=reply,
        ),
        f"/joint/{session_id}",
    )


@router.post("/joint/{session_id}/decisions/{decision_id}/review")
@pages
def review_form(ctx: Ctx, session_id: SessionId, decision_id: ItemId, form: Form) -> Response:
    """A supervisor accepts a decision's answer or sends it back with a reason."""
    return reply_pages.review_form(
        ctx,
        form,
        lambda accept, reason: review_decision(
            ctx.db,
            actor=ctx.staff(),
            clock=ctx.clock,
            session_id=session_id,
            decision_id=decision_id,
            accept=accept,
            reason=reason,
        ),
        f"/joint/{session_id}",
    )


@router.get("/joint/{session_id}/minutes.docx")
@pages
def minutes_page(ctx: Ctx, session_id: SessionId) -> Response:
    """The minutes (会议纪要) as DOCX."""
    actor = ctx.staff(*JOINT_ROLES)
    meeting = get_session(ctx.db, actor=actor, session_id=session_id)
    return Response(
        content=minutes_docx(ctx.db, meeting, actor),
        media_type=DOCX_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="minutes-{meeting.id}.docx"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/revisits")
@pages
def revisits_page(ctx: Ctx) -> Response:
    """The revisit (回头看) tasks the viewer may see, due first; a collector or supervisor
    records the result here."""
    actor = ctx.staff(*REVISIT_ROLES)
    found = list_revisits(ctx.db, actor=actor)
    names = {
        u.id: u.username
        for u in ctx.db.scalars(
            select(User).where(User.id.in_({r.assignee_id for r in found if r.assignee_id}))
        )
    }
    rows = [
        {
            "revisit": r,
            "state": _label(ctx, REVISIT_LABELS[RevisitState(r.state)]),
            "assignee": names.get(r.assignee_id or 0, ""),
            "recordable": r.state == RevisitState.DUE
            and (
                actor.role == Role.SUPERVISOR
                or (actor.role == Role.COLLECTOR and r.assignee_id == actor.user_id)
            ),
            "reason": _reason(ctx, r.reason_code),
        }
        for r in found
    ]
    reasons = [(code.value, _label(ctx, label)) for code, label in REASON_LABELS.items()]
    return ctx.render("supervision/revisits.html", rows=rows, reasons=reasons)


def _reason(ctx: Ctx, code: str | None) -> str:
    try:
        return _label(ctx, REASON_LABELS[RevisitReason(code or "")])
    except ValueError:
        return ""


@router.post("/revisits/{revisit_id}/result")
@pages
def revisit_form(ctx: Ctx, revisit_id: ItemId, form: Form) -> Response:
    """A collector or supervisor records a revisit: passed, or failed with a reason code."""
    actor = ctx.staff(Role.COLLECTOR, Role.SUPERVISOR)
    passed = field(form, "passed") == "1"
    record_revisit(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        revisit_id=revisit_id,
        passed=passed,
        reason_code=None if passed else field(form, "reason_code") or None,
        reason=field(form, "reason"),
    )
    ctx.notice("Saved.")
    return ctx.redirect("/revisits")
