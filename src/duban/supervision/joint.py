"""Use cases of joint handling (会商 / 联席会议): convene a session on cases and ledger
items that no single unit can solve, keep its minutes, record its decisions — each a task
for one unit with a deadline, answered and reviewed on the same path as an order's
problem (:mod:`duban.supervision.replies`) — and take the escalation ladder on decisions
past their deadline, once per step, in the deadline sweep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from duban.accounts import Unit
from duban.cases import Case
from duban.kernel.context import SYSTEM_ACTOR, Actor, Clock
from duban.kernel.errors import InvalidInput, NotFound, PermissionDenied
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.ledgers import LedgerNode
from duban.reference import LimitUnit, Policy, TimeLimit, load_policy
from duban.supervision.followup import SUBJECT_CASE, SUBJECT_LEDGER_ITEM
from duban.supervision.models import (
    DecisionEscalation,
    JointDecision,
    JointSession,
    JointSubject,
    JointUnit,
)
from duban.supervision.orders import SEE_ALL, require_reader
from duban.supervision.policy import supervision_policy
from duban.supervision.records import SESSION, append_record
from duban.supervision.replies import (
    ReplyInput,
    apply_answer,
    apply_review,
    clean_reply,
    clean_text,
)
from duban.supervision.rules import (
    PROBLEM_LABELS,
    STEP_LABELS,
    LadderStep,
    ProblemStatus,
    due_steps,
)

NOT_CONVENER = "only a supervisor may convene joint sessions and review their decisions"
NOT_YOUR_DECISION = "only the unit a decision is given to may answer it"
SESSION_NOT_FOUND = "no such joint session"
DECISION_NOT_FOUND = "no such decision in this joint session"
#: At most this many units, subjects and decisions in one session.
MAX_PARTS = 100


@dataclass(frozen=True)
class DecisionInput:
    """A decision (议定事项): what, which unit, by when (working days or a date), and the
    case or ledger item it concerns (default: the session's only subject)."""

    text: str
    unit: str
    due_work_days: int | None = None
    due_on: date | None = None
    case_id: int | None = None
    ledger_item_id: int | None = None


@dataclass(frozen=True)
class SessionInput:
    """What a supervisor gives to record a joint session."""

    title: str
    held_at: datetime
    units: Sequence[str]
    case_ids: Sequence[int] = ()
    ledger_item_ids: Sequence[int] = ()
    place: str = ""
    minutes: str = ""
    decisions: Sequence[DecisionInput] = field(default_factory=tuple)


def _require_convener(actor: Actor) -> None:
    if actor.role != Role.SUPERVISOR:
        raise PermissionDenied(NOT_CONVENER)


def _units(session: Session, codes: Sequence[str]) -> list[Unit]:
    wanted = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    if not wanted:
        raise InvalidInput("name the units taking part", field="units")
    if len(wanted) > MAX_PARTS:
        raise InvalidInput("at most 100 units take part", field="units")
    found = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(wanted)))}
    bad = [c for c in wanted if c not in found or not found[c].is_active]
    if bad:
        raise InvalidInput("no active unit has this code", field="units", units=bad)
    return [found[c] for c in wanted]


def _subjects(session: Session, data: SessionInput) -> list[tuple[str, int]]:
    cases = list(dict.fromkeys(data.case_ids))
    items = list(dict.fromkeys(data.ledger_item_ids))
    if len(cases) + len(items) > MAX_PARTS:
        raise InvalidInput("a session handles at most 100 cases and items", field="case_ids")
    if cases:
        known = set(session.scalars(select(Case.id).where(Case.id.in_(cases))))
        missing = [i for i in cases if i not in known]
        if missing:
            raise InvalidInput("no case has this id", field="case_ids", case_ids=missing)
    if items:
        known = set(
            session.scalars(
                select(LedgerNode.id).where(LedgerNode.id.in_(items), LedgerNode.kind == "item")
            )
        )
        missing = [i for i in items if i not in known]
        if missing:
            raise InvalidInput(
                "no ledger item has this id", field="ledger_item_ids", ledger_item_ids=missing
            )
    return [(SUBJECT_CASE, i) for i in cases] + [(SUBJECT_LEDGER_ITEM, i) for i in items]


