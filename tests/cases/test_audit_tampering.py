"""The eleven ways a database administrator rewrote the audit trail (issue 12), each caught.

Every tampering is raw SQL run as an administrator would run it: past the application
and past the append-only triggers (:mod:`tests.cases.tamper`), on whichever backend the
suite runs on (CI runs both). The administrator knows the chain's construction but not
the audit key, which is kept outside the database: where they recompute hashes they
sign with a key of their own under the real key's id. Each test fails if
``verify_chain`` misses its tampering.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from duban.cases import auditkey
from duban.cases.audit import (
    GENESIS,
    AuditReport,
    Checkpoint,
    CheckpointError,
    event_digest,
    take_checkpoint,
    verify_chain,
)
from duban.cases.auditkey import AuditKeys, audit_keys, forget_keys, parse_keys
from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus
from duban.cli import app
from duban.kernel.db.base import Base
from tests.cases.tamper import as_dba, dba_sql
from tests.factories.cases import fresh
from tests.factories.world import World
from tests.fakes import local

#: The administrator's own key, under the id of the real one (which they can read).
ATTACKER = parse_keys(f"{audit_keys().current}:not-the-audit-key-0123456789")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_keys() -> Any:
    forget_keys()
    yield
    forget_keys()


def _cases(world: World) -> tuple[Case, Case, Case]:
    """Three cases: closed after a rework, returned by its unit, and rejected."""
    world.clock.set(local(2026, 11, 20, 9, 0))
    first = world.case_in(CaseStatus.AWAITING_CHECK, reporter_phone="13800000000")
    world.act(first, Action.ASSIGN, "operator", collector="collector")
    world.act(first, Action.CHECK, "collector", passed=False, reason="未修复")
    world.act(first, Action.FEEDBACK, "handler", photo_ids=[world.photo((1, 1, 1))])
    world.act(first, Action.ASSIGN, "operator", collector="collector")
    world.act(first, Action.CHECK, "collector", passed=True, note="已修复")
    world.act(first, Action.CLOSE, "shift_lead")
    world.clock.advance(hours=1)
    second = world.case_in(CaseStatus.HANDLING, reporter_phone="13900000000")
    world.act(second, Action.SUPERVISE, "supervisor", note="请加快")
    world.act(second, Action.RETURN, "handler", reason="非本单位")
    third = world.report(description="占道经营 “早市” ✓")
    world.act(third, Action.REJECT, "operator", reason="重复")
    return first, second, third


def _verify(factory: sessionmaker[Session], **kw: Any) -> AuditReport:
    with factory() as session:
        return verify_chain(session, **kw)


def _checkpoint(factory: sessionmaker[Session]) -> Checkpoint:
    with factory() as session:
        report, point = take_checkpoint(session, now=NOW)
    assert report.ok, report.first_break
    assert point is not None
    # Through its file format: what verify reads back is what was signed.
    return Checkpoint.loads(point.dumps(audit_keys()), audit_keys())


EVENTS = cast(Table, CaseEvent.__table__)


def _select_events(case_id: int) -> Any:
    return select(EVENTS).where(EVENTS.c.case_id == case_id).order_by(EVENTS.c.seq)


def _rows(engine: Engine, case_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(_select_events(case_id)).all()
    return [dict(r._mapping) for r in rows]


def _rechain(
    engine: Engine, case_id: int, *, keys: AuditKeys = ATTACKER, from_seq: int = 1
) -> None:
    """Recompute a case's chain from event ``from_seq`` on, and its head, from its rows
    as they now stand, as an administrator would who knows the construction (but signs
    with their own key)."""
    prev = GENESIS
    with engine.begin() as conn:
        as_dba(conn)
        rows = conn.execute(_select_events(case_id)).all()
        for row in rows:
            r = row._mapping
            if r["seq"] < from_seq:
                prev = r["hash"]
                continue
            digest = event_digest(
                prev,
                case_id=case_id,
                seq=r["seq"],
                action=r["action"],
                from_status=r["from_status"],
                to_status=r["to_status"],
                actor_id=r["actor_id"],
                actor_role=r["actor_role"],
                occurred_at=r["occurred_at"],
                note=r["note"],
                payload=r["payload"],
                key_id=r["key_id"],
                case_digest=r["case_digest"],
                keys=keys,
            )
            conn.execute(
                text("UPDATE case_events SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": r["id"]},
            )
            prev = digest
        conn.execute(
            text("UPDATE cases SET event_count = :n, last_event_hash = :h WHERE id = :c"),
            {"n": len(rows), "h": prev, "c": case_id},
        )


def _delete_case(engine: Engine, case_id: int) -> None:
    """The case and every row that refers to it, gone."""
    with engine.begin() as conn:
        as_dba(conn)
        for table in reversed(Base.metadata.sorted_tables):
            if "case_id" in table.c and table.name != "cases":
                conn.execute(table.delete().where(table.c.case_id == case_id))
        conn.execute(text("UPDATE cases SET duplicate_of_id = NULL WHERE duplicate_of_id = :c"),
                     {"c": case_id})  # fmt: skip
        conn.execute(text("DELETE FROM cases WHERE id = :c"), {"c": case_id})


# --------------------------------------------------------------------------- the eleven

Tamper = Callable[[Engine, Case], None]


def edited_event_rechained(engine: Engine, case: Case) -> None:
    """1. An event edited, then the case's chain and head recomputed."""
    dba_sql(
        engine,
        "UPDATE case_events SET note = :n WHERE case_id = :c AND seq = 3",
        n="已核实（改写）",
        c=case.id,
    )
    _rechain(engine, case.id, from_seq=3)


