"""The supervisor's workbench (督办工作台): what waits for a supervisor or a leader, each
queue with its count and its first entries — problems and decisions answered and
awaiting review, sign-off requests, overdue orders, decisions and measures, revisits
due, campaigns running. Territory staff see their territory's only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from duban.kernel.context import Actor, Clock
from duban.kernel.errors import PermissionDenied
from duban.ledgers import awaiting
from duban.reference import load_policy
from duban.supervision.campaign_rules import CampaignStatus
from duban.supervision.followup import RevisitState
from duban.supervision.models import (
    Campaign,
    JointDecision,
    OrderProblem,
    SupervisionOrder,
)
from duban.supervision.orders import SEE_ALL, _in_territory
from duban.supervision.revisits import list_revisits
from duban.supervision.rules import OrderStatus, ProblemStatus

LIMIT = 10


@dataclass(frozen=True)
class Entry:
    """One line of a queue: where it leads, what it is, and its time if any."""

    href: str
    text: str
    when: datetime | None = None


@dataclass
class Queue:
    """One queue of the workbench (``key`` names it in the template and tests)."""

    key: str
    count: int
    entries: list[Entry] = field(default_factory=list)
    more: str = ""  # the page listing all of them


def _problems(
    session: Session, actor: Actor, *where: ColumnElement[bool]
) -> tuple[int, list[OrderProblem]]:
    query = select(OrderProblem).join(SupervisionOrder).where(*where)
    territory = _in_territory(session, actor)
    if territory is not None:
        query = query.where(territory)
    count = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.options(selectinload(OrderProblem.order))
        .order_by(OrderProblem.answered_at, OrderProblem.id)
        .limit(LIMIT)
    ).all()
    return count, list(rows)


def _decisions(session: Session, *where: ColumnElement[bool]) -> tuple[int, list[JointDecision]]:
    query = select(JointDecision).where(*where)
    count = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.options(selectinload(JointDecision.session))
        .order_by(JointDecision.due_at, JointDecision.id)
        .limit(LIMIT)
    ).all()
    return count, list(rows)


def _problem(p: OrderProblem) -> Entry:
    text = f"{p.order.number} · {p.position}. {p.description}"
    return Entry(f"/supervision/{p.order_id}", text, p.answered_at)


def _decision(d: JointDecision, when: datetime | None) -> Entry:
    return Entry(f"/joint/{d.session_id}", f"{d.session.title} · {d.position}. {d.text}", when)


def workbench(session: Session, *, actor: Actor, clock: Clock) -> list[Queue]:
    """The queues, in the order the page shows them.

    Raises:
        PermissionDenied: for anyone but supervisors, leaders and administrators.
    """
    if actor.role not in SEE_ALL:
        raise PermissionDenied("the supervision workbench is for supervisors and leaders")
    now = clock.now()
    today = now.astimezone(load_policy(session).tz).date()
    queues: list[Queue] = []

    count, problems = _problems(session, actor, OrderProblem.status == ProblemStatus.ANSWERED)
    queues.append(
        Queue(
            "problems_to_review",
            count,
            [
                Entry(
                    f"/supervision/{p.order_id}",
                    f"{p.order.number} · {p.position}. {p.description}",
                    p.answered_at,
                )
                for p in problems
            ],
            "/supervision",
        )
    )
    count, decisions = _decisions(session, JointDecision.status == ProblemStatus.ANSWERED)
    queues.append(
        Queue(
            "decisions_to_review",
            count,
            [
                Entry(
                    f"/joint/{d.session_id}",
                    f"{d.session.title} · {d.position}. {d.text}",
                    d.answered_at,
                )
                for d in decisions
            ],
            "/joint",
        )
    )
    ledgers = awaiting(session, actor=actor, limit=LIMIT)
    count, nodes = ledgers["signoffs"]
    queues.append(
        Queue(
            "signoffs_to_review",
            count,
            [Entry(f"/ledgers/{n.ledger_id}#signoffs", n.text) for n in nodes],
            "/ledgers",
        )
    )

    late_orders = select(SupervisionOrder).where(
        SupervisionOrder.status != OrderStatus.CLOSED, SupervisionOrder.due_at < now
    )
    territory = _in_territory(session, actor)
    if territory is not None:
        late_orders = late_orders.where(
            SupervisionOrder.id.in_(select(OrderProblem.order_id).where(territory))
        )
    count = int(session.scalar(select(func.count()).select_from(late_orders.subquery())) or 0)
    queues.append(
        Queue(
            "overdue_orders",
            count,
            [
                Entry(f"/supervision/{o.id}", f"{o.number} {o.title}", o.due_at)
                for o in session.scalars(late_orders.order_by(SupervisionOrder.due_at).limit(LIMIT))
            ],
            "/supervision",
        )
    )
    count, decisions = _decisions(
        session,
        JointDecision.status.in_([ProblemStatus.OPEN, ProblemStatus.SENT_BACK]),
        JointDecision.due_at < now,
    )
    queues.append(
        Queue(
            "overdue_decisions",
            count,
            [
                Entry(
                    f"/joint/{d.session_id}",
                    f"{d.session.title} · {d.position}. {d.text}",
                    d.due_at,
                )
                for d in decisions
            ],
            "/joint",
        )
    )
    count, nodes = ledgers["overdue"]
    queues.append(
        Queue(
            "overdue_measures",
            count,
            [Entry(f"/ledgers/{n.ledger_id}/nodes/{n.id}", n.text) for n in nodes],
            "/ledgers",
        )
    )

    due = [
        r for r in list_revisits(session, actor=actor, state=RevisitState.DUE) if r.due_on <= today
    ]
    queues.append(
        Queue(
            "revisits_due",
            len(due),
            [Entry("/revisits", f"{r.due_on.isoformat()} {r.description}") for r in due[:LIMIT]],
            "/revisits",
        )
    )
    active = session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.ACTIVE)
        .order_by(Campaign.ends_on, Campaign.id)
    ).all()
    queues.append(
        Queue(
            "active_campaigns",
            len(active),
            [
                Entry(f"/campaigns/{c.id}", f"{c.name} ({c.starts_on}–{c.ends_on})")
                for c in active[:LIMIT]
            ],
            "/campaigns",
        )
    )
    return queues
