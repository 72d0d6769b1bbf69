"""Random action sequences by random people keep the closed loop consistent (hypothesis).

Each example reports two new cases (the main one from a random source, and a hotline case
that is mostly there to be merged into) and takes random actions on them: mostly the move
that takes the case further, else any move the workflow table allows, else anything by
anyone, with random (often malformed) arguments, while the clock moves on and the
deadline sweep runs now and then. The World (people, units) is built once per test; each
example makes new cases. After every step:

* the case's status is its last event's ``to_status``; seqs are 1..n; ``event_count``
  equals the rows; the chain links and hashes are intact;
* ``rework_count`` equals the failed checks in the history;
* a successful action added exactly one event (from the old status to the new one); a
  refused action changed nothing that was committed, not even the version, and left
  nothing pending in the session for the next action to commit;
* who holds the case agrees with the status (a unit while it is with a unit or done).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.actions import ActionInput, perform_action
from duban.cases.audit import GENESIS, event_digest, verify_chain
from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import WITH_UNIT, Action, CaseStatus, Source, allowed_actions
from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import DubanError
from tests.factories.world import World
from tests.fakes import FixedClock

PEOPLE = [
    "citizen",
    "collector",
    "collector2",
    "operator",
    "shift_lead",
    "dispatcher",
    "handler",
    "handler2",
    "supervisor",
    "leader",
    "admin",
]
ACTIONS = [a for a in Action if a != Action.REPORT]
INPUT_FIELDS = {f.name for f in dataclasses.fields(ActionInput)}
#: Where a case is held by a unit: while the unit works on it, and once it is done.
UNIT_HELD = WITH_UNIT | {CaseStatus.CHECKED, CaseStatus.CLOSED}

#: The move that takes a case one step further along the loop (a task is assigned first).
FORWARD = {
    CaseStatus.REPORTED: Action.VERIFY,
    CaseStatus.VERIFIED: Action.FILE,
    CaseStatus.FILED: Action.DISPATCH,
    CaseStatus.RETURNED: Action.DISPATCH,
    CaseStatus.DISPATCHED: Action.ACCEPT,
    CaseStatus.HANDLING: Action.FEEDBACK,
    CaseStatus.PARKED: Action.RESUME,
    CaseStatus.AWAITING_CHECK: Action.CHECK,
    CaseStatus.CHECKED: Action.CLOSE,
}

#: Arguments that a legal move usually needs (so that random walks get deep).
GOOD_PARAMS = st.fixed_dictionaries(
    {
        "note": st.just("说明"),
        "reason": st.just("原因"),
        "unit": st.sampled_from(["SZGC", "SZGC", "HWC"]),
        "helper_units": st.sampled_from([(), (), ("HWC",)]),
        "passed": st.booleans(),
        "until": st.just("later"),
        "amount": st.just(1.0),
        "photo": st.just(True),
        "collector": st.just(None),  # the collector whose beat covers the case
        "duplicate_of": st.just("other"),
        "rating": st.just("satisfied"),
        "overdue": st.just(False),
    }
)
#: Anything at all, well formed or not.
PARAMS = st.fixed_dictionaries(
    {
        "note": st.sampled_from(["", "说明"]),
        "reason": st.sampled_from(["", "原因", "原因"]),
        "unit": st.sampled_from([None, "SZGC", "SZGC", "HWC", "NOPE"]),
        "helper_units": st.sampled_from([(), (), ("HWC",), ("SZGC",)]),
        "passed": st.sampled_from([None, True, False]),
        "until": st.sampled_from([None, "later", "earlier"]),
        "amount": st.sampled_from([None, 1.0]),
        "photo": st.booleans(),
        "collector": st.sampled_from([None, None, "collector", "collector2", "operator"]),
        "duplicate_of": st.sampled_from([None, "other", "self", "bogus"]),
        "rating": st.sampled_from([None, "satisfied", "nonsense"]),
        "overdue": st.sampled_from([False, False, False, True]),
    }
)


def _input(
    world: World,
    case: dict[str, Any],
    others: list[Case],
    raw: dict[str, Any],
    *,
    takes_photos: bool,
) -> ActionInput:
    now = world.clock.now()
    until = {
        None: None,
        "later": (case["due_at"] or now) + timedelta(days=1),
        "earlier": now - timedelta(days=1),
    }[raw["until"]]
    duplicate_of = {
        None: None,
        "other": others[0].code,
        "self": case["code"],
        "bogus": "19990101000001",
    }[raw["duplicate_of"]]
    values: dict[str, Any] = {
        "note": raw["note"],
        "reason": raw["reason"],
        "unit": raw["unit"],
        "helper_units": raw["helper_units"],
        "passed": raw["passed"],
        "until": until,
        "amount": raw["amount"],
        # A fresh colour each (the world's photos never repeat, also across examples):
        # the photo checks find only deliberate reuse.
        "photo_ids": [world.photo()] if raw["photo"] and takes_photos else [],
        "collector": raw["collector"],
        "duplicate_of": duplicate_of,
        "rating": raw["rating"],
        "extra": {"overdue": True} if raw["overdue"] else {},
    }
    return ActionInput(**{k: v for k, v in values.items() if k in INPUT_FIELDS})


@dataclasses.dataclass
class _Seen:
    """One case as committed: its row, its events and the database's event total."""

    case: dict[str, Any]
    rows: list[CaseEvent]
    total: int


