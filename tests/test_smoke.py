"""The fixtures work on the configured backend."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from duban.adapters.photostore import LocalPhotoStore
from duban.cases.audit import verify_chain
from duban.cases.workflow import CaseStatus
from tests.factories import World
from tests.fakes import FixedClock


def test_a_case_walks_the_whole_loop(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    world = World(session, clock)
    world.store = LocalPhotoStore(tmp_path / "photos")
    case = world.case_in(CaseStatus.CLOSED)
    assert case.status == CaseStatus.CLOSED
    assert case.event_count == 10
    assert verify_chain(session).ok