def deleted_event_renumbered(engine: Engine, case: Case) -> None:
    """2. An event deleted, the later ones renumbered, chain and head recomputed."""
    rows = _rows(engine, case.id)
    dba_sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = 3", c=case.id)
    for row in rows[3:]:
        dba_sql(engine, "UPDATE case_events SET seq = seq - 1 WHERE id = :i", i=row["id"])
    dba_sql(engine, "UPDATE case_events SET from_status = :s WHERE case_id = :c AND seq = 3",
            s=rows[1]["to_status"], c=case.id)  # fmt: skip
    _rechain(engine, case.id, from_seq=3)


def last_event_deleted_head_moved_back(engine: Engine, case: Case) -> None:
    """3. The last event (the close) deleted and the head moved back to the one before."""
    rows = _rows(engine, case.id)
    dba_sql(engine, "DELETE FROM case_events WHERE id = :i", i=rows[-1]["id"])
    dba_sql(
        engine,
        "UPDATE cases SET event_count = :n, last_event_hash = :h WHERE id = :c",
        n=len(rows) - 1,
        h=rows[-2]["hash"],
        c=case.id,
    )


def status_edited(engine: Engine, case: Case) -> None:
    """5. ``cases.status`` edited without an event."""
    dba_sql(engine, "UPDATE cases SET status = 'closed' WHERE id = :c", c=case.id)


def description_edited(engine: Engine, case: Case) -> None:
    """6. ``cases.description`` edited without an event."""
    dba_sql(engine, "UPDATE cases SET description = :d WHERE id = :c", d="无问题", c=case.id)


def phone_edited(engine: Engine, case: Case) -> None:
    """7. ``cases.reporter_phone`` edited without an event."""
    dba_sql(
        engine, "UPDATE cases SET reporter_phone = :p WHERE id = :c", p="13000000000", c=case.id
    )


def _forge_close(engine: Engine, case: Case, key_id: str | None) -> None:
    rows = _rows(engine, case.id)
    last = rows[-1]
    seq = len(rows) + 1
    at = last["occurred_at"]
    fields: dict[str, Any] = {
        "case_id": case.id,
        "seq": seq,
        "action": "close",
        "from_status": last["to_status"],
        "to_status": "closed",
        "actor_id": last["actor_id"],
        "actor_role": "shift_lead",
        "occurred_at": at,
        "note": "",
        "payload": "{}",
    }
    digest = event_digest(
        last["hash"], **fields, key_id=key_id, case_digest=last["case_digest"], keys=ATTACKER
    )
    with engine.begin() as conn:
        as_dba(conn)
        conn.execute(
            EVENTS.insert(),
            {
                **fields,
                "prev_hash": last["hash"],
                "hash": digest,
                "key_id": key_id,
                "case_digest": last["case_digest"],
            },
        )
        conn.execute(
            text(
                "UPDATE cases SET status = 'closed', event_count = :n, last_event_hash = :h"
                " WHERE id = :c"
            ),
            {"n": seq, "h": digest, "c": case.id},
        )


def forged_close_signed(engine: Engine, case: Case) -> None:
    """8. A 'close' event appended, signed with a key that is not the audit key."""
    _forge_close(engine, case, ATTACKER.current)


def forged_close_unkeyed(engine: Engine, case: Case) -> None:
    """8'. A 'close' event appended as a plain sha256 link, as the chain was before."""
    _forge_close(engine, case, None)


