"""Joint sessions (会商) and revisits (回头看) over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from duban.accounts import User
from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.kernel.context import Actor
from duban.reference import load_policy
from duban.supervision.documents import DOCX_TYPE
from duban.supervision.followup import REVISIT_LABELS, RevisitState
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
from duban.supervision.models import JointDecision, JointSession, Revisit
from duban.supervision.records import REVISIT, SESSION, records_of
from duban.supervision.replies import ReplyInput
from duban.supervision.revisits import assign_revisit, get_revisit, list_revisits, record_revisit
from duban.supervision.rules import PROBLEM_LABELS, ProblemStatus
from duban.supervision.schemas import (
    DecisionCreate,
    DecisionRead,
    JointSessionCreate,
    JointSessionRead,
    JointSessionSummary,
    MinutesUpdate,
    RecordRead,
    ReplyCreate,
    RevisitAssign,
    RevisitRead,
    RevisitResult,
    SendBack,
    UnitRef,
)

router = APIRouter(tags=["supervision"])
BASE = "/api/v1/joint-sessions"

SessionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RevisitId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _tz(session: Session) -> ZoneInfo:
    return load_policy(session).tz


def _records(session: Session, kind: str, subject_id: int, tz: ZoneInfo) -> list[RecordRead]:
    return [
        RecordRead(
            seq=r.seq,
            action=r.action,
            item_id=r.item_id,
            actor_role=r.actor_role,
            occurred_at=r.occurred_at.astimezone(tz),
            note=r.note,
        )
        for r in records_of(session, kind, subject_id)
    ]


def decision_read(d: JointDecision, tz: ZoneInfo, now: datetime) -> DecisionRead:
    """A decision as the API shows it."""
    status = ProblemStatus(d.status)
    return DecisionRead(
        id=d.id,
        position=d.position,
        text=d.text,
        unit=UnitRef(code=d.unit.code, name=d.unit.name),
        case_id=d.case_id,
        ledger_item_id=d.ledger_item_id,
        due_work_days=d.due_work_days,
        due_at=d.due_at.astimezone(tz),
        is_overdue=status is not ProblemStatus.ACCEPTED and d.due_at <= now,
        status=status.value,
        status_label=PROBLEM_LABELS[status][0],
        measures=d.measures,
        reply_photo_ids=list(d.reply_photo_ids or []),
        done=d.done,
        answered_at=d.answered_at.astimezone(tz) if d.answered_at else None,
        send_back_reason=d.send_back_reason,
        send_back_count=d.send_back_count,
    )


def session_read(
    session: Session, meeting: JointSession, actor: Actor, now: datetime
) -> JointSessionRead:
    """A session as its reader may see it (a unit: only its own decisions and records)."""
    tz = _tz(session)
    decisions = visible_decisions(meeting, actor)
    shown = {d.id for d in decisions}
    return JointSessionRead(
        id=meeting.id,
        title=meeting.title,
        held_at=meeting.held_at.astimezone(tz),
        place=meeting.place,
        units=[UnitRef(code=u.unit.code, name=u.unit.name) for u in meeting.units],
        case_ids=[s.case_id for s in meeting.subjects if s.case_id is not None],
        ledger_item_ids=[s.ledger_item_id for s in meeting.subjects if s.ledger_item_id],
        minutes=meeting.minutes,
        decisions=[decision_read(d, tz, now) for d in decisions],
        events=[
            r
            for r in _records(session, SESSION, meeting.id, tz)
            if r.item_id is None or r.item_id in shown
        ],
        minutes_docx_url=f"{BASE}/{meeting.id}/minutes.docx",
    )


def _decision_input(d: DecisionCreate) -> DecisionInput:
    return DecisionInput(
        text=d.text,
        unit=d.unit,
        due_work_days=d.due_work_days,
        due_on=d.due_on,
        case_id=d.case_id,
        ledger_item_id=d.ledger_item_id,
    )


@router.post(
    "/joint-sessions",
    status_code=201,
    response_model=JointSessionRead,
    summary="Record a joint session (会商 / 联席会议) and its decisions",
)
def create(
    body: JointSessionCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> JointSessionRead:
    """Supervisors only. The units taking part, the cases and ledger items it handles, the
    minutes, and the decisions: each a task for one of the units taking part, due in
    ``due_work_days`` working days or on ``due_on``."""
    held_at = body.held_at
    if held_at.tzinfo is None:
        held_at = held_at.replace(tzinfo=_tz(session))
    meeting = create_session(
        session,
        actor=actor,
        clock=clock,
        data=SessionInput(
            title=body.title,
            held_at=held_at,
            place=body.place,
            units=body.units,
            case_ids=body.case_ids,
            ledger_item_ids=body.ledger_item_ids,
            minutes=body.minutes,
            decisions=[_decision_input(d) for d in body.decisions],
        ),
    )
    return session_read(session, meeting, actor, clock.now())


@router.get(
    "/joint-sessions", response_model=list[JointSessionSummary], summary="List joint sessions"
)
def listing(session: SessionDep, actor: ActorDep) -> list[JointSessionSummary]:
    """Newest first (at most 200). Supervisors and leaders see all; a unit those it took
    part in, counting only its own decisions."""
    tz = _tz(session)
    out = []
    for m in list_sessions(session, actor=actor):
        mine = visible_decisions(m, actor)
        out.append(
            JointSessionSummary(
                id=m.id,
                title=m.title,
                held_at=m.held_at.astimezone(tz),
                units=[UnitRef(code=u.unit.code, name=u.unit.name) for u in m.units],
                decisions=len(mine),
                accepted=sum(d.status == ProblemStatus.ACCEPTED for d in mine),
            )
        )
    return out


@router.get(
    "/joint-sessions/{session_id}", response_model=JointSessionRead, summary="A joint session"
)
def read(
    session_id: SessionId, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> JointSessionRead:
    """The session with the decisions the caller may see, and its record."""
    meeting = get_session(session, actor=actor, session_id=session_id)
    return session_read(session, meeting, actor, clock.now())


@router.put(
    "/joint-sessions/{session_id}/minutes",
    response_model=JointSessionRead,
    summary="Replace the minutes (会议纪要)",
)
def put_minutes(
    session_id: SessionId,
    body: MinutesUpdate,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> JointSessionRead:
    """Supervisors only; the record keeps every version."""
    meeting = update_minutes(
        session, actor=actor, clock=clock, session_id=session_id, minutes=body.minutes
    )
    return session_read(session, meeting, actor, clock.now())


@router.post(
    "/joint-sessions/{session_id}/decisions",
    status_code=201,
    response_model=JointSessionRead,
    summary="Add a decision to a joint session",
)
def decide(
    session_id: SessionId,
    body: DecisionCreate,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> JointSessionRead:
    """Supervisors only; the unit must take part in the session."""
    add_decision(
        session, actor=actor, clock=clock, session_id=session_id, data=_decision_input(body)
    )
    meeting = get_session(session, actor=actor, session_id=session_id)
    return session_read(session, meeting, actor, clock.now())


@router.post(
    "/joint-sessions/{session_id}/decisions/{decision_id}/reply",
    response_model=DecisionRead,
    summary="A unit answers its decision",
)
def reply(
    session_id: SessionId,
    decision_id: DecisionId,
    body: ReplyCreate,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> DecisionRead:
    """As ``POST /supervision-orders/{id}/problems/{id}/reply``: measures, photos, done."""
    decision = answer_decision(
        session,
        actor=actor,
        clock=clock,
        session_id=session_id,
        decision_id=decision_id,
        reply=ReplyInput(measures=body.measures, done=body.done, photo_ids=body.photo_ids),
    )
    return decision_read(decision, _tz(session), clock.now())


@router.post(
    "/joint-sessions/{session_id}/decisions/{decision_id}/accept",
    response_model=DecisionRead,
    summary="A supervisor accepts a decision's answer",
)
def accept(
    session_id: SessionId,
    decision_id: DecisionId,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> DecisionRead:
    """The decision is done."""
    decision = review_decision(
        session,
        actor=actor,
        clock=clock,
        session_id=session_id,
        decision_id=decision_id,
        accept=True,
    )
    return decision_read(decision, _tz(session), clock.now())


@router.post(
    "/joint-sessions/{session_id}/decisions/{decision_id}/send-back",
    response_model=DecisionRead,
    summary="A supervisor sends a decision's answer back with a reason",
)
def send_back(
    session_id: SessionId,
    decision_id: DecisionId,
    body: SendBack,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> DecisionRead:
    """The unit answers again."""
    decision = review_decision(
        session,
        actor=actor,
        clock=clock,
        session_id=session_id,
        decision_id=decision_id,
        accept=False,
        reason=body.reason,
    )
    return decision_read(decision, _tz(session), clock.now())


@router.get(
    "/joint-sessions/{session_id}/minutes.docx",
    summary="The minutes (会议纪要) as DOCX",
    response_class=Response,
    responses={200: {"content": {DOCX_TYPE: {}}, "description": "The minutes"}},
)
def minutes_document(
    session_id: SessionId, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """Title, date, units taking part, the minutes and the table of decisions."""
    meeting = get_session(session, actor=actor, session_id=session_id)
    data = minutes_docx(session, meeting, actor)
    return Response(
        content=data,
        media_type=DOCX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="minutes-{meeting.id}.docx"'},
    )


# --------------------------------------------------------------------------- revisits


def revisit_read(session: Session, r: Revisit) -> RevisitRead:
    """A revisit as the API shows it."""
    tz = _tz(session)
    state = RevisitState(r.state)
    assignee = session.get(User, r.assignee_id) if r.assignee_id else None
    return RevisitRead(
        id=r.id,
        subject_kind=r.subject_kind,
        case_id=r.case_id,
        ledger_item_id=r.ledger_item_id,
        unit=UnitRef(code=r.unit.code, name=r.unit.name) if r.unit else None,
        category_code=r.category_code,
        description=r.description,
        signed_off_at=r.signed_off_at.astimezone(tz),
        due_on=r.due_on,
        state=state.value,
        state_label=REVISIT_LABELS[state][0],
        assignee=assignee.username if assignee else None,
        result_at=r.result_at.astimezone(tz) if r.result_at else None,
        reason_code=r.reason_code,
        reason=r.reason,
        photo_ids=list(r.photo_ids or []),
        events=_records(session, REVISIT, r.id, tz),
    )


@router.get("/revisits", response_model=list[RevisitRead], summary="Revisit (回头看) tasks")
def revisits(
    session: SessionDep,
    actor: ActorDep,
    state: Annotated[RevisitState | None, Query(description="due | passed | failed")] = None,
) -> list[RevisitRead]:
    """Due first (at most 200). Supervisors and leaders see all; a collector those
    assigned to them; a unit those of its own cases and items."""
    return [revisit_read(session, r) for r in list_revisits(session, actor=actor, state=state)]


@router.get("/revisits/{revisit_id}", response_model=RevisitRead, summary="A revisit")
def revisit(revisit_id: RevisitId, session: SessionDep, actor: ActorDep) -> RevisitRead:
    """The revisit and its record."""
    return revisit_read(session, get_revisit(session, actor=actor, revisit_id=revisit_id))


@router.post(
    "/revisits/{revisit_id}/result",
    response_model=RevisitRead,
    summary="Record a revisit: passed, or failed (回潮)",
)
def result(
    revisit_id: RevisitId,
    body: RevisitResult,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> RevisitRead:
    """The collector it is assigned to, or a supervisor. Failed (with a ``reason_code``):
    the case is reopened (its ``reopen`` event carries ``"recurrence": true``) or the
    ledger item goes back to 推进中."""
    done = record_revisit(
        session,
        actor=actor,
        clock=clock,
        revisit_id=revisit_id,
        passed=body.passed,
        reason_code=body.reason_code,
        reason=body.reason,
        photo_ids=body.photo_ids,
    )
    return revisit_read(session, done)


@router.post(
    "/revisits/{revisit_id}/assign", response_model=RevisitRead, summary="Assign a revisit"
)
def assign(
    revisit_id: RevisitId,
    body: RevisitAssign,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
) -> RevisitRead:
    """Supervisors only: to a collector or a supervisor."""
    done = assign_revisit(
        session, actor=actor, clock=clock, revisit_id=revisit_id, username=body.collector
    )
    return revisit_read(session, done)
