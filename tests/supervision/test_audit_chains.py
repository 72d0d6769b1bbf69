"""``duban audit verify`` checks every chain — cases, orders, joint sessions, revisits,
campaigns, ledgers — and names the kind whose row an administrator rewrote.

The tampering is raw SQL past the append-only triggers (PostgreSQL: replica role;
SQLite: the triggers dropped), as :mod:`tests.cases.tamper` does for case events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from duban.cases.workflow import CaseStatus
from duban.cli import app
from duban.jobs.sweep import sweep_overdue
from duban.ledgers.events import verify_ledger_chains
from duban.ledgers.models import Ledger, LedgerEvent, LedgerNode
from duban.ledgers.rectify import set_status
from duban.supervision.joint import DecisionInput
from duban.supervision.models import Revisit
from tests.factories.campaigns import campaign, make_regions
from tests.factories.cases import dispatched_case
from tests.factories.ledgers import imported
from tests.factories.supervision import joint, order
from tests.factories.world import World
from tests.fakes import local

#: One row of each chain and the name ``duban audit verify`` reports it under.
TAMPER = (
    ("supervision_events", "note", "supervision orders"),
    ("supervision_records", "note", "joint sessions", "session"),
    ("supervision_records", "note", "revisits", "revisit"),
    ("campaign_events", "note", "campaigns"),
    ("ledger_events", "actor_name", "ledgers"),
)


def _as_dba(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("supervision_events", "supervision_records", "campaign_events"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_events_no_update"))
        conn.execute(text(statement), params)


def _everything(world: World) -> None:
    """One subject of each chain, made through the use cases."""
    world.clock.set(local(2026, 11, 23, 9, 0))
    case = dispatched_case(world)
    order(world, [case])
    joint(world, [case], decisions=[DecisionInput(text="联合清理", unit="SZGC", due_work_days=3)])
    make_regions(world.session)
    campaign(world)
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = world.session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger.id, LedgerNode.kind == "measure")
        .order_by(LedgerNode.id)
    ).first()
    assert measure is not None
    set_status(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        node_id=measure.id,
        status="推进中",
    )
    world.case_in(CaseStatus.CLOSED)
    world.clock.set(local(2026, 12, 10, 9, 0))
    sweep_overdue(world.session, clock=world.clock)
    assert world.session.scalars(select(Revisit)).first() is not None


def test_ledger_events_are_chained_and_signed(world: World) -> None:
    _everything(world)
    ledger = world.session.scalars(select(Ledger)).one()
    events = world.session.scalars(
        select(LedgerEvent).where(LedgerEvent.ledger_id == ledger.id).order_by(LedgerEvent.seq)
    ).all()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= 3  # imported, the measure's status, its item's roll-up
    assert all(e.key_id for e in events)
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert ledger.event_count == len(events)
    assert ledger.last_event_hash == events[-1].hash
    with world.session_factory() as other:
        report = verify_ledger_chains(other, None)
    assert report.ok, report.breaks
    assert (report.subjects, report.events) == (1, len(events))


def test_duban_audit_verify_names_each_tampered_chain(
    world: World, engine: Engine, db_url: str
) -> None:
    _everything(world)
    world.session.close()
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url}
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    for name in ("supervision orders", "joint sessions", "revisits", "campaigns", "ledgers"):
        assert f"audit ok: {name}: 1 chains" in ok.output, ok.output
    for table, column, name, *kind in TAMPER:
        where = f"subject_kind = '{kind[0]}'" if kind else "1 = 1"
        _as_dba(
            engine,
            f"UPDATE {table} SET {column} = 'x' WHERE id = "
            f"(SELECT MIN(id) FROM {table} WHERE {where})",
        )
        bad = runner.invoke(app, ["audit", "verify"], env=env)
        assert bad.exit_code == 1, bad.output
        assert f"audit FAILED: {name}:" in bad.output, bad.output
        assert "was changed" in bad.output
    # The cases' chain is reported as before, and still intact.
    assert "audit ok: " in bad.output
    assert " cases, " in bad.output
