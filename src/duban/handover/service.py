"""Use cases of hand-overs (移交) and of the responsibility list (权责清单).

The case side of a hand-over — its status, its one event — is the cases capability's
``transfer`` family of actions (:mod:`duban.cases.workflow`); their handlers call
:func:`open_transfer`, :func:`answer_transfer` and :func:`mark_transfer_overdue` here, in
the action's unit of work, so the hand-over's record and the case's event are written
together or not at all. A body answers through :func:`answer_by_link`, which takes the
same actions as the SYSTEM actor.

Event kinds, for statistics (the evaluation's facts): ``transfer`` (payload ``body``,
``reply_due_at``, ``reply_days``, ``at_once``), ``transfer_accept``, ``transfer_refuse``
(``reason``), ``transfer_done`` (``photos``), each with ``body`` and ``via`` (``link`` |
``dispatcher``), and ``transfer_overdue`` (``reply_due_at``). A hand-over case has no unit
of ours and no unit clock: it counts in no unit's on-time rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.handover.models import CaseTransfer, Responsibility
from duban.handover.policy import handover_policy
from duban.handover.rules import (
    ANSWER_STATE,
    ANSWERABLE,
    Answer,
    BadLink,
    Entry,
    LinkProblem,
    TransferState,
    best_entry,
    read_link,
    sign_link,
)
from duban.kernel.context import SYSTEM_ACTOR, Actor, Clock
from duban.kernel.errors import Conflict, InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.inputs import MAX_NOTE_CHARS, clean_text
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.reference import LimitUnit, Policy, TimeLimit

EXTERNAL = "external"
#: The longest reply time a dispatcher may give (working days).
MAX_REPLY_DAYS = 60


# --------------------------------------------------------------------------- the list


def _entries(session: Session) -> list[Responsibility]:
    return list(
        session.scalars(
            select(Responsibility)
            .join(Unit, Unit.id == Responsibility.unit_id)
            .where(Responsibility.is_active, Unit.is_active)
            .order_by(Responsibility.id)
        )
    )


def responsibility_for(
    session: Session, *, category_code: str, condition_code: str | None
) -> Responsibility | None:
    """The list's entry for a matter (the most specific), None when not a body's."""
    rows = _entries(session)
    chosen = best_entry(
        [Entry(r.id, r.category_code, r.condition_code) for r in rows],
        category_code=category_code,
        condition_code=condition_code,
    )
    return next((r for r in rows if chosen is not None and r.id == chosen.id), None)


def at_once_entry(session: Session, *, category_code: str, condition_code: str | None) -> Any:
    """The entry if the list says this matter goes to its body at once (燃气泄漏)."""
    entry = responsibility_for(session, category_code=category_code, condition_code=condition_code)
    return entry if entry is not None and entry.at_once else None


def external_body(session: Session, code: str | None, *, field_name: str = "unit") -> Unit:
    """An active body outside 城管 by code (:class:`InvalidInput` otherwise)."""
    if not code:
        raise InvalidInput(
            "a hand-over needs the body ('unit': the code of a body outside 城管)",
            field=field_name,
        )
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None or not unit.is_active or unit.kind != EXTERNAL:
        raise InvalidInput(
            Msg("'{code}' is not an active body outside 城管", code=code), field=field_name
        )
    return unit


def list_bodies(session: Session) -> list[Unit]:
    """The bodies outside 城管, active first."""
    return list(
        session.scalars(
            select(Unit).where(Unit.kind == EXTERNAL).order_by(Unit.is_active.desc(), Unit.code)
        )
    )


def list_responsibilities(session: Session) -> list[Responsibility]:
    """The whole list, active entries first."""
    return list(
        session.scalars(
            select(Responsibility).order_by(Responsibility.is_active.desc(), Responsibility.id)
        )
    )


def save_body(
    session: Session,
    *,
    code: str,
    name: str,
    phone: str = "",
    email: str = "",
    address: str = "",
) -> Unit:
    """Add a body outside 城管, or change the name and contacts of one."""
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise InvalidInput("a body needs a code and a name", field="code")
    if len(code) > 32:
        raise InvalidInput("a body's code has at most 32 characters", field="code")
    with writing(session):
        unit = session.scalars(select(Unit).where(Unit.code == code)).first()
        if unit is None:
            unit = Unit(code=code, name=name, kind=EXTERNAL, is_active=True)
            session.add(unit)
        elif unit.kind != EXTERNAL:
            raise Conflict(Msg("unit '{code}' is a unit of 城管, not a body outside it", code=code))
        unit.name = clean_text(name, field_name="name", limit=200)
        unit.phone = clean_text(phone, field_name="phone", limit=64) or None
        unit.email = clean_text(email, field_name="email", limit=200) or None
        unit.address = clean_text(address, field_name="address", limit=300) or None
        session.flush()
        return unit


def add_responsibility(
    session: Session,
    *,
    body_code: str,
    now: datetime,
    category_code: str | None = None,
    condition_code: str | None = None,
    note: str = "",
    legal_basis: str = "",
    at_once: bool = False,
    reply_days: int | None = None,
) -> Responsibility:
    """Add an entry to the list: a matter (category or filing condition) → a body."""
    from duban.reference import Category, FilingCondition

    with writing(session):
        body = external_body(session, body_code, field_name="body")
        category_code = (category_code or "").strip() or None
        condition_code = (condition_code or "").strip() or None
        if category_code is None and condition_code is None:
            raise InvalidInput(
                "name the matter: a category (major class or subclass) or a filing condition",
                field="category",
            )
        if category_code and session.get(Category, category_code) is None:
            raise InvalidInput(
                Msg("unknown category '{code}'", code=category_code), field="category"
            )
        if condition_code:
            condition = session.get(FilingCondition, condition_code)
            if condition is None:
                raise InvalidInput(
                    Msg(
                        "unknown filing condition '{condition_code}'", condition_code=condition_code
                    ),
                    field="condition",
                )
            category_code = condition.category_code
        if reply_days is not None and not 1 <= reply_days <= MAX_REPLY_DAYS:
            raise InvalidInput(
                Msg(
                    "reply days are 1 to {MAX_REPLY_DAYS} working days",
                    MAX_REPLY_DAYS=MAX_REPLY_DAYS,
                ),
                field="reply_days",
            )
        entry = Responsibility(
            category_code=category_code,
            condition_code=condition_code,
            unit_id=body.id,
            note=clean_text(note, field_name="note", limit=MAX_NOTE_CHARS),
            legal_basis=clean_text(legal_basis, field_name="legal_basis", limit=MAX_NOTE_CHARS),
            at_once=at_once,
            reply_days=reply_days,
            is_active=True,
            created_at=now,
        )
        session.add(entry)
        session.flush()
        return entry


def deactivate_responsibility(session: Session, entry_id: int) -> None:
    """Switch an entry off (hand-overs made by it keep what they were told)."""
    with writing(session):
        entry = session.get(Responsibility, entry_id)
        if entry is None:
            raise NotFound(
                Msg("responsibility list entry {entry_id} does not exist", entry_id=entry_id)
            )
        entry.is_active = False


def load_list(session: Session, data: dict[str, Any], *, now: datetime) -> tuple[int, int]:
    """Load bodies and entries in the shape of ``handover.yaml`` (again: changes nothing
    already there). Returns (bodies saved, entries added)."""
    bodies = 0
    for raw in data.get("bodies") or []:
        save_body(
            session,
            code=str(raw["code"]),
            name=str(raw["name"]),
            phone=str(raw.get("phone") or ""),
            email=str(raw.get("email") or ""),
            address=str(raw.get("address") or ""),
        )
        bodies += 1
    have = {
        (r.category_code if r.condition_code is None else None, r.condition_code, r.unit.code)
        for r in list_responsibilities(session)
        if r.is_active
    }
    added = 0
    for raw in data.get("responsibilities") or []:
        key = (raw.get("category"), raw.get("condition"), str(raw["body"]))
        if key in have:
            continue
        add_responsibility(
            session,
            body_code=str(raw["body"]),
            now=now,
            category_code=raw.get("category"),
            condition_code=raw.get("condition"),
            note=str(raw.get("note") or ""),
            legal_basis=str(raw.get("legal_basis") or ""),
            at_once=bool(raw.get("at_once", False)),
            reply_days=int(raw["reply_days"]) if raw.get("reply_days") else None,
        )
        have.add(key)
        added += 1
    return bodies, added


# --------------------------------------------------------------------------- hand-overs


def current_transfer(session: Session, case_id: int) -> CaseTransfer | None:
    """The case's hand-over still waiting for (the rest of) its answer."""
    return session.scalars(
        select(CaseTransfer)
        .where(CaseTransfer.case_id == case_id, CaseTransfer.state.in_(list(ANSWERABLE)))
        .order_by(CaseTransfer.id.desc())
        .limit(1)
    ).first()


