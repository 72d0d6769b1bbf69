"""The fixtures work on the configured backend."""

from __future__ import annotations

from sqlalchemy.orm import Session

from duban.cases.audit import verify_chain
from duban.cases.workflow import CaseStatus
from tests.factories.world import World


def test_a_case_walks_the_whole_loop(session: Session, world: World) -> None:
    case = world.case_in(CaseStatus.CLOSED)
    assert case.status == CaseStatus.CLOSED
    assert case.event_count == 10
    assert verify_chain(session).ok