def _due_at(policy: Policy, now: datetime, data: DecisionInput) -> datetime:
    if (data.due_work_days is None) == (data.due_on is None):
        raise InvalidInput(
            "give the deadline as working days or as a date, one of them", field="due_work_days"
        )
    if data.due_work_days is not None:
        days = data.due_work_days
        if isinstance(days, bool) or not 1 <= days <= 365:
            raise InvalidInput("the deadline must be 1 to 365 working days", field="due_work_days")
        return policy.calendar.due_at(now, TimeLimit(days, LimitUnit.WORK_DAYS))
    assert data.due_on is not None
    today = now.astimezone(policy.tz).date()
    if not today <= data.due_on <= today + timedelta(days=3650):
        raise InvalidInput("the deadline must be a day from today on", field="due_on")
    # Due at the end of that local day.
    return datetime.combine(data.due_on + timedelta(days=1), time(), tzinfo=policy.tz)


def _new_decision(
    session: Session,
    meeting: JointSession,
    data: DecisionInput,
    *,
    policy: Policy,
    now: datetime,
    position: int,
) -> JointDecision:
    text = clean_text(data.text, "text", 2000)
    unit = next((u.unit for u in meeting.units if u.unit.code == data.unit.strip()), None)
    if unit is None:
        raise InvalidInput("the responsible unit must take part in the session", field="unit")
    case_id, item_id = data.case_id, data.ledger_item_id
    handled = [(s.subject_kind, s.case_id or s.ledger_item_id) for s in meeting.subjects]
    if case_id is None and item_id is None and len(handled) == 1:
        kind, only = handled[0]
        case_id, item_id = (only, None) if kind == SUBJECT_CASE else (None, only)
    if case_id is not None and (SUBJECT_CASE, case_id) not in handled:
        raise InvalidInput("the case is not one the session handles", field="case_id")
    if item_id is not None and (SUBJECT_LEDGER_ITEM, item_id) not in handled:
        raise InvalidInput("the ledger item is not one the session handles", field="ledger_item_id")
    decision = JointDecision(
        position=position,
        text=text,
        unit_id=unit.id,
        unit=unit,
        case_id=case_id,
        ledger_item_id=item_id,
        due_work_days=data.due_work_days,
        due_at=_due_at(policy, now, data),
        status=ProblemStatus.OPEN,
        created_at=now,
        send_back_count=0,
    )
    meeting.decisions.append(decision)
    return decision


def _decision_payload(d: JointDecision) -> dict[str, object]:
    return {
        "unit": d.unit.code,
        "due_at": d.due_at.isoformat(),
        "case_id": d.case_id,
        "ledger_item_id": d.ledger_item_id,
    }


def create_session(
    session: Session, *, actor: Actor, clock: Clock, data: SessionInput
) -> JointSession:
    """Record a joint session: units taking part, the cases and items it handles, its
    minutes and decisions. One record for the session and one per decision."""
    _require_convener(actor)
    title = clean_text(data.title, "title", 200)
    place = clean_text(data.place, "place", 200, required=False)
    minutes = clean_text(data.minutes, "minutes", 20000, required=False)
    if data.held_at.tzinfo is None:
        raise InvalidInput("the date and time need a time zone", field="held_at")
    if len(data.decisions) > MAX_PARTS:
        raise InvalidInput("a session records at most 100 decisions", field="decisions")
    with writing(session):
        policy = load_policy(session)
        now = clock.now()
        units = _units(session, data.units)
        subjects = _subjects(session, data)
        meeting = JointSession(
            title=title,
            held_at=data.held_at,
            place=place,
            convened_by_id=actor.user_id,
            minutes=minutes,
            created_at=now,
            updated_at=now,
        )
        meeting.units = [
            JointUnit(unit_id=u.id, unit=u, position=i) for i, u in enumerate(units, 1)
        ]
        meeting.subjects = [
            JointSubject(
                position=i,
                subject_kind=kind,
                case_id=sid if kind == SUBJECT_CASE else None,
                ledger_item_id=sid if kind == SUBJECT_LEDGER_ITEM else None,
            )
            for i, (kind, sid) in enumerate(subjects, 1)
        ]
        for i, given in enumerate(data.decisions, 1):
            _new_decision(session, meeting, given, policy=policy, now=now, position=i)
        session.add(meeting)
        session.flush()
        append_record(
            session,
            meeting,
            kind=SESSION,
            action="convene",
            actor=actor,
            at=now,
            note=title,
            payload={
                "held_at": meeting.held_at.isoformat(),
                "units": [u.code for u in units],
                "cases": [sid for k, sid in subjects if k == SUBJECT_CASE],
                "ledger_items": [sid for k, sid in subjects if k == SUBJECT_LEDGER_ITEM],
            },
        )
        for d in meeting.decisions:
            append_record(
                session,
                meeting,
                kind=SESSION,
                action="decide",
                actor=actor,
                at=now,
                item_id=d.id,
                note=d.text,
                payload=_decision_payload(d),
            )
    return meeting