def transfers_of(session: Session, case_id: int) -> list[CaseTransfer]:
    """Every hand-over of a case, oldest first."""
    return list(
        session.scalars(
            select(CaseTransfer).where(CaseTransfer.case_id == case_id).order_by(CaseTransfer.id)
        )
    )


def open_transfer(
    session: Session,
    *,
    case: Any,
    body_code: str | None,
    reply_days: float | None,
    note: str,
    actor: Actor,
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    """Record a hand-over of ``case`` (called by the ``transfer`` action); the event's payload.

    Without a body the list's entry for the case's matter decides; the reply deadline
    is ``reply_days`` working days (else the entry's, else the policy's) from now."""
    entry = responsibility_for(
        session, category_code=case.category_code, condition_code=case.condition_code
    )
    if not body_code and entry is not None:
        body_code = entry.unit.code
    body = external_body(session, body_code)
    if reply_days is not None:
        if reply_days != int(reply_days) or not 1 <= reply_days <= MAX_REPLY_DAYS:
            raise InvalidInput(
                Msg(
                    "the reply time is a whole number of working days, 1 to {MAX_REPLY_DAYS}",
                    MAX_REPLY_DAYS=MAX_REPLY_DAYS,
                ),
                field="amount",
            )
        days = int(reply_days)
    elif entry is not None and entry.unit_id == body.id and entry.reply_days:
        days = entry.reply_days
    else:
        days = handover_policy().reply_days
    due = policy.calendar.due_at(now, TimeLimit(days, LimitUnit.WORK_DAYS))
    basis = entry.legal_basis if entry is not None and entry.unit_id == body.id else ""
    session.add(
        CaseTransfer(
            case_id=case.id,
            unit_id=body.id,
            event_seq=case.event_count + 1,
            state=TransferState.OPEN.value,
            note=note,
            legal_basis=basis,
            reply_due_at=due,
            created_at=now,
            created_by_id=actor.user_id,
        )
    )
    payload: dict[str, Any] = {
        "body": body.code,
        "reply_days": days,
        "reply_due_at": due.isoformat(),
    }
    if entry is not None:
        payload["responsibility"] = entry.id if entry.unit_id == body.id else None
        if entry.unit_id != body.id:
            payload["list_says"] = entry.unit.code
    if actor.role == Role.SYSTEM and actor.user_id is None:
        payload["at_once"] = True
    return payload


def answer_transfer(
    session: Session, *, case: Any, answer: Answer, actor: Actor, now: datetime, text: str
) -> dict[str, Any]:
    """Record the body's answer (called by ``transfer_accept|refuse|done``); the payload."""
    transfer = current_transfer(session, case.id)
    if transfer is None:
        raise Conflict(
            Msg("case {case_code} has no hand-over waiting for an answer", case_code=case.code)
        )
    if answer == Answer.ACCEPT and transfer.state != TransferState.OPEN.value:
        raise Conflict(
            Msg("the hand-over of case {case_code} was already accepted", case_code=case.code),
            code="already_accepted",
        )
    transfer.state = ANSWER_STATE[answer].value
    via = "link" if actor.role == Role.SYSTEM else "dispatcher"
    transfer.answered_via = via
    if answer == Answer.ACCEPT:
        transfer.accepted_at = now
    else:
        transfer.answered_at = now
        transfer.answer_note = text
    return {"body": transfer.unit.code, "answer": answer.value, "via": via}


def mark_transfer_overdue(session: Session, *, case: Any, now: datetime) -> dict[str, Any]:
    """Mark the case's hand-over late, once (called by ``transfer_overdue``); the payload."""
    transfer = current_transfer(session, case.id)
    if transfer is None or transfer.overdue_marked_at is not None:
        raise Conflict(Msg("case {case_code} has no unmarked hand-over", case_code=case.code))
    if transfer.reply_due_at >= now:
        raise Conflict(Msg("the hand-over of case {case_code} is not overdue", case_code=case.code))
    transfer.overdue_marked_at = now
    return {"body": transfer.unit.code, "reply_due_at": transfer.reply_due_at.isoformat()}


def mark_overdue_transfers(session: Session, *, clock: Clock) -> list[str]:
    """The sweep's part: every hand-over past its reply deadline gets one
    ``transfer_overdue`` event (each in its own unit of work; re-runs add nothing)."""
    from duban.cases import Action, perform_action

    now = clock.now()
    session.rollback()
    ids = list(
        session.scalars(
            select(CaseTransfer.case_id)
            .where(
                CaseTransfer.state.in_(list(ANSWERABLE)),
                CaseTransfer.reply_due_at < now,
                CaseTransfer.overdue_marked_at.is_(None),
            )
            .order_by(CaseTransfer.reply_due_at)
        )
    )
    session.rollback()
    marked: list[str] = []
    for case_id in ids:
        try:
            case = perform_action(
                session,
                case_id=case_id,
                action=Action.TRANSFER_OVERDUE,
                actor=SYSTEM_ACTOR,
                clock=clock,
            )
        except Conflict:
            continue
        marked.append(case.code)
    return marked


# --------------------------------------------------------------------------- the link


def link_token(secret: str, transfer: CaseTransfer) -> str:
    """The token of the body's answer link of ``transfer``."""
    expires = transfer.created_at + timedelta(days=handover_policy().link_valid_days)
    return sign_link(secret, transfer.id, int(expires.timestamp()))


class LinkUsed(Exception):
    """The hand-over was already answered for good (refused or done)."""

    def __init__(self, transfer: CaseTransfer) -> None:
        super().__init__("this hand-over was already answered")
        self.transfer = transfer


def transfer_by_link(
    session: Session, *, secret: str, token: str, now: datetime, answerable: bool = True
) -> CaseTransfer:
    """The hand-over a link opens. Raises :class:`BadLink` (forged, expired) or
    :class:`LinkUsed` (``answerable`` and it was answered for good)."""
    transfer_id = read_link(secret, token, int(now.timestamp()))
    transfer = session.get(CaseTransfer, transfer_id)
    if transfer is None:
        raise BadLink(LinkProblem.FORGED)
    if answerable and transfer.state not in ANSWERABLE:
        raise LinkUsed(transfer)
    return transfer


#: What a person holding a bad link reads (the web page translates it).
LINK_MESSAGES: Final = {
    "link_forged": "This link is not valid. Use the link exactly as it was sent to you.",
    "link_expired": "This link has expired. Ask the supervision centre for a new one.",
    "link_used": "This hand-over was already answered. Thank you.",
}


def open_link(
    session: Session, *, secret: str, token: str, now: datetime, answerable: bool = True
) -> CaseTransfer:
    """:func:`transfer_by_link` with its refusals as domain errors: 403 ``link_forged``
    or ``link_expired``, 409 ``link_used`` (the API and the page answer with those)."""
    try:
        return transfer_by_link(session, secret=secret, token=token, now=now, answerable=answerable)
    except BadLink as err:
        code = f"link_{err.problem.value}"
        raise PermissionDenied(LINK_MESSAGES[code], code=code) from None
    except LinkUsed:
        raise Conflict(LINK_MESSAGES["link_used"], code="link_used") from None


_ACTION_OF = {
    Answer.ACCEPT: "transfer_accept",
    Answer.REFUSE: "transfer_refuse",
    Answer.DONE: "transfer_done",
}


def answer_by_link(
    session: Session,
    *,
    secret: str,
    token: str,
    answer: Answer,
    clock: Clock,
    note: str = "",
    reason: str = "",
    photo_ids: Sequence[str] = (),
) -> CaseTransfer:
    """The body answers through its link (no account): one event on the case, taken by
    the SYSTEM actor on the body's behalf."""
    from duban.cases import Action, ActionInput, perform_action

    transfer = open_link(session, secret=secret, token=token, now=clock.now())
    transfer_id, case_id = transfer.id, transfer.case_id
    actor = replace(SYSTEM_ACTOR, username=f"body:{transfer.unit.code}")
    perform_action(
        session,
        case_id=case_id,
        action=Action(_ACTION_OF[answer]),
        actor=actor,
        clock=clock,
        params=ActionInput(note=note, reason=reason, photo_ids=tuple(photo_ids)),
    )
    done = session.get(CaseTransfer, transfer_id)
    assert done is not None
    return done


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class TransferFigures:
    """Hand-overs counted apart from the units' work."""

    waiting: int  # cases handed over, no final answer yet
    overdue: int  # of those, past their reply deadline


def transfer_figures(
    session: Session, *, seen: ColumnElement[bool], now: datetime
) -> TransferFigures:
    """Open hand-overs of the cases ``seen`` selects, and how many are late."""
    from duban.cases import Case

    waiting, late = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(sql_case((CaseTransfer.reply_due_at < now, 1), else_=0)), 0),
        )
        .select_from(CaseTransfer)
        .join(Case, Case.id == CaseTransfer.case_id)
        .where(CaseTransfer.state.in_(list(ANSWERABLE)), seen)
    ).one()
    return TransferFigures(int(waiting), int(late or 0))
