"""Read models of the role workbenches: queues, the unit inbox, collector tasks, batches.

Every list starts from :func:`~duban.cases.access.visible_cases`, so a workbench never
shows more than the API would. Writing is left to
:func:`~duban.cases.actions.perform_action`; a batch is that function called once per
case, each case in its own transaction, and the outcome of each is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from duban.accounts import Unit, User
from duban.cases.access import visible_cases
from duban.cases.actions import ActionInput, perform_action
from duban.cases.models import Case, CaseEvent
from duban.cases.nearby import distance_m
from duban.cases.presenters import DeadlineView, deadline_view
from duban.cases.queries import CaseFilter, apply_case_filter
from duban.cases.workflow import WITH_UNIT, Action, CaseStatus
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import DubanError, Msg
from duban.kernel.roles import Role
from duban.places import Region
from duban.reference import Category, Policy, load_policy

QUEUE_PAGE = 50


class Queue(StrEnum):
    """The work lists, each a question a role asks every morning."""

    TO_ASSIGN_VERIFY = "to_assign_verify"  # operator: reports waiting for a 核实 task
    TO_ASSIGN_CHECK = "to_assign_check"  # operator: fixes waiting for a 核查 task
    TASKS_OUT = "tasks_out"  # operator: tasks collectors still hold
    TO_FILE = "to_file"  # shift lead: verified, waiting for 立案
    TO_CLOSE = "to_close"  # shift lead: checked, waiting for 结案
    NOT_FIXED = "not_fixed"  # shift lead / supervisor: closed, citizen says not fixed
    TO_DISPATCH = "to_dispatch"  # dispatcher: filed or returned, waiting for 派遣
    APPROVALS = "approvals"  # dispatcher: extension and parking requests
    PARKED = "parked"  # dispatcher: parked cases (resume)
    HANDED_OVER = "handed_over"  # dispatcher: handed over to bodies outside 城管, no answer yet
    AT_PLATFORM = "at_platform"  # dispatcher: sent down to a platform (二级派遣), to dispatch
    INBOX = "inbox"  # handler: the unit's cases by time left
    SUPERVISED = "supervised"  # supervisor: open cases under 督办


#: The queues of each role's workbench, in the order they are shown.
QUEUES_OF_ROLE: dict[Role, tuple[Queue, ...]] = {
    Role.OPERATOR: (Queue.TO_ASSIGN_VERIFY, Queue.TO_ASSIGN_CHECK, Queue.TASKS_OUT),
    Role.SHIFT_LEAD: (Queue.TO_FILE, Queue.TO_CLOSE, Queue.NOT_FIXED),
    Role.DISPATCHER: (
        Queue.TO_DISPATCH,
        Queue.AT_PLATFORM,
        Queue.APPROVALS,
        Queue.PARKED,
        Queue.HANDED_OVER,
    ),
    Role.HANDLER: (Queue.INBOX,),
    Role.SUPERVISOR: (Queue.SUPERVISED, Queue.NOT_FIXED),
}

#: What the batch form of a queue may do to the ticked cases.
BATCH_ACTIONS: dict[Queue, tuple[Action, ...]] = {
    Queue.TO_ASSIGN_VERIFY: (Action.ASSIGN,),
    Queue.TO_ASSIGN_CHECK: (Action.ASSIGN,),
    Queue.TO_FILE: (Action.FILE, Action.VOID),
    Queue.TO_CLOSE: (Action.CLOSE,),
    Queue.TO_DISPATCH: (Action.DISPATCH,),
    Queue.AT_PLATFORM: (Action.DISPATCH,),
    Queue.APPROVALS: (Action.APPROVE_EXTENSION, Action.APPROVE_PARK),
}


def _last_action_is(action: Action) -> ColumnElement[bool]:
    return (
        select(CaseEvent.id)
        .where(
            CaseEvent.case_id == Case.id,
            CaseEvent.seq == Case.event_count,
            CaseEvent.action == action.value,
        )
        .exists()
    )


def _queue_condition(queue: Queue, actor: Actor) -> ColumnElement[bool]:
    s = CaseStatus
    # Only the queue's own expression is built: building all thirteen for each queue
    # cost 0.65 ms of CPU a queue, this 0.03 ms.
    conditions: dict[Queue, Callable[[], ColumnElement[bool]]] = {
        Queue.TO_ASSIGN_VERIFY: lambda: and_(Case.status == s.REPORTED, Case.assignee_id.is_(None)),
        Queue.TO_ASSIGN_CHECK: lambda: and_(
            Case.status == s.AWAITING_CHECK, Case.assignee_id.is_(None)
        ),
        Queue.TASKS_OUT: lambda: Case.assignee_id.is_not(None),
        Queue.TO_FILE: lambda: Case.status == s.VERIFIED,
        Queue.TO_CLOSE: lambda: Case.status == s.CHECKED,
        Queue.NOT_FIXED: lambda: and_(Case.status == s.CLOSED, _last_action_is(Action.NOT_FIXED)),
        Queue.TO_DISPATCH: lambda: Case.status.in_([s.FILED, s.RETURNED]),
        Queue.APPROVALS: lambda: and_(
            Case.status.in_([s.DISPATCHED, s.HANDLING]),
            or_(Case.pending_extension_until.is_not(None), Case.pending_park_reason.is_not(None)),
        ),
        Queue.PARKED: lambda: Case.status == s.PARKED,
        Queue.HANDED_OVER: lambda: Case.status == s.TRANSFERRED,
        # A platform's dispatchers: what was sent down to their platform; the city's: all
        # that platforms hold (to follow them).
        Queue.AT_PLATFORM: lambda: and_(
            Case.status == s.AT_PLATFORM,
            Case.platform_code == actor.region_code if actor.region_code else true(),
        ),
        # Lead or helper unit: visible_cases() already narrows a handler to those.
        Queue.INBOX: lambda: Case.status.in_(sorted(WITH_UNIT)),
        Queue.SUPERVISED: lambda: and_(
            Case.is_supervised.is_(True),
            Case.status.not_in([s.CLOSED, s.REJECTED, s.VOIDED, s.MERGED]),
        ),
    }
    return conditions[queue]()


def _order(queue: Queue, stmt: Select[Any]) -> Select[Any]:
    if queue == Queue.HANDED_OVER:
        return stmt.order_by(Case.updated_at, Case.id)  # the longest waiting first
    if queue in (Queue.INBOX, Queue.APPROVALS, Queue.PARKED, Queue.SUPERVISED):
        # By time left: the unit's deadline first, cases without one last.
        return stmt.order_by(Case.due_at.is_(None), Case.due_at, Case.id)
    if queue == Queue.NOT_FIXED:
        return stmt.order_by(Case.updated_at.desc(), Case.id.desc())
    # Step queues: the step timer that runs out first comes first (every status of these
    # queues starts a step, so the timer is set; ix_cases_status_step_due serves it).
    return stmt.order_by(Case.step_due_at, Case.id)


@dataclass(frozen=True)
class WorkRow:
    """One line of a work list."""

    case: Case
    deadline: DeadlineView
    category_name: str
    category_name_en: str
    assignee: str | None
    distance_m: float | None = None
    #: A returned case (已回退): the unit that sent it back and why, for the dispatcher.
    came_back: tuple[str, str] | None = None
    #: The photo checks' verdict on the latest fix (pass / needs_look / fail), if any.
    verdict: str | None = None


@dataclass(frozen=True)
class WorkList:
    """A queue as shown: its rows (one page) and how many cases it holds in all."""

    queue: Queue
    rows: list[WorkRow]
    total: int


def _rows(session: Session, cases: Sequence[Case], policy: Policy, now: datetime) -> list[WorkRow]:
    codes = {c.category_code for c in cases}
    names: dict[str, tuple[str, str]] = {}
    if codes:
        names = {
            code: (name, name_en)
            for code, name, name_en in session.execute(
                select(Category.code, Category.name, Category.name_en).where(
                    Category.code.in_(codes)
                )
            )
        }
    user_ids = {c.assignee_id for c in cases if c.assignee_id}
    users: dict[int, str] = {}
    if user_ids:
        users = {
            uid: name
            for uid, name in session.execute(
                select(User.id, User.display_name).where(User.id.in_(user_ids))
            )
        }
    # A case with a platform came back only if a unit's 回退 put it there (its last event).
    returns = _why_returned(
        session,
        [c.id for c in cases if c.status == CaseStatus.RETURNED]
        + [c.id for c in cases if c.status == CaseStatus.AT_PLATFORM and c.unit_id is None],
        last_only={c.id: c.event_count for c in cases if c.status == CaseStatus.AT_PLATFORM},
    )
    verdicts = _verdicts(session, cases)
    return [
        WorkRow(
            case=c,
            deadline=deadline_view(c, policy, now),
            category_name=names.get(c.category_code, (c.category_code, ""))[0],
            category_name_en=names.get(c.category_code, ("", c.category_code))[1],
            assignee=users.get(c.assignee_id) if c.assignee_id else None,
            came_back=returns.get(c.id),
            verdict=verdicts.get(c.id),
        )
        for c in cases
    ]


#: Where a fix waits for its check (核查) or its closing: the rows show the photo verdict.
AFTER_FIX = frozenset({CaseStatus.AWAITING_CHECK, CaseStatus.CHECKED})


def _verdicts(session: Session, cases: Sequence[Case]) -> dict[int, str]:
    """The photo checks' verdicts of the cases whose fix waits for a check or closing."""
    from duban.photochecks import verdicts_of  # deferred: photochecks read cases

    return verdicts_of(session, [c.id for c in cases if c.status in AFTER_FIX])


