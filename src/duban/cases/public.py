"""Citizens without an account (随手拍): report, follow with a tracking code, rate.

A report gets a tracking code (查询码) that is shown once and kept only as a hash. The
code is a capability: whoever holds it acts as an anonymous citizen who may see that one
case (:attr:`Actor.granted_case_id`), so rating and "not fixed" go through the same
:func:`~duban.cases.actions.perform_action` as every other action and leave one event
each. Contact details given with a report are never part of the public view.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban import notify
from duban.accounts import Unit
from duban.cases.actions import ActionInput, NewCase, perform_action, report_case
from duban.cases.intake import case_of_key
from duban.cases.models import Case, CaseEvent, CasePhoto, CaseTracker
from duban.cases.workflow import PUBLIC_NOTE_ACTIONS, Action, CaseStatus, Rating, Source
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import InvalidInput, NotFound
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.reference import Category

#: Crockford's base32: no I, L, O or U, so a code read aloud or typed is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 10  # 50 bits: not guessable, short enough to copy from a phone screen

#: The actions a citizen sees on the public timeline; the rest is internal work
#: (task assignment, extension and parking requests, 督办 notes).
PUBLIC_ACTIONS = frozenset(
    {
        Action.REPORT,
        Action.VERIFY,
        Action.REJECT,
        Action.FILE,
        Action.VOID,
        Action.DISPATCH,
        Action.ACCEPT,
        Action.FEEDBACK,
        Action.FIX_ON_SITE,
        Action.CHECK,
        Action.CLOSE,
        Action.REOPEN,
        Action.MERGE,
        Action.APPROVE_EXTENSION,
        Action.APPROVE_PARK,
        Action.RESUME,
        Action.RATE,
        Action.NOT_FIXED,
    }
)
#: Public actions whose note is shown too (the workflow's one definition).
PUBLIC_NOTES = PUBLIC_NOTE_ACTIONS


def anonymous_citizen(case_id: int | None = None) -> Actor:
    """A citizen without an account, holding the tracking code of ``case_id`` if given."""
    return Actor(user_id=None, username="public", role=Role.CITIZEN, granted_case_id=case_id)


def new_tracking_code() -> str:
    """A fresh code, e.g. ``7K3QD-9XMPA``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_CHARS))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(text: str) -> str:
    """The canonical spelling of a code as typed: case, spaces and look-alikes forgiven."""
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum()).translate(table)
    if len(raw) != CODE_CHARS or any(ch not in CODE_ALPHABET for ch in raw):
        return ""
    return f"{raw[:5]}-{raw[5:]}"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What a citizen gets back for a report."""

    case: Case
    #: None when the form had already been sent: the first report's code was shown then
    #: and is kept only as a hash.
    tracking_code: str | None

    @property
    def created(self) -> bool:
        return self.tracking_code is not None


def report_as_citizen(
    session: Session,
    *,
    clock: Clock,
    data: NewCase,
    actor: Actor | None = None,
    form_token: str | None = None,
) -> Receipt:
    """随手拍: report as a citizen (signed in or anonymous) and issue a tracking code.

    ``form_token`` is the report form's own token, kept as the report's idempotency key
    (the API's Idempotency-Key path): one form makes one case. Sent again — Back, then
    submit, even with other answers — it returns the first case and no new code.
    """
    actor = actor or anonymous_citizen()
    if actor.role != Role.CITIZEN or data.source != Source.CITIZEN:
        raise InvalidInput("a citizen report must come from a citizen", field="source")
    if form_token:
        first = case_of_key(session, actor=actor, key=form_token)
        if first is not None:
            return Receipt(case=first, tracking_code=None)
    code = new_tracking_code()
    try:
        with writing(session):  # the case and its tracker, or neither
            case, _ = report_case(
                session, actor=actor, clock=clock, data=data, idempotency_key=form_token
            )
            session.add(CaseTracker(case_id=case.id, code_hash=_hash(code), created_at=clock.now()))
            notify.remember_tracking_link(session, case_id=case.id, link=f"/track/{code}")
    except IntegrityError:
        # The same form sent twice at once: the other request wrote the key first.
        first = case_of_key(session, actor=actor, key=form_token) if form_token else None
        if first is None:
            raise
        return Receipt(case=first, tracking_code=None)
    return Receipt(case=case, tracking_code=code)


def tracked_case(session: Session, code: str) -> Case:
    """The case a tracking code belongs to; :class:`NotFound` for an unknown code."""
    canonical = normalize_code(code)
    tracker = (
        session.scalars(
            select(CaseTracker).where(CaseTracker.code_hash == _hash(canonical))
        ).first()
        if canonical
        else None
    )
    case = session.get(Case, tracker.case_id) if tracker else None
    if case is None:
        raise NotFound("no report has this tracking code; check the code and try again")
    return case


def rate_case(session: Session, *, clock: Clock, code: str, rating: str, comment: str = "") -> Case:
    """评价: the holder of a tracking code rates the closed case (once)."""
    case = tracked_case(session, code)
    return perform_action(
        session,
        case_id=case.id,
        action=Action.RATE,
        actor=anonymous_citizen(case.id),
        clock=clock,
        params=ActionInput(rating=rating, note=comment),
    )


def say_not_fixed(session: Session, *, clock: Clock, code: str, reason: str) -> Case:
    """反映未解决: the holder of a tracking code says the closed case is not fixed."""
    case = tracked_case(session, code)
    return perform_action(
        session,
        case_id=case.id,
        action=Action.NOT_FIXED,
        actor=anonymous_citizen(case.id),
        clock=clock,
        params=ActionInput(reason=reason),
    )


@dataclass(frozen=True)
class PublicEvent:
    """One line of the public timeline: no names, no internal notes."""

    occurred_at: datetime
    action: Action
    to_status: CaseStatus
    note: str
    passed: bool | None = None
    rating: Rating | None = None
    #: The unit in charge: dispatched to, or reporting its fix (its name, never its code).
    unit_name: str = ""
    #: Its English name (the English face's; "" where there is none).
    unit_name_en: str = ""
    #: The unit's public reply with its fix.
    reply: str = ""
    #: An approved extension's new deadline.
    new_deadline: datetime | None = None


@dataclass(frozen=True)
class PublicCase:
    """What anybody may see of a case (and, with its code, what its reporter sees)."""

    id: int
    code: str
    status: CaseStatus
    source: Source
    category_code: str
    category_name: str
    category_name_en: str
    address: str
    description: str
    lat: float
    lon: float
    created_at: datetime
    closed_at: datetime | None
    events: list[PublicEvent]
    before_photo_ids: list[str]
    after_photo_ids: list[str]
    rating: Rating | None
    rating_comment: str
    said_not_fixed: bool

    @property
    def can_rate(self) -> bool:
        """Whether the reporter may still rate it."""
        return self.status == CaseStatus.CLOSED and self.rating is None


def public_view(session: Session, case: Case) -> PublicCase:
    """The public face of ``case``: status, place, category and the public timeline."""
    category = session.get(Category, case.category_code)
    rows = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    ).all()
    unit_names = {
        code: (name, name_en or "")
        for code, name, name_en in session.execute(select(Unit.code, Unit.name, Unit.name_en))
    }
    unit, unit_en = "", ""
    events: list[PublicEvent] = []
    rating: Rating | None = None
    rating_comment = ""
    said_not_fixed = False
    for row in rows:
        try:
            action = Action(row.action)
        except ValueError:
            continue
        if action not in PUBLIC_ACTIONS:
            continue
        payload = json.loads(row.payload or "{}")
        row_rating = None
        if action == Action.RATE:
            row_rating = Rating(payload["rating"])
            rating, rating_comment = row_rating, row.note
        if action == Action.NOT_FIXED:
            said_not_fixed = True
        if action in (Action.DISPATCH, Action.RETURN) and payload.get("unit"):
            unit, unit_en = unit_names.get(payload["unit"], ("", ""))
        new_deadline = None
        if action == Action.APPROVE_EXTENSION and payload.get("to"):
            new_deadline = datetime.fromisoformat(payload["to"])
        events.append(
            PublicEvent(
                occurred_at=row.occurred_at,
                action=action,
                to_status=CaseStatus(row.to_status),
                note=row.note if action in PUBLIC_NOTES else "",
                passed=payload.get("passed") if action == Action.CHECK else None,
                rating=row_rating,
                unit_name=unit
                if action in (Action.DISPATCH, Action.RETURN, Action.FEEDBACK)
                else "",
                unit_name_en=unit_en
                if action in (Action.DISPATCH, Action.RETURN, Action.FEEDBACK)
                else "",
                reply=str(payload.get("public_reply", "")) if action == Action.FEEDBACK else "",
                new_deadline=new_deadline,
            )
        )
    photos = session.scalars(
        select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id)
    ).all()
    return PublicCase(
        id=case.id,
        code=case.code,
        status=case.status,
        source=case.source,
        category_code=case.category_code,
        category_name=category.name if category else case.category_code,
        category_name_en=category.name_en if category else case.category_code,
        address=case.address,
        description=case.description,
        lat=case.lat,
        lon=case.lon,
        created_at=case.created_at,
        closed_at=case.closed_at,
        events=events,
        before_photo_ids=[p.photo_id for p in photos if p.stage == "before"],
        after_photo_ids=[p.photo_id for p in photos if p.stage == "after"],
        rating=rating,
        rating_comment=rating_comment,
        said_not_fixed=said_not_fixed,
    )