def edited_event(engine: Engine, case: Case) -> None:
    """9. An event edited (no hash recomputed)."""
    dba_sql(engine, "UPDATE case_events SET note = 'x' WHERE case_id = :c AND seq = 3", c=case.id)


def deleted_middle_event(engine: Engine, case: Case) -> None:
    """10. A middle event deleted (no renumbering)."""
    dba_sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = 3", c=case.id)


def deleted_last_event(engine: Engine, case: Case) -> None:
    """11. The last event deleted, the head left as it was."""
    dba_sql(
        engine,
        "DELETE FROM case_events WHERE case_id = :c AND seq = :n",
        c=case.id,
        n=case.event_count,
    )


def event_rehashed_alone(engine: Engine, case: Case) -> None:
    """12. An event edited and its own hash recomputed (the next link not)."""
    dba_sql(engine, "UPDATE case_events SET actor_role = 'leader' WHERE case_id = :c AND seq = 2",
            c=case.id)  # fmt: skip
    row = _rows(engine, case.id)[1]
    digest = event_digest(
        row["prev_hash"],
        case_id=case.id,
        seq=2,
        action=row["action"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        occurred_at=row["occurred_at"],
        note=row["note"],
        payload=row["payload"],
    )
    dba_sql(engine, "UPDATE case_events SET hash = :h WHERE id = :i", h=digest, i=row["id"])


def deleted_first_event(engine: Engine, case: Case) -> None:
    """13. The first event (the report) deleted."""
    dba_sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = 1", c=case.id)


@pytest.mark.parametrize(
    ("tamper", "seq", "problem"),
    [
        (edited_event_rechained, 3, "row was changed after it was written"),
        (deleted_event_renumbered, 3, "row was changed after it was written"),
        (last_event_deleted_head_moved_back, 12, "but its latest event left it"),
        (status_edited, 0, "status is 'closed' but its latest event left it"),
        (description_edited, 0, "differs from the state its latest event sealed"),
        (phone_edited, 0, "differs from the state its latest event sealed"),
        (forged_close_signed, 0, "row was changed after it was written"),
        (forged_close_unkeyed, 0, "not signed with an audit key but follows signed ones"),
        (edited_event, 3, "row was changed after it was written"),
        (deleted_middle_event, 3, "event #3 is missing"),
        (deleted_last_event, 0, "intact ones remain"),
        (event_rehashed_alone, 2, "row was changed after it was written"),
        (deleted_first_event, 1, "event #1 is missing"),
    ],
    ids=lambda v: v.__name__ if callable(v) else None,
)
def test_tampering_is_caught(
    world: World, engine: Engine, tamper: Tamper, seq: int, problem: str
) -> None:
    """The tampering is done to the middle case (returned, not closed) unless it needs a
    closed one; ``seq`` 0: the last event's number (before the tampering, or after)."""
    first, second, _ = _cases(world)
    assert _verify(world.session_factory).ok
    case = first if tamper is last_event_deleted_head_moved_back else second
    before = fresh(world.session_factory, case.id).event_count
    tamper(engine, case)
    report = _verify(world.session_factory)
    assert not report.ok, f"verify missed {tamper.__name__}"
    broken = report.first_break
    assert broken is not None
    assert (broken.case_id, broken.case_code) == (case.id, case.code)
    assert problem in broken.problem, broken
    if seq:
        assert broken.seq == seq
    else:
        assert broken.seq in (before - 1, before, before + 1), broken
    # Accepting the links from before the audit key does not accept any of these.
    assert not _verify(world.session_factory, accept_unkeyed=True).ok


def test_a_deleted_case_is_caught_by_the_checkpoint(world: World, engine: Engine) -> None:
    """4. A whole case deleted (with its events, photos, keys): the database alone looks
    whole; the checkpoint taken before remembers it."""
    _, second, _ = _cases(world)
    point = _checkpoint(world.session_factory)
    _delete_case(engine, second.id)
    assert _verify(world.session_factory).ok  # what the database alone can not show
    report = _verify(world.session_factory, checkpoint=point)
    broken = report.first_break
    assert broken is not None, "verify --checkpoint missed a deleted case"
    assert (broken.case_id, broken.case_code, broken.seq) == (second.id, second.code, 0)
    assert "is gone (deleted)" in broken.problem
    assert str(broken).startswith(f"case {second.code} (id {second.id}): the case (with ")


def test_a_rewound_case_is_caught_by_the_checkpoint(world: World, engine: Engine) -> None:
    """3'. The last event deleted, the head moved back and the case row put back as it
    was before that event: only a checkpoint taken since shows it."""
    world.clock.set(local(2026, 11, 20, 9, 0))
    case = world.case_in(CaseStatus.AWAITING_CHECK)
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    with engine.connect() as conn:
        before = dict(
            conn.execute(text("SELECT * FROM cases WHERE id = :c"), {"c": case.id}).one()._mapping
        )
    world.act(case, Action.CHECK, "collector", passed=True, note="已修复")
    point = _checkpoint(world.session_factory)
    n = fresh(world.session_factory, case.id).event_count
    dba_sql(engine, "DELETE FROM case_events WHERE case_id = :c AND seq = :n", c=case.id, n=n)
    columns = [c for c in before if c != "id"]
    # PostgreSQL reads a JSON column back as a dict; a DBA's UPDATE writes it as text.
    restored = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in before.items()}
    dba_sql(
        engine,
        f"UPDATE cases SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE id = :id",
        **restored,
    )
    assert _verify(world.session_factory).ok  # a consistent earlier state
    broken = _verify(world.session_factory, checkpoint=point).first_break
    assert broken is not None, "verify --checkpoint missed a rewound case"
    assert (broken.case_id, broken.seq) == (case.id, n)
    assert "the chain now ends at" in broken.problem