def _read(factory: sessionmaker[Session], case_id: int) -> _Seen:
    """The committed state, read in one new session (nothing cached)."""
    with factory() as other:
        case = other.get(Case, case_id)
        assert case is not None
        row = {attr.key: getattr(case, attr.key) for attr in sa_inspect(Case).column_attrs}
        rows = list(
            other.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
        total = int(other.scalar(select(func.count()).select_from(CaseEvent)) or 0)
        other.expunge_all()
    return _Seen(row, rows, total)


def _check(seen: _Seen) -> None:
    """The invariants of one case."""
    case, rows = seen.case, seen.rows
    assert case["event_count"] == len(rows) > 0
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1].to_status == case["status"].value
    assert rows[0].action == "report"
    for before, after in zip([None, *rows[:-1]], rows, strict=True):
        assert after.from_status == (before.to_status if before else None)
    prev = GENESIS
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == event_digest(
            prev,
            case_id=row.case_id,
            seq=row.seq,
            action=row.action,
            from_status=row.from_status,
            to_status=row.to_status,
            actor_id=row.actor_id,
            actor_role=row.actor_role,
            occurred_at=row.occurred_at,
            note=row.note,
            payload=row.payload,
            key_id=row.key_id,
            case_digest=row.case_digest,
        )
        prev = row.hash
    assert case["last_event_hash"] == prev
    failed_checks = [
        r for r in rows if r.action == "check" and json.loads(r.payload)["passed"] is False
    ]
    assert case["rework_count"] == len(failed_checks)
    status = case["status"]
    assert (case["unit_id"] is not None) == (status in UNIT_HELD), status
    assert (case["task"] is None) == (case["assignee_id"] is None)
    if status in (CaseStatus.DISPATCHED, CaseStatus.HANDLING):
        assert case["due_at"] is not None
        assert case["clock_started_at"] is not None
    if status == CaseStatus.PARKED:
        assert case["parked_at"] is not None
    if status == CaseStatus.MERGED:
        assert case["duplicate_of_id"] not in (None, case["id"])


