"""Joint handling (会商 / 联席会议): a session on cases, its minutes and decisions; each
decision a task for a unit, answered and reviewed like an order's problem; decisions past
their deadline escalated by the sweep, once per step."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select

from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.supervision.joint import (
    DecisionInput,
    add_decision,
    answer_decision,
    decisions_of_case,
    escalate_decisions,
    get_session,
    list_sessions,
    review_decision,
    update_minutes,
    visible_decisions,
)
from duban.supervision.models import DecisionEscalation, JointDecision, JointSession
from duban.supervision.records import SESSION, records_of, verify_records
from duban.supervision.replies import ReplyInput
from duban.supervision.rules import ProblemStatus
from tests.factories.cases import dispatched_case
from tests.factories.supervision import joint
from tests.factories.world import World
from tests.fakes import local

TWO = (
    DecisionInput(text="市政工程处牵头清理占道摊点", unit="SZGC", due_work_days=3),
    DecisionInput(text="环卫处负责清运垃圾", unit="HWC", due_on=date(2026, 11, 30)),
)


def _answer(world: World, meeting: JointSession, decision: JointDecision, by: str = "handler"):
    return answer_decision(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        session_id=meeting.id,
        decision_id=decision.id,
        reply=ReplyInput(measures="已组织联合执法，摊点全部清理", done=True),
    )


def _review(world: World, meeting: JointSession, decision: JointDecision, **kw: object):
    return review_decision(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        session_id=meeting.id,
        decision_id=decision.id,
        **kw,  # type: ignore[arg-type]
    )


def test_a_session_keeps_units_cases_minutes_and_decisions(world: World) -> None:
    case = dispatched_case(world)
    meeting = joint(world, [case], decisions=TWO)
    assert [u.unit.code for u in meeting.units] == ["SZGC", "HWC"]
    assert [s.case_id for s in meeting.subjects] == [case.id]
    first, second = meeting.decisions
    # Monday 2026-11-23 09:00 + 3 working days; a date is due at the end of its day.
    assert first.due_at == local(2026, 11, 26, 9, 0)
    assert second.due_at == local(2026, 12, 1, 0, 0)
    assert first.case_id == case.id  # the session's only subject
    assert first.status is ProblemStatus.OPEN
    with world.session_factory() as other:
        fresh = other.get(JointSession, meeting.id)
        assert fresh is not None
        assert [r.action for r in records_of(other, SESSION, meeting.id)] == [
            "convene",
            "decide",
            "decide",
        ]
        assert verify_records(other, SESSION, fresh) == []
    shown = decisions_of_case(world.session, actor=world.actor("leader"), case_id=case.id)
    assert [(m.id, [d.position for d in ds]) for m, ds in shown] == [(meeting.id, [1, 2])]
    mine = decisions_of_case(world.session, actor=world.actor("handler"), case_id=case.id)
    assert [[d.unit.code for d in ds] for _, ds in mine] == [["SZGC"]]
    assert decisions_of_case(world.session, actor=world.actor("collector"), case_id=case.id) == []


def test_a_decision_is_answered_sent_back_and_accepted(world: World) -> None:
    meeting = joint(world, [dispatched_case(world)], decisions=TWO)
    first, second = meeting.decisions
    with pytest.raises(NotFound):
        _answer(world, meeting, first, by="handler2")  # not HWC's decision
    with pytest.raises(PermissionDenied):
        _answer(world, meeting, first, by="supervisor")
    _answer(world, meeting, first)
    with pytest.raises(Conflict):
        _answer(world, meeting, first)
    with pytest.raises(InvalidInput):
        _review(world, meeting, first, accept=False, reason=" ")
    _review(world, meeting, first, accept=False, reason="照片不能反映整改效果")
    assert first.status is ProblemStatus.SENT_BACK
    assert first.send_back_reason == "照片不能反映整改效果"
    _answer(world, meeting, first)
    _review(world, meeting, first, accept=True)
    assert first.status is ProblemStatus.ACCEPTED
    assert first.send_back_count == 1
    assert second.status is ProblemStatus.OPEN
    with world.session_factory() as other:
        actions = [(r.action, r.item_id) for r in records_of(other, SESSION, meeting.id)][3:]
        assert actions == [
            ("answer", first.id),
            ("send_back", first.id),
            ("answer", first.id),
            ("accept", first.id),
        ]


def test_a_unit_sees_only_its_own_decisions(world: World) -> None:
    meeting = joint(world, [dispatched_case(world)], decisions=TWO)
    other = joint(world, units=["HWC"], title="环卫专题会商")
    handler = world.actor("handler")
    assert [m.id for m in list_sessions(world.session, actor=handler)] == [meeting.id]
    seen = get_session(world.session, actor=handler, session_id=meeting.id)
    assert [d.unit.code for d in visible_decisions(seen, handler)] == ["SZGC"]
    with pytest.raises(NotFound):
        get_session(world.session, actor=handler, session_id=other.id)
    leader = world.actor("leader")
    assert len(list_sessions(world.session, actor=leader)) == 2
    assert len(visible_decisions(meeting, leader)) == 2
    with pytest.raises(PermissionDenied):
        list_sessions(world.session, actor=world.actor("collector"))


def test_what_a_session_refuses(world: World) -> None:
    case = dispatched_case(world)
    with pytest.raises(PermissionDenied):
        joint(world, [case], by="handler")
    with pytest.raises(InvalidInput) as err:
        joint(world, [case], units=[])
    assert err.value.field == "units"
    bad = [
        DecisionInput(text="x", unit="NOPE", due_work_days=3),
        DecisionInput(text="x", unit="SZGC"),
        DecisionInput(text="x", unit="SZGC", due_work_days=3, due_on=date(2026, 12, 1)),
        DecisionInput(text="x", unit="SZGC", due_on=date(2026, 11, 1)),
        DecisionInput(text=" ", unit="SZGC", due_work_days=3),
        DecisionInput(text="x", unit="SZGC", due_work_days=3, case_id=999),
    ]
    for decision in bad:
        with pytest.raises(InvalidInput):
            joint(world, [case], decisions=[decision])
    assert world.session.scalars(select(JointSession)).all() == []
    meeting = joint(world, [case])
    added = add_decision(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        session_id=meeting.id,
        data=DecisionInput(text="补充议定事项", unit="HWC", due_work_days=1),
    )
    assert added.position == 1
    assert added.case_id == case.id
    update_minutes(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        session_id=meeting.id,
        minutes="修订后的会议纪要",
    )
    assert meeting.minutes == "修订后的会议纪要"


def test_an_overdue_decision_is_escalated_once_per_step(world: World) -> None:
    meeting = joint(
        world,
        [dispatched_case(world)],
        decisions=[
            DecisionInput(text="限期清理", unit="SZGC", due_work_days=1),
            DecisionInput(text="已完成事项", unit="HWC", due_work_days=1),
        ],
    )
    late, done = meeting.decisions
    _answer(world, meeting, done, by="handler2")
    _review(world, meeting, done, accept=True)
    world.clock.set(local(2026, 11, 24, 8, 59))
    assert sweep_overdue(world.session, clock=world.clock).decision_escalations == []
    world.clock.set(local(2026, 11, 24, 9, 0))
    report = sweep_overdue(world.session, clock=world.clock)
    assert report.decision_escalations == [(f"会商#{meeting.id}/1", "remind")]
    assert "1 joint-decision escalation step(s)" in str(report)
    assert sweep_overdue(world.session, clock=world.clock).decision_escalations == []
    world.clock.set(local(2026, 12, 10, 9, 0))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        with world.session_factory() as own:
            try:
                barrier.wait(timeout=30)
                escalate_decisions(own, clock=world.clock)
            except BaseException as err:
                errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with world.session_factory() as other:
        steps = other.scalars(
            select(DecisionEscalation.step).where(DecisionEscalation.decision_id == late.id)
        ).all()
        assert sorted(steps) == ["escalate", "notify", "remind"]
        assert (
            other.scalars(
                select(DecisionEscalation).where(DecisionEscalation.decision_id == done.id)
            ).all()
            == []
        )
        fresh = other.get(JointSession, meeting.id)
        assert fresh is not None
        assert verify_records(other, SESSION, fresh) == []