def _why_returned(
    session: Session, case_ids: list[int], last_only: dict[int, int] | None = None
) -> dict[int, tuple[str, str]]:
    """For returned cases (to the city, or to a platform: 二级派遣): the name of the unit
    or platform that sent each back, and its reason."""
    if not case_ids:
        return {}
    last: dict[int, tuple[str, str]] = {}
    rows = session.execute(
        select(
            CaseEvent.case_id, CaseEvent.seq, CaseEvent.action, CaseEvent.payload, CaseEvent.note
        )
        .where(
            CaseEvent.case_id.in_(case_ids),
            CaseEvent.action.in_([Action.RETURN.value, Action.PLATFORM_RETURN.value]),
        )
        .order_by(CaseEvent.case_id, CaseEvent.seq)
    )
    last_only = last_only or {}
    for case_id, seq, action, payload, note in rows:
        if case_id in last_only and seq != last_only[case_id]:
            continue
        data = json.loads(payload or "{}")
        who = data.get("platform") if action == Action.PLATFORM_RETURN.value else data.get("unit")
        last[case_id] = (str(who or ""), str(data.get("reason") or note or ""))
    codes = {code for code, _ in last.values() if code}
    names = {**unit_names(session, codes), **platform_names(session, codes)}
    return {cid: (names.get(code, code), why) for cid, (code, why) in last.items()}