@pytest.mark.slow
def test_random_action_sequences_keep_the_invariants(world: World, clock: FixedClock) -> None:
    factory = world.session_factory
    start = clock.now()
    actors = {name: world.actor(name) for name in PEOPLE}  # read once: rollbacks expire rows
    tally = {"ok": 0, "refused": 0}
    reached: set[CaseStatus] = set()

    @settings(
        max_examples=40,
        # Each example is a whole case life: tens of transactions, not a pure function, and
        # on a loaded 2-core CI machine one took 6.4 s; time is not what this test checks.
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        clock.set(start)
        source = data.draw(st.sampled_from([Source.HOTLINE, Source.CITIZEN, Source.PATROL]))
        reporter = {Source.HOTLINE: "operator", Source.CITIZEN: "citizen"}.get(source, "collector")
        main = world.report(by=reporter, source=source)
        cases = [main, world.report()]  # the second is mostly there to be merged into
        for _ in range(data.draw(st.integers(10, 40), label="steps")):
            clock.advance(minutes=data.draw(st.sampled_from([0, 5, 60, 240, 1440])))
            if data.draw(st.integers(0, 9), label="sweep?") == 0:
                counts = {c.id: _read(factory, c.id).case["event_count"] for c in cases}
                sweep_overdue(world.session, clock=clock)
                for c in cases:
                    seen = _read(factory, c.id)
                    assert seen.case["event_count"] - counts[c.id] in (0, 1)
                    _check(seen)
                continue
            case = data.draw(st.sampled_from([main, main, main, main, cases[1]]), label="case")
            others = [c for c in cases if c.id != case.id]
            before = _read(factory, case.id)
            status = before.case["status"]
            legal = [
                (action, name)
                for name in PEOPLE
                for action in allowed_actions(status, actors[name].role)
            ]
            forward = FORWARD.get(status)
            if forward in (Action.VERIFY, Action.CHECK) and before.case["assignee_id"] is None:
                forward = Action.ASSIGN
            mode = data.draw(st.sampled_from(["forward", "forward", "forward", "legal", "any"]))
            movers = [name for action, name in legal if action == forward]
            if mode == "forward" and forward is not None and movers:
                action = forward
                name = data.draw(st.sampled_from(movers), label="who")
                raw = data.draw(st.one_of(GOOD_PARAMS, GOOD_PARAMS, GOOD_PARAMS, PARAMS))
            elif mode != "any" and legal:
                action, name = data.draw(st.sampled_from(legal), label="move")
                raw = data.draw(st.one_of(GOOD_PARAMS, PARAMS))
            else:
                action = data.draw(st.sampled_from(ACTIONS), label="action")
                name = data.draw(st.sampled_from(PEOPLE), label="who")
                raw = data.draw(PARAMS)
            takes_photos = action in (Action.FEEDBACK, Action.VERIFY, Action.CHECK)
            params = _input(world, before.case, others, raw, takes_photos=takes_photos)
            try:
                perform_action(
                    world.session,
                    case_id=case.id,
                    action=action,
                    actor=actors[name],
                    clock=clock,
                    params=params,
                )
            except DubanError:
                tally["refused"] += 1
                # Nothing half-done is left in the session for the next action to commit.
                assert not world.session.new
                assert not world.session.dirty
                assert not world.session.deleted
                assert not world.session.in_transaction()
                after = _read(factory, case.id)
                assert after.case == before.case, (action, name)
                assert after.total == before.total
            else:
                tally["ok"] += 1
                after = _read(factory, case.id)
                assert after.case["event_count"] == before.case["event_count"] + 1
                assert after.case["version"] > before.case["version"]
                assert after.total == before.total + 1
                last = after.rows[-1]
                assert (last.action, last.from_status, last.to_status) == (
                    action.value,
                    status.value,
                    after.case["status"].value,
                )
                assert last.actor_id == actors[name].user_id
                reached.add(after.case["status"])
            _check(after)
        assert verify_chain(world.session).ok

    run()
    # The walk went somewhere: actions succeeded and were refused, and cases got far.
    assert tally["ok"] > 100
    assert tally["refused"] > 20
    assert {CaseStatus.DISPATCHED, CaseStatus.HANDLING, CaseStatus.AWAITING_CHECK} <= reached