def test_renumbering_is_caught_by_the_checkpoint_too(world: World, engine: Engine) -> None:
    _, second, _ = _cases(world)
    point = _checkpoint(world.session_factory)
    deleted_event_renumbered(engine, second)
    broken = _verify(world.session_factory, checkpoint=point).first_break
    assert broken is not None
    assert broken.case_id == second.id


def test_a_checkpoint_can_not_be_edited(world: World) -> None:
    _, second, _ = _cases(world)
    point = _checkpoint(world.session_factory)
    data = json.loads(point.dumps(audit_keys()))
    data["heads"] = [h for h in data["heads"] if h[0] != second.id]
    data["cases"] -= 1
    with pytest.raises(CheckpointError, match="signature is wrong"):
        Checkpoint.loads(json.dumps(data), audit_keys())
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        Checkpoint.loads("{", audit_keys())


# --------------------------------------------------------------------------- the database


def test_the_event_table_refuses_update_and_delete(world: World, engine: Engine) -> None:
    """The application's own connection can only append to ``case_events``."""
    _, second, _ = _cases(world)
    statements = [
        "UPDATE case_events SET note = 'x' WHERE case_id = :c",
        "DELETE FROM case_events WHERE case_id = :c",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE case_events CASCADE")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement), {"c": second.id})
    assert _verify(world.session_factory).ok


# --------------------------------------------------------------------------- keys


def test_the_key_rotates(
    world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = "old:the-old-audit-key-0123456789"
    monkeypatch.setenv(auditkey.ENV, old)
    forget_keys()
    world.clock.set(local(2026, 11, 20, 9, 0))
    case = world.case_in(CaseStatus.HANDLING)
    monkeypatch.setenv(auditkey.ENV, f"new:the-new-audit-key-0123456789,{old}")
    forget_keys()
    world.act(case, Action.RETURN, "handler", reason="非本单位")
    keys = [r["key_id"] for r in _rows(engine, case.id)]
    assert keys[0] == "old"
    assert keys[-1] == "new"
    assert _verify(world.session_factory).ok
    point = _checkpoint(world.session_factory)
    assert point.key_id == "new"
    # Drop the old key too early: its events no longer verify.
    monkeypatch.setenv(auditkey.ENV, "new:the-new-audit-key-0123456789")
    forget_keys()
    broken = _verify(world.session_factory).first_break
    assert broken is not None
    assert (broken.case_id, broken.seq) == (case.id, 1)
    assert broken.problem == "signed with audit key 'old', which is not configured"


def test_unkeyed_links_from_before_verify_only_when_accepted(world: World, engine: Engine) -> None:
    """A chain written before the audit key (plain sha256, no seal) is reported unless
    accepted; a checkpoint taken after the upgrade shows a chain rewritten that way."""
    _, second, _ = _cases(world)
    point = _checkpoint(world.session_factory)
    dba_sql(engine, "UPDATE case_events SET key_id = NULL, case_digest = NULL WHERE case_id = :c",
            c=second.id)  # fmt: skip
    _rechain(engine, second.id)
    report = _verify(world.session_factory)
    assert report.first_break is not None
    assert (report.first_break.case_id, report.first_break.seq) == (second.id, 1)
    assert "--accept-unkeyed" in report.first_break.problem
    accepted = _verify(world.session_factory, accept_unkeyed=True)
    assert accepted.ok
    assert accepted.unkeyed_events == second.event_count
    # A checkpoint taken before shows the chain was rewritten.
    assert not _verify(world.session_factory, accept_unkeyed=True, checkpoint=point).ok


def test_the_key_file_is_made_once_and_kept_private(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(auditkey.ENV)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    forget_keys()
    with pytest.raises(auditkey.AuditKeyError, match="no audit key"):
        audit_keys(create=False)
    keys = audit_keys()
    path = tmp_path / "var" / "audit.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    forget_keys()
    assert audit_keys().secrets == keys.secrets
    assert len(keys.secrets[keys.current]) >= 32
    assert not auditkey.create_key_file(path)


@pytest.mark.parametrize(
    "spec",
    ["", "nocolon", "a:short", "a:0123456789abcdef,a:0123456789abcdef", "bad id:0123456789abcdef"],
)
def test_a_malformed_key_is_refused(spec: str) -> None:
    with pytest.raises(auditkey.AuditKeyError):
        parse_keys(spec)


# --------------------------------------------------------------------------- the commands


def test_duban_audit_checkpoint_and_verify(
    world: World, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    _, second, _ = _cases(world)
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url}
    file = tmp_path / "outside" / "checkpoint.json"
    made = runner.invoke(app, ["audit", "checkpoint", str(file)], env=env)
    assert made.exit_code == 0, made.output
    assert f"checkpoint written: {file} (3 cases, " in made.output
    assert json.loads(file.read_text())["cases"] == 3

    ok = runner.invoke(app, ["audit", "verify", "--checkpoint", str(file)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit ok: 3 cases" in ok.output
    assert "nothing lost since the checkpoint" in ok.output

    _delete_case(engine, second.id)
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0
    bad = runner.invoke(app, ["audit", "verify", "--checkpoint", str(file)], env=env)
    assert bad.exit_code == 1, bad.output
    assert f"case {second.code} (id {second.id}): the case (with" in bad.output

    file.write_text(file.read_text().replace('"cases":3', '"cases":2'))
    forged = runner.invoke(app, ["audit", "verify", "--checkpoint", str(file)], env=env)
    assert forged.exit_code == 1
    assert "signature is wrong" in forged.output

    description_edited(engine, fresh(world.session_factory, _cases_first_id(engine)))
    refused = runner.invoke(app, ["audit", "checkpoint", str(tmp_path / "again.json")], env=env)
    assert refused.exit_code == 1
    assert "no checkpoint written" in refused.output
    assert not (tmp_path / "again.json").exists()


def _cases_first_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT min(id) FROM cases")).scalar_one())


def test_duban_audit_verify_accepts_unkeyed_only_when_asked(
    world: World, engine: Engine, db_url: str
) -> None:
    _, second, _ = _cases(world)
    dba_sql(engine, "UPDATE case_events SET key_id = NULL, case_digest = NULL WHERE case_id = :c",
            c=second.id)  # fmt: skip
    _rechain(engine, second.id)
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url}
    bad = runner.invoke(app, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "--accept-unkeyed" in bad.output
    ok = runner.invoke(app, ["audit", "verify", "--accept-unkeyed"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "of them unkeyed (accepted)" in ok.output


def test_the_app_refuses_to_start_with_a_malformed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.app import create_app

    monkeypatch.setenv(auditkey.ENV, "k1:short")
    forget_keys()
    with pytest.raises(auditkey.AuditKeyError, match="shorter than 16"):
        create_app()


def test_a_chain_from_before_the_key_goes_on_signed(world: World, engine: Engine) -> None:
    """A database upgraded from before: a case's old links are plain sha256; its next
    event is signed, links to them and seals the case row."""
    world.clock.set(local(2026, 11, 20, 9, 0))
    case = world.case_in(CaseStatus.HANDLING)
    dba_sql(engine, "UPDATE case_events SET key_id = NULL, case_digest = NULL WHERE case_id = :c",
            c=case.id)  # fmt: skip
    _rechain(engine, case.id)  # as the old code chained them
    old = len(_rows(engine, case.id))
    world.session.expire_all()  # the rewritten head, not the one this session cached
    world.act(case, Action.RETURN, "handler", reason="非本单位")
    rows = _rows(engine, case.id)
    assert [r["key_id"] is None for r in rows] == [True] * old + [False]
    assert rows[-1]["prev_hash"] == rows[-2]["hash"]
    assert _verify(world.session_factory, accept_unkeyed=True).ok
    description_edited(engine, case)
    broken = _verify(world.session_factory, accept_unkeyed=True).first_break
    assert broken is not None
    assert (broken.case_id, broken.seq) == (case.id, old + 1)
