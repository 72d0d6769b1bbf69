"""The deadline sweep: mark overdue cases and raise 督办 on them, ledger measures past
their deadline 逾期, take the steps of the escalation ladder on supervision orders and
joint-session decisions, create the revisit (回头看) tasks come due, and tag the cases
reported since the last run to the active campaigns. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases.actions import ActionInput, perform_action
from duban.cases.models import Case
from duban.cases.workflow import CLOCK_RUNNING, Action
from duban.handover import mark_overdue_transfers
from duban.jobs.warnings import warn_deadlines
from duban.kernel.context import SYSTEM_ACTOR, Clock
from duban.kernel.errors import Conflict
from duban.ledgers import mark_overdue_measures
from duban.reference.policy import load_policy
from duban.supervision import (
    create_due_revisits,
    escalate_decisions,
    escalate_orders,
    tag_active_campaigns,
)


@dataclass
class SweepReport:
    """What one sweep did."""

    examined: int = 0
    supervised: list[str] = field(default_factory=list)
    skipped: int = 0
    #: Ledger measures newly marked 逾期.
    ledger_overdue: int = 0
    #: Escalation steps taken on supervision orders: (order number, step).
    escalations: list[tuple[str, str]] = field(default_factory=list)
    #: Cases whose hand-over (移交) newly ran past its reply deadline.
    transfers_overdue: list[str] = field(default_factory=list)
    #: Escalation steps taken on joint-session decisions past their deadline.
    decision_escalations: list[tuple[str, str]] = field(default_factory=list)
    #: Revisit (回头看) tasks created: ``case:<code>`` or ``ledger_item:<id>``.
    revisits: list[str] = field(default_factory=list)
    #: Cases whose unit's staff got the yellow-light warning (黄灯预警).
    warned: list[str] = field(default_factory=list)
    #: Cases newly tagged to active campaigns: campaign id → count.
    campaign_tags: dict[int, int] = field(default_factory=dict)

    def __str__(self) -> str:
        text = (
            f"sweep: {self.examined} overdue candidate(s), {len(self.supervised)} newly marked "
            f"overdue and supervised, {self.skipped} skipped (changed meanwhile)"
        )
        if self.ledger_overdue:
            text += f"; {self.ledger_overdue} ledger measure(s) newly 逾期"
        if self.escalations:
            text += f"; {len(self.escalations)} supervision escalation step(s)"
        if self.transfers_overdue:
            text += f"; {len(self.transfers_overdue)} hand-over(s) newly past their reply deadline"
        if self.decision_escalations:
            text += f"; {len(self.decision_escalations)} joint-decision escalation step(s)"
        if self.revisits:
            text += f"; {len(self.revisits)} revisit task(s) created"
        if self.warned:
            text += f"; {len(self.warned)} deadline warning(s)"
        if self.campaign_tags:
            text += f"; {sum(self.campaign_tags.values())} case(s) tagged to campaigns"
        return text


def sweep_overdue(session: Session, *, clock: Clock) -> SweepReport:
    """Mark every case whose running clock passed its deadline, once, with a 督办 event.

    Each case is handled in its own transaction through the same use case as a person's
    督办, so a case changed meanwhile is skipped (and caught by the next run), and running
    the sweep twice — even at the same time — marks nothing twice.
    """
    report = SweepReport()
    now = clock.now()
    note = load_policy(session).supervise_note
    session.rollback()
    ids = list(
        session.scalars(
            select(Case.id)
            .where(
                Case.status.in_(list(CLOCK_RUNNING)),
                Case.due_at < now,
                Case.overdue_marked_at.is_(None),
            )
            .order_by(Case.due_at)
        )
    )
    session.rollback()
    report.examined = len(ids)
    for case_id in ids:
        try:
            case = perform_action(
                session,
                case_id=case_id,
                action=Action.SUPERVISE,
                actor=SYSTEM_ACTOR,
                clock=clock,
                params=ActionInput(note=note, extra={"overdue": True}),
            )
        except Conflict:  # its unit of work rolled back; the next run catches it
            report.skipped += 1
            continue
        report.supervised.append(case.code)
    report.warned = warn_deadlines(session, clock=clock)
    report.ledger_overdue = mark_overdue_measures(session, clock=clock)
    report.escalations = escalate_orders(session, clock=clock).fired
    report.transfers_overdue = mark_overdue_transfers(session, clock=clock)
    report.decision_escalations = escalate_decisions(session, clock=clock)
    report.revisits = create_due_revisits(session, clock=clock)
    report.campaign_tags = tag_active_campaigns(session, clock=clock, actor=SYSTEM_ACTOR).tagged
    return report
