"""Revisits (回头看): due some days after a case is closed or a ledger item signed off
(per category, in local dates), created once by the sweep — even by two at once —
recorded by a collector or a supervisor; a failed one reopens the case as a recurrence
(回潮) or sets the item back to 推进中."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date

import pytest
from sqlalchemy import select

from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from duban.evaluation.definitions import definitions
from duban.evaluation.indicators import compute
from duban.evaluation.scoring import Value
from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.ledgers.models import LedgerEvent, LedgerNode
from duban.ledgers.rectify import EvidenceFile, approve_signoff, request_signoff
from duban.supervision.followup import RevisitState, parse_revisit_policy
from duban.supervision.models import Revisit
from duban.supervision.records import REVISIT, records_of, verify_records
from duban.supervision.revisits import (
    assign_revisit,
    count_recurrences,
    create_due_revisits,
    list_revisits,
    record_revisit,
)
from tests.factories.cases import events
from tests.factories.evidence import jpeg
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.fakes import local


def test_the_policy_gives_days_per_category_longest_code_first() -> None:
    policy = parse_revisit_policy({"default_days": 30, "days": {"E01": 15, "E0102": 7}})
    assert policy.days_for("E0102") == 7
    assert policy.days_for("E0101") == 15
    assert policy.days_for("C0101") == 30
    assert policy.days_for(None) == 30
    assert (policy.shortest, policy.longest) == (7, 30)


def _closed(world: World) -> Case:
    return world.case_in(CaseStatus.CLOSED)


def test_a_revisit_falls_due_exactly_n_local_days_after_closing(world: World) -> None:
    # Closed at 00:30 Shanghai on Monday 23 November (still the 22nd in UTC): the
    # revisit of 暴露垃圾 (E0102: 7 days) is due on the local 30th, not the 29th.
    world.clock.set(local(2026, 11, 23, 0, 30))
    case = _closed(world)
    assert case.closed_at is not None
    assert case.closed_at.astimezone(UTC).day == 22
    world.clock.set(local(2026, 11, 29, 23, 59))
    assert sweep_overdue(world.session, clock=world.clock).revisits == []
    world.clock.set(local(2026, 11, 30, 0, 0))
    report = sweep_overdue(world.session, clock=world.clock)
    assert report.revisits == [f"case:{case.code}"]
    assert "1 revisit task(s) created" in str(report)
    assert create_due_revisits(world.session, clock=world.clock) == []
    with world.session_factory() as other:
        revisit = other.scalars(select(Revisit)).one()
        assert revisit.due_on == date(2026, 11, 30)
        assert revisit.state is RevisitState.DUE
        assert revisit.case_id == case.id
        assert revisit.category_code == "E0102"
        # The collector whose beat covers the case has the check task.
        assert revisit.assignee_id == world.user("collector").id
        assert [r.action for r in records_of(other, REVISIT, revisit.id)] == ["create"]


def test_two_sweeps_at_once_create_one_revisit(world: World) -> None:
    case = _closed(world)
    world.clock.set(local(2026, 12, 5, 9, 0))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    made: list[list[str]] = []

    def run() -> None:
        with world.session_factory() as own:
            try:
                barrier.wait(timeout=30)
                made.append(create_due_revisits(own, clock=world.clock))
            except BaseException as err:
                errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(made) == [[], [f"case:{case.code}"]]
    with world.session_factory() as other:
        assert len(other.scalars(select(Revisit)).all()) == 1


def _due(world: World) -> tuple[Case, Revisit]:
    case = _closed(world)
    world.clock.set(local(2026, 12, 1, 9, 0))
    create_due_revisits(world.session, clock=world.clock)
    revisit = world.session.scalars(select(Revisit).where(Revisit.case_id == case.id)).one()
    return case, revisit


def test_a_failed_revisit_reopens_the_case_as_a_recurrence(world: World) -> None:
    case, revisit = _due(world)
    with pytest.raises(InvalidInput) as err:
        record_revisit(
            world.session,
            actor=world.actor("collector"),
            clock=world.clock,
            revisit_id=revisit.id,
            passed=False,
        )
    assert err.value.field == "reason_code"
    with pytest.raises(NotFound):  # not collector2's task
        record_revisit(
            world.session,
            actor=world.actor("collector2"),
            clock=world.clock,
            revisit_id=revisit.id,
            passed=True,
        )
    with pytest.raises(PermissionDenied):
        record_revisit(
            world.session,
            actor=world.actor("handler"),
            clock=world.clock,
            revisit_id=revisit.id,
            passed=True,
        )
    photo = world.photo(by="collector")
    record_revisit(
        world.session,
        actor=world.actor("collector"),
        clock=world.clock,
        revisit_id=revisit.id,
        passed=False,
        reason_code="recurred",
        reason="垃圾再次堆放",
        photo_ids=[photo],
    )
    assert revisit.state is RevisitState.FAILED
    assert revisit.photo_ids == [photo]
    with world.session_factory() as other:
        fresh = other.get(Case, case.id)
        assert fresh is not None
        assert fresh.status == CaseStatus.DISPATCHED
        assert fresh.closed_at is None
        fresh_revisit = other.get(Revisit, revisit.id)
        assert fresh_revisit is not None
        assert [r.action for r in records_of(other, REVISIT, revisit.id)] == [
            "create",
            "recurrence",
        ]
        assert verify_records(other, REVISIT, fresh_revisit) == []
    reopen = events(world.session_factory, case.id)[-1]
    assert reopen.action == "reopen"
    assert reopen.actor_role == "system"
    payload = reopen.payload if isinstance(reopen.payload, dict) else json.loads(reopen.payload)
    assert payload["recurrence"] is True
    assert payload["revisit_id"] == revisit.id
    assert "回潮" in reopen.note
    since, until = local(2026, 12, 1, 0, 0), local(2026, 12, 2, 0, 0)
    assert count_recurrences(world.session, since=since, until=until) == 1
    units = compute(world.session, definitions(), ["unit"], since, until)["unit"]
    assert units[str(world.unit.id)]["recurrence_count"] == Value(1.0, 1, None)
    assert count_recurrences(world.session, since=since, until=until, unit_id=world.unit2.id) == 0
    with pytest.raises(Conflict):
        record_revisit(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            revisit_id=revisit.id,
            passed=True,
        )


def test_a_passed_revisit_is_done_and_a_supervisor_assigns_them(world: World) -> None:
    case, revisit = _due(world)
    assign_revisit(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        revisit_id=revisit.id,
        username="collector2",
    )
    assert [r.id for r in list_revisits(world.session, actor=world.actor("collector"))] == []
    assert [r.id for r in list_revisits(world.session, actor=world.actor("collector2"))] == [
        revisit.id
    ]
    assert len(list_revisits(world.session, actor=world.actor("leader"))) == 1
    with pytest.raises(PermissionDenied):
        assign_revisit(
            world.session,
            actor=world.actor("collector"),
            clock=world.clock,
            revisit_id=revisit.id,
            username="collector",
        )
    record_revisit(
        world.session,
        actor=world.actor("collector2"),
        clock=world.clock,
        revisit_id=revisit.id,
        passed=True,
    )
    assert revisit.state is RevisitState.PASSED
    assert world.session.get(Case, case.id).status == CaseStatus.CLOSED  # type: ignore[union-attr]
    assert (
        count_recurrences(
            world.session, since=local(2026, 1, 1, 0, 0), until=local(2027, 1, 1, 0, 0)
        )
        == 0
    )


def _sign_off_item(world: World) -> LedgerNode:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    item = world.session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger.id, LedgerNode.kind == "item")
        .order_by(LedgerNode.id)
    ).first()
    assert item is not None
    measures = world.session.scalars(
        select(LedgerNode).where(LedgerNode.parent_id == item.id).order_by(LedgerNode.id)
    ).all()
    for measure in measures:
        signoff = request_signoff(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            store=world.store,  # type: ignore[arg-type]
            node_id=measure.id,
            files=[EvidenceFile("现场.jpg", jpeg())],
        )
        approve_signoff(
            world.session, actor=world.actor("supervisor"), clock=world.clock, signoff_id=signoff.id
        )
    world.session.refresh(item)
    assert item.status == "已整改"
    return item


def test_a_signed_off_ledger_item_is_revisited_and_a_failure_sets_it_back(world: World) -> None:
    item = _sign_off_item(world)
    world.clock.set(local(2026, 12, 22, 23, 59))  # 29 days after 23 November
    assert create_due_revisits(world.session, clock=world.clock) == []
    world.clock.set(local(2026, 12, 23, 0, 0))
    assert create_due_revisits(world.session, clock=world.clock) == [f"ledger_item:{item.id}"]
    revisit = world.session.scalars(select(Revisit)).one()
    assert revisit.ledger_item_id == item.id
    assert revisit.assignee_id is None  # no place: the supervisors take it
    record_revisit(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        revisit_id=revisit.id,
        passed=False,
        reason_code="not_kept",
        reason="制度未执行",
    )
    with world.session_factory() as other:
        fresh = other.get(LedgerNode, item.id)
        assert fresh is not None
        assert fresh.status == "推进中"
        measures = other.scalars(select(LedgerNode).where(LedgerNode.parent_id == item.id)).all()
        assert {m.status for m in measures} == {"推进中"}
        last = other.scalars(
            select(LedgerEvent)
            .where(LedgerEvent.node_id == item.id)
            .order_by(LedgerEvent.id.desc())
        ).first()
        assert last is not None
        assert last.payload["new"] == "推进中"
        assert "制度未执行" in last.payload["reason"]
        assert last.payload["recurrence"] is True
    # Signed off again later: a new revisit cycle, never a second one for the old sign-off.
    assert create_due_revisits(world.session, clock=world.clock) == []
