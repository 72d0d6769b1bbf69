"""Use cases of revisits (回头看): the sweep creates a check task some days after a case
is closed (结案) or a ledger item signed off (销号) — days per category, policy data in
``supervision.yaml`` — once per sign-off; a collector or a supervisor records the
revisit; a failed one reopens the case through the reopen use case (its event marked
``recurrence``: 回潮) or sets the item back to 推进中."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.accounts import User
from duban.cases import (
    Action,
    ActionInput,
    Case,
    CaseStatus,
    collector_for_point,
    perform_action,
)
from duban.kernel.context import SYSTEM_ACTOR, Actor, Clock
from duban.kernel.errors import Conflict, InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.ledgers import LedgerNode, reopen_item, signed_off_items
from duban.reference import load_policy
from duban.supervision.followup import (
    REASON_LABELS,
    SUBJECT_CASE,
    SUBJECT_LEDGER_ITEM,
    RevisitReason,
    RevisitState,
    revisit_due_on,
    should_create,
)
from duban.supervision.models import Revisit
from duban.supervision.policy import revisit_policy
from duban.supervision.records import REVISIT, append_record
from duban.supervision.replies import MAX_REPLY_PHOTOS, clean_text, require_own_photos

#: Who may see every revisit.
SEE_ALL_REVISITS = frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.SYSTEM})
NOT_YOUR_REVISIT = "this revisit is assigned to someone else"
REVISIT_NOT_FOUND = "no such revisit"
NO_REVISITS = "this role does not work with revisits"


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


# --------------------------------------------------------------------------- the sweep


def create_due_revisits(session: Session, *, clock: Clock) -> list[str]:
    """Create the revisit task of every case and ledger item whose revisit day (local
    date of the sign-off + the policy's days) has come, once per sign-off: the key
    ``(subject, signed_off_at)`` makes a second sweep — even one at the same time — add
    nothing. Returns what was created (``case:<code>``, ``ledger_item:<id>``)."""
    policy = revisit_policy()
    if not policy.enabled:
        return []
    tz = load_policy(session).tz
    now = clock.now()
    today = now.astimezone(tz).date()
    earliest = _start_of(today - timedelta(days=policy.longest + policy.catch_up_days), tz)
    latest = _start_of(today - timedelta(days=policy.shortest - 1), tz)
    session.rollback()
    cases = session.execute(
        select(Case.id, Case.code, Case.category_code, Case.closed_at).where(
            Case.status == CaseStatus.CLOSED,
            Case.closed_at >= earliest,
            Case.closed_at < latest,
        )
    ).all()
    item_since = _start_of(today - timedelta(days=policy.ledger_days + policy.catch_up_days), tz)
    items = signed_off_items(session, since=item_since)
    existing = set(
        session.execute(
            select(Revisit.subject_kind, Revisit.subject_id, Revisit.signed_off_at).where(
                Revisit.signed_off_at >= min(earliest, item_since)
            )
        ).all()
    )
    item_rows = [(n.id, n.text, n.lead_unit_id, at) for n, at in items]
    session.rollback()
    created: list[str] = []
    for case_id, code, category, closed_at in cases:
        if closed_at is None:  # never: the query asks for a closing time
            continue
        due_on = revisit_due_on(closed_at.astimezone(tz).date(), policy.days_for(category))
        key = (SUBJECT_CASE, case_id, closed_at)
        if key in existing or not should_create(due_on, today, policy.catch_up_days):
            continue
        if _create(session, SUBJECT_CASE, case_id, closed_at, due_on, clock=clock):
            created.append(f"case:{code}")
    for item_id, _, _, at in item_rows:
        due_on = revisit_due_on(at.astimezone(tz).date(), policy.ledger_days)
        key = (SUBJECT_LEDGER_ITEM, item_id, at)
        if key in existing or not should_create(due_on, today, policy.catch_up_days):
            continue
        if _create(session, SUBJECT_LEDGER_ITEM, item_id, at, due_on, clock=clock):
            created.append(f"ledger_item:{item_id}")
    return created


def _create(
    session: Session,
    kind: str,
    subject_id: int,
    signed_off_at: datetime,
    due_on: date,
    *,
    clock: Clock,
) -> bool:
    try:
        with writing(session):
            taken = session.scalar(
                select(Revisit.id).where(
                    Revisit.subject_kind == kind,
                    Revisit.subject_id == subject_id,
                    Revisit.signed_off_at == signed_off_at,
                )
            )
            if taken is not None:
                return False
            now = clock.now()
            revisit = Revisit(
                subject_kind=kind,
                subject_id=subject_id,
                signed_off_at=signed_off_at,
                due_on=due_on,
                state=RevisitState.DUE,
                created_at=now,
            )
            if kind == SUBJECT_CASE:
                case = session.get(Case, subject_id)
                if case is None or case.status != CaseStatus.CLOSED:
                    return False
                revisit.case_id = case.id
                revisit.unit_id = case.unit_id
                revisit.category_code = case.category_code
                revisit.description = case.description[:2000]
                collector = collector_for_point(session, case.lat, case.lon)
                revisit.assignee_id = collector.id if collector is not None else None
            else:
                item = session.get(LedgerNode, subject_id)
                if item is None:
                    return False
                revisit.ledger_item_id = item.id
                revisit.unit_id = item.lead_unit_id
                revisit.description = item.text[:2000]
            session.add(revisit)
            session.flush()
            append_record(
                session,
                revisit,
                kind=REVISIT,
                action="create",
                actor=SYSTEM_ACTOR,
                at=now,
                payload={
                    "subject": kind,
                    "subject_id": subject_id,
                    "signed_off_at": signed_off_at.isoformat(),
                    "due_on": due_on.isoformat(),
                    "assignee_id": revisit.assignee_id,
                },
            )
    except IntegrityError:  # another sweep created it first
        return False
    return True


# --------------------------------------------------------------------------- reads


def _require_reader(actor: Actor) -> None:
    if actor.role in SEE_ALL_REVISITS or actor.role == Role.COLLECTOR:
        return
    if actor.role == Role.HANDLER and actor.unit_id is not None:
        return
    raise PermissionDenied(NO_REVISITS)


def list_revisits(
    session: Session, *, actor: Actor, state: RevisitState | None = None, limit: int = 200
) -> list[Revisit]:
    """The revisits ``actor`` may see, due first: all for supervisors and leaders; a
    collector those assigned to them; a unit those of its own cases and items."""
    _require_reader(actor)
    query = select(Revisit)
    if actor.role == Role.COLLECTOR:
        query = query.where(Revisit.assignee_id == actor.user_id)
    elif actor.role == Role.HANDLER:
        query = query.where(Revisit.unit_id == actor.unit_id)
    if state is not None:
        query = query.where(Revisit.state == state)
    return list(
        session.scalars(query.order_by(Revisit.state, Revisit.due_on, Revisit.id).limit(limit))
    )


def get_revisit(session: Session, *, actor: Actor, revisit_id: int) -> Revisit:
    """One revisit, if ``actor`` may see it (404 otherwise)."""
    _require_reader(actor)
    revisit = session.get(Revisit, revisit_id)
    if revisit is None or (
        (actor.role == Role.COLLECTOR and revisit.assignee_id != actor.user_id)
        or (actor.role == Role.HANDLER and revisit.unit_id != actor.unit_id)
    ):
        raise NotFound(REVISIT_NOT_FOUND, revisit_id=revisit_id)
    return revisit


def revisits_of_case(session: Session, *, case_id: int) -> list[Revisit]:
    """The revisits of one case, oldest first."""
    return list(
        session.scalars(select(Revisit).where(Revisit.case_id == case_id).order_by(Revisit.id))
    )


def count_recurrences(
    session: Session, *, since: datetime, until: datetime, unit_id: int | None = None
) -> int:
    """回潮: failed revisits recorded in ``[since, until)`` (of one unit, if given)."""
    query = select(func.count(Revisit.id)).where(
        Revisit.state == RevisitState.FAILED, Revisit.result_at >= since, Revisit.result_at < until
    )
    if unit_id is not None:
        query = query.where(Revisit.unit_id == unit_id)
    return int(session.scalar(query) or 0)


# --------------------------------------------------------------------------- writes


def _locked(session: Session, revisit_id: int) -> Revisit:
    revisit = session.scalars(
        select(Revisit).where(Revisit.id == revisit_id).with_for_update()
    ).first()
    if revisit is None:
        raise NotFound(REVISIT_NOT_FOUND, revisit_id=revisit_id)
    return revisit


def assign_revisit(
    session: Session, *, actor: Actor, clock: Clock, revisit_id: int, username: str
) -> Revisit:
    """A supervisor gives a revisit to a collector (or to a supervisor)."""
    if actor.role != Role.SUPERVISOR:
        raise PermissionDenied("only a supervisor may assign revisits")
    with writing(session):
        revisit = _locked(session, revisit_id)
        if revisit.state is not RevisitState.DUE:
            raise Conflict("this revisit was already recorded", state=revisit.state.value)
        user = session.scalars(select(User).where(User.username == username.strip())).first()
        if user is None or not user.is_active or user.role not in (Role.COLLECTOR, Role.SUPERVISOR):
            raise InvalidInput("name an active collector or supervisor", field="collector")
        now = clock.now()
        revisit.assignee_id = user.id
        append_record(
            session,
            revisit,
            kind=REVISIT,
            action="assign",
            actor=actor,
            at=now,
            payload={"assignee": user.username},
        )
    return revisit


def record_revisit(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    revisit_id: int,
    passed: bool,
    reason_code: str | None = None,
    reason: str = "",
    photo_ids: Sequence[str] = (),
) -> Revisit:
    """Record a revisit: passed, the task is done; failed (a reason code, photos), the
    problem came back (回潮): the case is reopened through the reopen use case, its event
    marked ``recurrence``, or the ledger item goes back to 推进中 with the reason kept.

    Raises:
        PermissionDenied: not the collector it is assigned to, nor a supervisor.
        InvalidInput: a failure without a known reason code; photos not the actor's.
        Conflict: already recorded.
    """
    if actor.role not in (Role.COLLECTOR, Role.SUPERVISOR):
        raise PermissionDenied(NOT_YOUR_REVISIT)
    note = clean_text(reason, "reason", 2000, required=False)
    code: str | None = None
    if not passed:
        try:
            code = RevisitReason(str(reason_code or "")).value
        except ValueError:
            raise InvalidInput(
                Msg(
                    "a failed revisit needs a reason code: {choices}",
                    choices=", ".join(r.value for r in RevisitReason),
                ),
                field="reason_code",
            ) from None
    photos = list(dict.fromkeys(photo_ids))
    if len(photos) > MAX_REPLY_PHOTOS:
        raise InvalidInput("at most 10 photos per answer", field="photo_ids")
    with writing(session):
        revisit = _locked(session, revisit_id)
        if actor.role == Role.COLLECTOR and revisit.assignee_id != actor.user_id:
            raise NotFound(REVISIT_NOT_FOUND, revisit_id=revisit_id)
        if revisit.state is not RevisitState.DUE:
            raise Conflict("this revisit was already recorded", state=revisit.state.value)
        require_own_photos(session, actor, photos)
        now = clock.now()
        revisit.state = RevisitState.PASSED if passed else RevisitState.FAILED
        revisit.result_at = now
        revisit.result_by_id = actor.user_id
        revisit.reason_code = code
        revisit.reason = note or None
        revisit.photo_ids = photos
        payload: dict[str, object] = {"passed": passed, "photo_ids": photos}
        if not passed:
            payload["reason_code"] = code
            payload.update(_recur(session, revisit, actor=actor, clock=clock, note=note))
        append_record(
            session,
            revisit,
            kind=REVISIT,
            action="pass" if passed else "recurrence",
            actor=actor,
            at=now,
            note=note,
            payload=payload,
        )
    return revisit


def _recur(
    session: Session, revisit: Revisit, *, actor: Actor, clock: Clock, note: str
) -> dict[str, object]:
    """What a failed revisit does to its subject (inside the revisit's unit of work)."""
    assert revisit.reason_code is not None
    label = REASON_LABELS[RevisitReason(revisit.reason_code)][0]
    why = f"回头看未通过（回潮）：{label}" + (f"；{note}" if note else "")
    if revisit.case_id is not None:
        case = session.get(Case, revisit.case_id)
        if case is None or case.status != CaseStatus.CLOSED:
            return {"reopened": False}
        perform_action(
            session,
            case_id=case.id,
            action=Action.REOPEN,
            actor=SYSTEM_ACTOR,
            clock=clock,
            params=ActionInput(
                reason=why,
                extra={"recurrence": True, "revisit_id": revisit.id, "by": actor.username},
            ),
        )
        return {"reopened": True, "case": case.code}
    assert revisit.ledger_item_id is not None
    reopen_item(
        session,
        actor=actor,
        clock=clock,
        item_id=revisit.ledger_item_id,
        reason=why,
        revisit_id=revisit.id,
    )
    return {"reopened": True, "ledger_item": revisit.ledger_item_id}
