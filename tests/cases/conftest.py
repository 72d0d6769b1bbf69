"""Fixtures of the service tests: a World of people and units on this test's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban.adapters.photostore import LocalPhotoStore
from tests.cases.support import Town
from tests.fakes import FixedClock


@pytest.fixture
def world(
    session: Session,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    tmp_path: Path,
) -> Town:
    """One user per role, units SZGC and HWC, and a photo store."""
    world = Town(session, clock, session_factory)
    world.store = LocalPhotoStore(tmp_path / "photos")
    return world
