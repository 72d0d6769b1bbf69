"""Migration 0020 links the ledger events written before the chain (plain sha256 links,
accepted with ``--accept-unkeyed``); every event after it is signed, and the rows stay
append-only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from duban.kernel.context import Actor
from duban.kernel.db.migrate import upgrade
from duban.kernel.db.session import make_engine, make_session_factory
from duban.kernel.roles import Role
from duban.ledgers.events import record, verify_ledger_chains
from duban.ledgers.models import Ledger
from tests.conftest import PG_URL
from tests.fakes import FixedClock


@pytest.fixture
def blank_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (the migrations are run here by the test)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    base = make_url(PG_URL)
    name = f"{base.database or 'duban_test'}_chainmig"
    admin = make_engine(
        base.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_events_from_before_the_chain_are_linked_and_later_ones_signed(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0019_casesearch")
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO ledgers (id, title, created_at) VALUES (1, '巡察整改台账', :at)"),
            {"at": at},
        )
        for kind in ("imported", "status"):
            conn.execute(
                text(
                    "INSERT INTO ledger_events (ledger_id, kind, actor_name, at, payload)"
                    " VALUES (1, :kind, 'supervisor', :at, :payload)"
                ),
                {"kind": kind, "at": at, "payload": '{"new": "推进中", "n": 1}'},
            )
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        refused = verify_ledger_chains(session, None)
        assert not refused.ok
        assert "not signed with an audit key" in refused.breaks[0]
        assert verify_ledger_chains(session, None, accept_unkeyed=True).ok
        ledger = session.get(Ledger, 1)
        assert ledger is not None
        assert ledger.event_count == 2
        actor = Actor(user_id=None, role=Role.SUPERVISOR, username="supervisor")
        event = record(
            session,
            ledger_id=1,
            node_id=None,
            kind="snapshot",
            actor=actor,
            clock=FixedClock(at),
            week="2026-W47",
        )
        session.commit()
        assert event.seq == 3
        assert event.key_id
    with factory() as session:
        assert verify_ledger_chains(session, None, accept_unkeyed=True).ok
        with pytest.raises(DatabaseError):
            session.execute(text("UPDATE ledger_events SET kind = 'x'"))
    engine.dispose()
