"""A measure (整改措施) or an item (具体表现) raises a case: the report goes through the
one intake use case of cases, in the same unit of work as the link and the ledger's
event, so a refused report links nothing and a linked case always exists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from duban.cases import Case, NewCase, report_case
from duban.kernel.context import Actor, Clock
from duban.kernel.unitofwork import writing
from duban.ledgers.access import require_manager
from duban.ledgers.events import record
from duban.ledgers.models import LedgerNodeCase
from duban.ledgers.rectify import ITEM_OR_MEASURE, entry_for_change


def raise_case(
    session: Session, *, actor: Actor, clock: Clock, node_id: int, data: NewCase
) -> Case:
    """Report a case for a measure or an item and link the two (one ledger event).

    Raises:
        NotFound, PermissionDenied, InvalidInput (the report's own refusals included).
    """
    require_manager(actor)
    with writing(session):
        node = entry_for_change(
            session,
            actor,
            node_id,
            kinds=ITEM_OR_MEASURE,
            refusal="raise",
            allowed=None,
        )
        case, _ = report_case(session, actor=actor, clock=clock, data=data)
        session.add(
            LedgerNodeCase(
                node_id=node.id,
                case_id=case.id,
                created_by_id=actor.user_id,
                created_at=clock.now(),
            )
        )
        record(
            session,
            ledger_id=node.ledger_id,
            node_id=node.id,
            kind="case_raised",
            actor=actor,
            clock=clock,
            case_id=case.id,
            code=case.code,
        )
    return case