def _locked(session: Session, session_id: int) -> JointSession:
    meeting = session.scalars(
        select(JointSession).where(JointSession.id == session_id).with_for_update()
    ).first()
    if meeting is None:
        raise NotFound(SESSION_NOT_FOUND, session_id=session_id)
    return meeting


def _locked_decision(session: Session, meeting: JointSession, decision_id: int) -> JointDecision:
    decision = session.scalars(
        select(JointDecision)
        .where(JointDecision.id == decision_id, JointDecision.session_id == meeting.id)
        .with_for_update()
    ).first()
    if decision is None:
        raise NotFound(DECISION_NOT_FOUND, decision_id=decision_id)
    return decision


def add_decision(
    session: Session, *, actor: Actor, clock: Clock, session_id: int, data: DecisionInput
) -> JointDecision:
    """Add a decision to a recorded session."""
    _require_convener(actor)
    with writing(session):
        meeting = _locked(session, session_id)
        if len(meeting.decisions) >= MAX_PARTS:
            raise InvalidInput("a session records at most 100 decisions", field="decisions")
        now = clock.now()
        decision = _new_decision(
            session,
            meeting,
            data,
            policy=load_policy(session),
            now=now,
            position=len(meeting.decisions) + 1,
        )
        meeting.updated_at = now
        session.flush()
        append_record(
            session,
            meeting,
            kind=SESSION,
            action="decide",
            actor=actor,
            at=now,
            item_id=decision.id,
            note=decision.text,
            payload=_decision_payload(decision),
        )
    return decision


def update_minutes(
    session: Session, *, actor: Actor, clock: Clock, session_id: int, minutes: str
) -> JointSession:
    """Replace the minutes (会议纪要) of a session; the record keeps every version."""
    _require_convener(actor)
    text = clean_text(minutes, "minutes", 20000)
    with writing(session):
        meeting = _locked(session, session_id)
        if meeting.minutes != text:
            now = clock.now()
            meeting.minutes = text
            meeting.updated_at = now
            append_record(
                session, meeting, kind=SESSION, action="minutes", actor=actor, at=now, note=text
            )
    return meeting


def answer_decision(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    session_id: int,
    decision_id: int,
    reply: ReplyInput,
) -> JointDecision:
    """The unit answers its decision: measures taken, photos, done or not."""
    if actor.role != Role.HANDLER or actor.unit_id is None:
        raise PermissionDenied(NOT_YOUR_DECISION)
    measures, photo_ids = clean_reply(reply)
    with writing(session):
        meeting = _locked(session, session_id)
        decision = _locked_decision(session, meeting, decision_id)
        if decision.unit_id != actor.unit_id:
            raise NotFound(DECISION_NOT_FOUND, decision_id=decision_id)
        now = clock.now()
        apply_answer(
            session,
            decision,
            actor=actor,
            now=now,
            measures=measures,
            photo_ids=photo_ids,
            done=reply.done,
        )
        meeting.updated_at = now
        append_record(
            session,
            meeting,
            kind=SESSION,
            action="answer",
            actor=actor,
            at=now,
            item_id=decision.id,
            note=measures,
            payload={"done": bool(reply.done), "photo_ids": photo_ids},
        )
    return decision


def review_decision(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    session_id: int,
    decision_id: int,
    accept: bool,
    reason: str = "",
) -> JointDecision:
    """A supervisor accepts a decision's answer, or sends it back with a reason."""
    _require_convener(actor)
    cleaned = clean_text(reason, "reason", 2000, required=not accept)
    with writing(session):
        meeting = _locked(session, session_id)
        decision = _locked_decision(session, meeting, decision_id)
        now = clock.now()
        apply_review(decision, actor=actor, now=now, accept=accept, reason=cleaned)
        meeting.updated_at = now
        append_record(
            session,
            meeting,
            kind=SESSION,
            action="accept" if accept else "send_back",
            actor=actor,
            at=now,
            item_id=decision.id,
            note=cleaned,
        )
    return decision


# --------------------------------------------------------------------------- reads


def _sees_all(actor: Actor) -> bool:
    return actor.role in SEE_ALL


def list_sessions(session: Session, *, actor: Actor, limit: int = 200) -> list[JointSession]:
    """The sessions ``actor`` may see, newest first: all for supervisors and leaders; for
    a unit, those it took part in or has a decision of."""
    require_reader(actor)
    query = select(JointSession)
    if not _sees_all(actor):
        query = query.where(
            or_(
                JointSession.id.in_(
                    select(JointUnit.session_id).where(JointUnit.unit_id == actor.unit_id)
                ),
                JointSession.id.in_(
                    select(JointDecision.session_id).where(JointDecision.unit_id == actor.unit_id)
                ),
            )
        )
    return list(
        session.scalars(
            query.options(selectinload(JointSession.decisions), selectinload(JointSession.units))
            .order_by(JointSession.held_at.desc(), JointSession.id.desc())
            .limit(limit)
        )
    )