def unit_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Units' names by code."""
    if not codes:
        return {}
    rows = session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes)))
    return {code: name for code, name in rows}


def platform_names(session: Session, codes: set[str]) -> dict[str, str]:
    """The names of districts and streets (二级派遣's platforms) by code."""
    if not codes:
        return {}
    rows = session.execute(
        select(Region.code, Region.name).where(Region.code.in_(codes), Region.valid_to.is_(None))
    )
    return {code: name for code, name in rows}


def work_list(
    session: Session,
    *,
    actor: Actor,
    queue: Queue,
    now: datetime,
    filters: CaseFilter | None = None,
    limit: int = QUEUE_PAGE,
) -> WorkList:
    """One queue for ``actor``, filtered, most urgent first."""
    base = select(Case).where(visible_cases(actor), _queue_condition(queue, actor))
    if filters is not None:
        base = apply_case_filter(base, filters, now)
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    # The page's ids first, from an index alone where one holds the order (the stores'
    # planners otherwise read every case of the queue's statuses to sort them: ~30 ms for
    # the 2,000 cases to dispatch of a million on SQLite), then those cases.
    page = _order(queue, base.with_only_columns(Case.id)).limit(limit).scalar_subquery()
    cases = session.scalars(
        _order(queue, select(Case).where(Case.id.in_(page))).options(selectinload(Case.unit))
    ).all()
    return WorkList(queue, _rows(session, cases, load_policy(session), now), int(total))


