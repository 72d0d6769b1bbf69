"""The hash chain of case_events: intact after real work, broken by any direct edit.

The tampering is done the way an insider would: raw SQL on the database, bypassing the
application, on whichever backend the suite runs on (CI runs both).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from duban.cases.audit import GENESIS, event_digest, verify_chain
from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus
from duban.cli import app
from tests.cases.tamper import dba_sql
from tests.factories.cases import events, fresh
from tests.factories.world import World
from tests.fakes import local


def _sql(engine: Engine, statement: str, **params: Any) -> int:
    return dba_sql(engine, statement, **params)


def _cases(world: World) -> tuple[Case, Case, Case]:
    """Three cases with full histories: closed after a rework, returned, and rejected."""
    world.clock.set(local(2026, 11, 20, 9, 0))
    first = world.case_in(CaseStatus.AWAITING_CHECK)
    world.act(first, Action.ASSIGN, "operator", collector="collector")
    world.act(first, Action.CHECK, "collector", passed=False, reason="未修复")
    world.act(first, Action.FEEDBACK, "handler", photo_ids=[world.photo((1, 1, 1))])
    world.act(first, Action.ASSIGN, "operator", collector="collector")
    world.act(first, Action.CHECK, "collector", passed=True, note="已修复")
    world.act(first, Action.CLOSE, "shift_lead")
    world.clock.advance(hours=1)
    second = world.case_in(CaseStatus.HANDLING)
    world.clock.advance(hours=1)
    world.act(second, Action.SUPERVISE, "supervisor", note="请加快")
    world.clock.advance(hours=1)
    world.act(second, Action.RETURN, "handler", reason="非本单位")
    third = world.report(description="占道经营 “早市” ✓")
    world.act(third, Action.REJECT, "operator", reason="重复")
    return first, second, third


def test_the_chain_verifies_after_real_work(world: World) -> None:
    first, second, third = _cases(world)
    report = verify_chain(world.session)
    assert report.ok
    assert report.first_break is None
    assert report.cases_checked == 3
    assert report.events_checked == first.event_count + second.event_count + third.event_count
    assert first.event_count == 13


def test_each_event_links_to_the_one_before(world: World) -> None:
    case, _, _ = _cases(world)
    rows = events(world.session_factory, case.id)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    assert fresh(world.session_factory, case.id).last_event_hash == rows[-1].hash


def test_an_empty_database_verifies(world: World) -> None:
    report = verify_chain(world.session)
    assert (report.ok, report.cases_checked, report.events_checked) == (True, 0, 0)


Tamper = Callable[[Engine, int], None]


def _change_note(engine: Engine, case_id: int) -> None:
    _sql(
        engine,
        "UPDATE case_events SET note = :note WHERE case_id = :c AND seq = 3",
        note="已核实（改）",
        c=case_id,
    )


def _change_payload(engine: Engine, case_id: int) -> None:
    _sql(
        engine,
        "UPDATE case_events SET payload = :p WHERE case_id = :c AND seq = 3",
        p=json.dumps({"photos": []}),
        c=case_id,
    )


def _change_actor(engine: Engine, case_id: int) -> None:
    _sql(
        engine,
        "UPDATE case_events SET actor_role = 'leader' WHERE case_id = :c AND seq = 3",
        c=case_id,
    )


def events_at(engine: Engine, case_id: int, seq: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM case_events WHERE case_id = :c AND seq = :s"),
            {"c": case_id, "s": seq},
        ).one()
    return dict(row._mapping)


def _change_status(engine: Engine, case_id: int) -> None:
    _sql(
        engine,
        "UPDATE case_events SET to_status = 'closed' WHERE case_id = :c AND seq = 3",
        c=case_id,
    )


def _delete_middle(engine: Engine, case_id: int) -> None:
    _sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = 3", c=case_id)


def _delete_first(engine: Engine, case_id: int) -> None:
    _sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = 1", c=case_id)


@pytest.mark.parametrize(
    ("tamper", "seq", "problem"),
    [
        (_change_note, 3, "row was changed after it was written"),
        (_change_payload, 3, "row was changed after it was written"),
        (_change_actor, 3, "row was changed after it was written"),
        (_change_status, 3, "row was changed after it was written"),
        (_delete_middle, 3, "event #3 is missing (deleted?)"),
        (_delete_first, 1, "event #1 is missing (deleted?)"),
    ],
    ids=["note", "payload", "actor", "status", "delete-middle", "delete-first"],
)
def test_a_changed_or_deleted_row_is_the_first_broken_link(
    world: World, engine: Engine, tamper: Tamper, seq: int, problem: str
) -> None:
    first, second, _ = _cases(world)
    tamper(engine, second.id)
    report = verify_chain(world.session)
    assert not report.ok
    broken = report.first_break
    assert broken is not None
    assert (broken.case_id, broken.case_code, broken.seq, broken.problem) == (
        second.id,
        second.code,
        seq,
        problem,
    )
    assert str(broken) == f"case {second.code} (id {second.id}), event #{seq}: {problem}"
    del first


def test_a_back_dated_event_is_detected(world: World, engine: Engine) -> None:
    _, second, _ = _cases(world)
    _sql(
        engine,
        "UPDATE case_events SET occurred_at = ("
        "  SELECT occurred_at FROM case_events WHERE case_id = :c AND seq = 1"
        ") WHERE case_id = :c AND seq = 7",
        c=second.id,
    )
    broken = verify_chain(world.session).first_break
    assert broken is not None
    assert (broken.case_code, broken.seq) == (second.code, 7)


def test_deleting_the_last_event_is_detected_from_the_case_head(
    world: World, engine: Engine
) -> None:
    first, _, _ = _cases(world)
    n = first.event_count
    assert _sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = :n", c=first.id, n=n)
    broken = verify_chain(world.session).first_break
    assert broken is not None
    assert (broken.case_code, broken.seq) == (first.code, n)
    assert broken.problem == (
        f"the case records {n} events but {n - 1} intact ones remain "
        "(the latest were deleted or changed)"
    )


def test_deleting_every_event_of_a_case_is_detected(world: World, engine: Engine) -> None:
    _, _, third = _cases(world)
    _sql(engine, "DELETE FROM case_events WHERE case_id = :c", c=third.id)
    broken = verify_chain(world.session).first_break
    assert broken is not None
    assert (broken.case_code, broken.seq) == (third.code, 1)


def test_a_row_rehashed_without_the_key_is_caught_at_itself(world: World, engine: Engine) -> None:
    """An insider who recomputes the edited row's hash without the audit key (a plain
    sha256, as the chain was before the key) fails at that very row."""
    _, second, _ = _cases(world)
    row = events_at(engine, second.id, 3)
    note = "改写的说明"
    digest = event_digest(
        row["prev_hash"],
        case_id=second.id,
        seq=3,
        action=row["action"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        occurred_at=next(
            e for e in events(world.session_factory, second.id) if e.seq == 3
        ).occurred_at,
        note=note,
        payload=row["payload"],
    )
    _sql(
        engine,
        "UPDATE case_events SET note = :n, hash = :h WHERE case_id = :c AND seq = 3",
        n=note,
        h=digest,
        c=second.id,
    )
    broken = verify_chain(world.session).first_break
    assert broken is not None
    assert (broken.case_code, broken.seq, broken.problem) == (
        second.code,
        3,
        "row was changed after it was written",
    )


def test_a_rewound_case_head_is_detected(world: World, engine: Engine) -> None:
    """Deleting the last event and rewinding the count still leaves the head hash wrong."""
    first, _, _ = _cases(world)
    n = first.event_count
    _sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = :n", c=first.id, n=n)
    _sql(engine, "UPDATE cases SET event_count = :m WHERE id = :c", m=n - 1, c=first.id)
    broken = verify_chain(world.session).first_break
    assert broken is not None
    assert (broken.case_code, broken.seq) == (first.code, n)


def test_the_first_broken_case_is_reported_when_several_are(world: World, engine: Engine) -> None:
    first, second, _ = _cases(world)
    _delete_middle(engine, second.id)
    _change_note(engine, first.id)
    broken = verify_chain(world.session).first_break
    assert broken is not None
    assert (broken.case_id, broken.seq) == (first.id, 3)


# --------------------------------------------------------------------------- the command


def test_duban_audit_verify(world: World, engine: Engine, db_url: str) -> None:
    _, second, _ = _cases(world)
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url}
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit ok: 3 cases" in ok.output
    assert "every chain intact" in ok.output

    _change_note(engine, second.id)
    bad = runner.invoke(app, ["audit", "verify"], env=env)
    assert bad.exit_code == 1, bad.output
    assert "audit FAILED" in bad.output
    assert f"case {second.code} (id {second.id}), event #3" in bad.output
    assert "row was changed after it was written" in bad.output
