"""Supervision orders: compiled by hand or by a rule, numbered without gaps (also under
concurrent creation), answered by units, reviewed, rolled up, and recorded."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus
from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.reference.calendar import LimitUnit
from duban.reference.policy import load_policy
from duban.supervision.events import verify_order_chain
from duban.supervision.models import SupervisionEvent, SupervisionOrder
from duban.supervision.orders import (
    OrderInput,
    create_order,
    get_order,
    list_orders,
    save_rule,
    visible_problems,
)
from duban.supervision.rules import OrderStatus, ProblemStatus, SelectionRule
from tests.factories.cases import dispatched_case
from tests.factories.reference import condition
from tests.factories.supervision import answer, order, review
from tests.factories.world import World
from tests.fakes import FixedClock, local


def test_an_order_is_numbered_addressed_and_due_in_working_days(world: World) -> None:
    a = dispatched_case(world)
    b = dispatched_case(world, unit="HWC")
    first = order(world, [a, b])
    assert first.number == "督查通知单〔2026〕第1期"
    assert [u.unit.code for u in first.addressees] == ["SZGC", "HWC"]
    assert [p.unit.code for p in first.problems] == ["SZGC", "HWC"]
    assert [p.case_id for p in first.problems] == [a.id, b.id]
    assert all(p.subject_kind == "case" and p.ledger_item_id is None for p in first.problems)
    assert first.status is OrderStatus.ISSUED
    # Monday 2026-11-23 09:00 + 5 working days: Monday 2026-11-30 09:00 local.
    assert first.due_at == local(2026, 11, 30, 9, 0)
    second = order(world, [a], reply_work_days=2, series="督办单")
    third = order(world, [b])
    assert second.number == "督办单〔2026〕第1期"
    assert third.number == "督查通知单〔2026〕第2期"
    world.clock.set(local(2027, 1, 4, 9, 0))
    assert order(world, [a]).number == "督查通知单〔2027〕第1期"


def test_a_refused_order_takes_no_number(world: World) -> None:
    case = dispatched_case(world)
    with pytest.raises(InvalidInput):
        order(world, [case], units=["NOPE"])
    with pytest.raises(InvalidInput):
        order(world, [case], title="  ")
    with pytest.raises(InvalidInput):
        create_order(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            data=OrderInput(title="x", case_ids=[424242]),
        )
    with pytest.raises(PermissionDenied):
        order(world, [case], by="dispatcher")
    assert order(world, [case]).number.endswith("第1期")
    assert world.session.scalars(select(SupervisionOrder)).all()[0].sequence == 1


def _create_many(
    factory: sessionmaker[Session], actor: Actor, clock: FixedClock, ids: list[int], n: int
) -> list[str | BaseException]:
    barrier = threading.Barrier(n)
    out: list[str | BaseException] = ["" for _ in range(n)]

    def run(i: int) -> None:
        with factory() as own:
            try:
                barrier.wait(timeout=30)
                made = create_order(
                    own, actor=actor, clock=clock, data=OrderInput(title=f"第{i}份", case_ids=ids)
                )
                out[i] = made.number
            except BaseException as err:
                out[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def test_concurrent_orders_get_consecutive_numbers(world: World) -> None:
    case = dispatched_case(world)
    n = 8
    results = _create_many(
        world.session_factory, world.actor("supervisor"), world.clock, [case.id], n
    )
    assert all(isinstance(r, str) for r in results), results
    assert sorted(results, key=lambda s: int(str(s).split("第")[1][:-1])) == [
        f"督查通知单〔2026〕第{i}期" for i in range(1, n + 1)
    ]


def test_rules_pick_overdue_reworked_hotspot_and_flagged_cases(world: World) -> None:
    session = world.session
    two_hours = condition(session, 2, "hours")
    late = dispatched_case(world, two_hours, at=local(2026, 11, 23, 9, 0))
    on_time = dispatched_case(world, condition(session, 5, "work_days"))
    world.clock.set(local(2026, 11, 27, 9, 0))  # Friday: late is > 3 working days over
    supervisor = world.actor("supervisor")

    def pick(kind: str, **params: int) -> list[int]:
        made = create_order(
            session,
            actor=supervisor,
            clock=world.clock,
            data=OrderInput(
                title="规则选取",
                rule=SelectionRule.parse(kind, params),
                units=["SZGC", "HWC"],
            ),
        )
        return [p.case_id for p in made.problems if p.case_id is not None]

    assert pick("overdue", work_days=3) == [late.id]
    with pytest.raises(InvalidInput):
        pick("overdue", work_days=10)
    assert on_time.id not in pick("overdue", work_days=0)
    # Reworked twice: a handler's fix sent back twice by the checker.
    reworked = dispatched_case(world)
    world.act(reworked, Action.ACCEPT, "handler")
    for _ in range(2):
        world.act(reworked, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
        world.act(reworked, Action.ASSIGN, "operator", collector="collector")
        world.act(reworked, Action.CHECK, "collector", passed=False, note="仍有垃圾")
    assert world.session.get(Case, reworked.id).rework_count == 2  # type: ignore[union-attr]
    assert pick("reworked", times=2) == [reworked.id]
    # Flagged 督办 by hand.
    world.act(on_time, Action.SUPERVISE, "supervisor", note="领导批示")
    assert on_time.id in pick("flagged")
    # Four reports at one address within 7 days (the three cases above share a point).
    spot = [world.report(address="人民路88号", lat=34.031) for _ in range(4)]
    assert pick("hotspot", reports=4, days=7) == [c.id for c in spot]
    assert len(pick("hotspot", reports=3, days=7)) == 3 + 4
    with pytest.raises(InvalidInput):
        pick("hotspot", reports=5, days=7)
    world.clock.advance(days=8)
    with pytest.raises(InvalidInput):
        pick("hotspot", reports=4, days=7)
    # A saved rule.
    saved = save_rule(
        session,
        actor=supervisor,
        clock=world.clock,
        name="返工两次",
        rule=SelectionRule.parse("reworked", {}),
    )
    made = create_order(
        session, actor=supervisor, clock=world.clock, data=OrderInput(title="x", rule_id=saved.id)
    )
    assert made.rule == {"kind": "reworked", "params": {"times": 2}}
    with pytest.raises(Conflict):
        save_rule(
            session,
            actor=supervisor,
            clock=world.clock,
            name="返工两次",
            rule=SelectionRule.parse("flagged", {}),
        )


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("nope", {}),
        ("overdue", {"work_days": -1}),
        ("overdue", {"x": 1}),
        ("hotspot", {"reports": True}),
        ("reworked", {"times": 99999}),
    ],
)
def test_bad_rules_are_refused(kind: str, params: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SelectionRule.parse(kind, params)


def test_units_answer_supervisors_review_and_the_order_rolls_up(world: World) -> None:
    a = dispatched_case(world)
    b = dispatched_case(world, unit="HWC")
    made = order(world, [a, b])
    pa, pb = made.problems
    photo = world.photo(by="handler")
    with pytest.raises(NotFound):  # another unit's problem
        answer(world, made.id, pb.id, by="handler")
    with pytest.raises(PermissionDenied):
        answer(world, made.id, pa.id, by="supervisor")
    with pytest.raises(InvalidInput):  # someone else's photo
        answer(world, made.id, pa.id, photo_ids=[world.photo(by="handler2")])
    with pytest.raises(Conflict):  # nothing to review yet
        review(world, made.id, pa.id, accept=True)
    answer(world, made.id, pa.id, photo_ids=[photo])
    assert made.status is OrderStatus.IN_PROGRESS
    assert pa.status is ProblemStatus.ANSWERED
    assert pa.reply_photo_ids == [photo]
    with pytest.raises(Conflict):  # answered already
        answer(world, made.id, pa.id)
    with pytest.raises(InvalidInput):  # a reason is needed
        review(world, made.id, pa.id, accept=False)
    review(world, made.id, pa.id, accept=False, reason="照片不清晰，请补充")
    assert pa.status is ProblemStatus.SENT_BACK
    assert pa.send_back_count == 1
    answer(world, made.id, pa.id, measures="补充整改照片")
    review(world, made.id, pa.id, accept=True)
    assert made.status is OrderStatus.IN_PROGRESS
    answer(world, made.id, pb.id, by="handler2", done=False, measures="已约谈商户，限期清理")
    review(world, made.id, pb.id, accept=True)
    assert made.status is OrderStatus.CLOSED
    assert made.closed_at == world.clock.now()
    actions = [
        e.action
        for e in world.session.scalars(
            select(SupervisionEvent)
            .where(SupervisionEvent.order_id == made.id)
            .order_by(SupervisionEvent.seq)
        )
    ]
    assert actions == ["issue", "answer", "send_back", "answer", "accept", "answer", "accept"]
    assert verify_order_chain(world.session, made.id) == []


def test_units_see_only_their_own_problems_and_leaders_see_all(world: World) -> None:
    a = dispatched_case(world)
    b = dispatched_case(world, unit="HWC")
    both = order(world, [a, b])
    only_b = order(world, [b])
    mine, total = list_orders(world.session, actor=world.actor("handler"))
    assert [o.id for o in mine] == [both.id]
    assert total == 1
    assert [p.case_id for p in visible_problems(both, world.actor("handler"))] == [a.id]
    with pytest.raises(NotFound):
        get_order(world.session, actor=world.actor("handler"), order_id=only_b.id)
    _seen, total = list_orders(world.session, actor=world.actor("leader"))
    assert total == 2
    assert len(visible_problems(both, world.actor("leader"))) == 2
    for role in ("citizen", "collector", "dispatcher"):
        with pytest.raises(PermissionDenied):
            list_orders(world.session, actor=world.actor(role))


def test_the_record_is_append_only_and_tampering_is_found(world: World) -> None:
    made = order(world, [dispatched_case(world)])
    session = world.session
    for sql in (
        "UPDATE supervision_events SET note = 'x'",
        "DELETE FROM supervision_events",
    ):
        with pytest.raises(DatabaseError):
            session.execute(text(sql))
        session.rollback()
    assert verify_order_chain(session, made.id) == []
    made.event_count = 5
    session.commit()
    assert verify_order_chain(session, made.id) != []


def test_the_deadline_is_counted_in_working_days_across_a_weekend(world: World) -> None:
    world.clock.set(local(2026, 11, 27, 16, 0))  # Friday afternoon
    made = order(world, [dispatched_case(world)], reply_work_days=1)
    assert made.due_at == local(2026, 11, 30, 16, 0)
    calendar = load_policy(world.session).calendar
    assert calendar.elapsed_in_limit_units(made.issued_at, made.due_at, LimitUnit.WORK_DAYS) == 1
    assert made.due_at - made.issued_at == timedelta(days=3)
    assert CaseStatus.DISPATCHED  # the cases stay as they are


def test_a_chain_rewritten_without_the_audit_key_does_not_verify(world: World) -> None:
    import hashlib

    made = order(world, [dispatched_case(world)])
    session = world.session
    event = session.scalars(
        select(SupervisionEvent).where(SupervisionEvent.order_id == made.id)
    ).one()
    assert len(event.key_id) > 0
    # A forger with write access but no key: the plain sha256 of the row is not the HMAC.
    forged = hashlib.sha256(("" + event.payload).encode()).hexdigest()
    if session.get_bind().dialect.name == "sqlite":  # an administrator lifts the guard
        session.execute(text("DROP TRIGGER IF EXISTS supervision_events_no_update"))
    else:
        session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(
        text("UPDATE supervision_events SET hash = :h, note = 'x' WHERE id = :id"),
        {"h": forged, "id": event.id},
    )
    made.last_event_hash = forged
    session.commit()
    assert verify_order_chain(session, made.id) != []