def queues_of(actor: Actor, policy: Policy) -> tuple[Queue, ...]:
    """The queues of the actor's workbench. 二级派遣: the platforms' queue shows only when
    the city runs two levels; a platform's dispatchers see theirs first and not the
    city's queue of cases to dispatch (those are not theirs to dispatch)."""
    queues = QUEUES_OF_ROLE.get(actor.role, ())
    if actor.role != Role.DISPATCHER:
        return queues
    if not policy.dispatch.two_level:
        return tuple(q for q in queues if q != Queue.AT_PLATFORM)
    if policy.dispatch.runs_platform(actor.region_code):
        rest = (Queue.TO_DISPATCH, Queue.AT_PLATFORM, Queue.HANDED_OVER)
        return (Queue.AT_PLATFORM, *(q for q in queues if q not in rest))
    return queues


def workbench(
    session: Session, *, actor: Actor, now: datetime, filters: CaseFilter | None = None
) -> list[WorkList]:
    """All queues of the actor's role."""
    policy = load_policy(session)
    return [
        work_list(session, actor=actor, queue=q, now=now, filters=filters)
        for q in queues_of(actor, policy)
    ]


def collector_tasks(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    lat: float | None = None,
    lon: float | None = None,
) -> list[WorkRow]:
    """The collector's open verify/check tasks, nearest first when a position is known.

    Without a position (no GPS yet) the centre of the collector's beat is used, and
    without a beat the oldest task comes first.
    """
    if lat is None or lon is None:
        lat, lon = _beat_centre(session, actor)
    cases = session.scalars(
        select(Case)
        .where(Case.assignee_id == actor.user_id, Case.task.is_not(None))
        .order_by(Case.step_due_at.is_(None), Case.step_due_at, Case.id)
    ).all()
    rows = _rows(session, cases, load_policy(session), now)
    if lat is None or lon is None:
        return rows
    here_lat, here_lon = lat, lon
    placed = [
        replace(r, distance_m=distance_m(here_lat, here_lon, r.case.lat, r.case.lon)) for r in rows
    ]
    placed.sort(key=lambda r: (r.distance_m or 0.0, r.case.id))
    return placed


def _beat_centre(session: Session, actor: Actor) -> tuple[float | None, float | None]:
    if actor.user_id is None:
        return None, None
    user = session.get(User, actor.user_id)
    if user is None or not user.beat:
        return None, None
    from shapely.geometry import shape  # deferred: geometry only for beats

    try:
        centre = shape(user.beat).centroid
    except (ValueError, TypeError, AttributeError, KeyError):
        return None, None
    return float(centre.y), float(centre.x)


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to one case of a batch."""

    case_id: int
    code: str
    ok: bool
    message: str | Msg = ""  #: why it failed: the error's template and values


def batch_act(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    case_ids: Sequence[int],
    action: Action,
    params: ActionInput,
) -> list[BatchOutcome]:
    """Take ``action`` on each case in turn; one refusal does not stop the others."""
    results: list[BatchOutcome] = []
    for case_id in dict.fromkeys(case_ids):
        try:
            case = perform_action(
                session, case_id=case_id, action=action, actor=actor, clock=clock, params=params
            )
        except DubanError as err:
            code = session.scalar(select(Case.code).where(Case.id == case_id)) or str(case_id)
            results.append(BatchOutcome(case_id, code, False, err.text))
        else:
            results.append(BatchOutcome(case_id, case.code, True))
    return results


def active_units(session: Session, *, platform: str | None = None) -> list[Unit]:
    """Units a case can be sent to (bodies outside 城管 get hand-overs, not dispatches);
    with ``platform`` (二级派遣), that district's or street's own units."""
    stmt = select(Unit).where(Unit.is_active, Unit.kind != "external")
    if platform is not None:
        stmt = stmt.where(Unit.region_code == platform)
    return list(session.scalars(stmt.order_by(Unit.code)))


def dispatch_units(session: Session, actor: Actor, policy: Policy) -> list[Unit]:
    """The units ``actor`` dispatches to: a platform's dispatchers, their platform's own
    units; the city's in a two-level city, the units of no platform; else all."""
    if actor.role == Role.DISPATCHER and policy.dispatch.runs_platform(actor.region_code):
        return active_units(session, platform=actor.region_code)
    units = active_units(session)
    if policy.dispatch.two_level:
        return [u for u in units if not policy.dispatch.runs_platform(u.region_code)]
    return units


def active_collectors(session: Session) -> list[User]:
    """Collectors a task can be given to."""
    return list(
        session.scalars(
            select(User).where(User.role == Role.COLLECTOR, User.is_active).order_by(User.username)
        )
    )