def get_session(session: Session, *, actor: Actor, session_id: int) -> JointSession:
    """One session, if ``actor`` may see it (404 otherwise)."""
    require_reader(actor)
    meeting = session.get(JointSession, session_id)
    if meeting is None:
        raise NotFound(SESSION_NOT_FOUND, session_id=session_id)
    if not _sees_all(actor) and not (
        any(u.unit_id == actor.unit_id for u in meeting.units) or visible_decisions(meeting, actor)
    ):
        raise NotFound(SESSION_NOT_FOUND, session_id=session_id)
    return meeting


def visible_decisions(meeting: JointSession, actor: Actor) -> list[JointDecision]:
    """The decisions ``actor`` may see: a unit only its own."""
    if _sees_all(actor):
        return list(meeting.decisions)
    return [d for d in meeting.decisions if d.unit_id == actor.unit_id]


def decisions_of_case(
    session: Session, *, actor: Actor, case_id: int
) -> list[tuple[JointSession, list[JointDecision]]]:
    """The joint sessions that handled a case, each with the decisions ``actor`` may see
    (for the case page; empty for roles that do not work with supervision)."""
    if not _sees_all(actor) and not (actor.role == Role.HANDLER and actor.unit_id is not None):
        return []
    meetings = session.scalars(
        select(JointSession)
        .where(
            JointSession.id.in_(
                select(JointSubject.session_id).where(JointSubject.case_id == case_id)
            )
        )
        .order_by(JointSession.held_at)
    ).all()
    out = []
    for meeting in meetings:
        mine = [d for d in visible_decisions(meeting, actor) if d.case_id in (None, case_id)]
        if _sees_all(actor) or mine:
            out.append((meeting, mine))
    return out


def decision_labels(
    decisions: Sequence[JointDecision], lang: str
) -> list[tuple[JointDecision, str]]:
    """Each decision with its status label in ``lang`` (``zh`` or ``en``)."""
    index = 0 if lang == "zh" else 1
    return [(d, PROBLEM_LABELS[ProblemStatus(d.status)][index]) for d in decisions]


# --------------------------------------------------------------------------- the sweep


def escalate_decisions(session: Session, *, clock: Clock) -> list[tuple[str, str]]:
    """Take every ladder step (``supervision.yaml``) come due on a decision not yet
    accepted, once each, as :func:`~duban.supervision.escalation.escalate_orders` does for
    orders: the step's row is the key, so a second sweep — even at the same time — adds
    nothing. Returns ``("会商#<session>/<decision>", step)`` pairs."""
    ladder = supervision_policy().ladder
    fired: list[tuple[str, str]] = []
    if not ladder:
        return fired
    now = clock.now()
    calendar = load_policy(session).calendar
    session.rollback()
    rows = session.execute(
        select(JointDecision.id, JointDecision.due_at).where(
            JointDecision.status != ProblemStatus.ACCEPTED, JointDecision.due_at <= now
        )
    ).all()
    taken: dict[int, set[str]] = {}
    for decision_id, step in session.execute(
        select(DecisionEscalation.decision_id, DecisionEscalation.step)
    ):
        taken.setdefault(decision_id, set()).add(step)
    session.rollback()
    for decision_id, due_at in rows:
        past = calendar.elapsed_in_limit_units(due_at, now, LimitUnit.WORK_DAYS)
        for step in due_steps(ladder, past, taken.get(decision_id, set())):
            try:
                label = _take(session, decision_id, step, clock=clock)
            except IntegrityError:  # another sweep took it first
                continue
            if label is not None:
                fired.append((label, step.value))
    return fired


def _take(session: Session, decision_id: int, step: LadderStep, *, clock: Clock) -> str | None:
    with writing(session):
        decision = session.get(JointDecision, decision_id)
        if decision is None:
            return None
        meeting = _locked(session, decision.session_id)
        session.refresh(decision)
        if decision.status is ProblemStatus.ACCEPTED:
            return None
        if session.get(DecisionEscalation, (decision_id, step.value)) is not None:
            return None
        now = clock.now()
        session.add(DecisionEscalation(decision_id=decision_id, step=step.value, taken_at=now))
        session.flush()
        append_record(
            session,
            meeting,
            kind=SESSION,
            action=step.value,
            actor=SYSTEM_ACTOR,
            at=now,
            item_id=decision.id,
            note=STEP_LABELS[step][0],
        )
        return f"会商#{meeting.id}/{decision.position}"
