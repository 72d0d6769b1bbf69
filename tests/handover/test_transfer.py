"""Hand-overs (移交) through the use cases: transfer, the body's answers, the sweep, the
at-once hand-over of a gas leak, and the figures counted apart."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from duban.cases.dashboard import dashboard
from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus
from duban.handover.models import CaseTransfer
from duban.handover.policy import shipped_data
from duban.handover.service import (
    answer_by_link,
    link_token,
    load_list,
    transfers_of,
)
from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import Conflict, IllegalTransition, InvalidInput
from tests.factories.cases import events, filed_case
from tests.factories.world import World
from tests.fakes import SHANGHAI, FixedClock, local

SECRET = "handover-test-secret-0123456789abcdef"


@pytest.fixture
def listed(world: World, session: Session, clock: FixedClock) -> World:
    """The world with the shipped bodies and responsibility list."""
    load_list(session, shipped_data(), now=clock.now())
    return world


def _pavement_parking(world: World) -> Case:
    return filed_case(
        world, category="E0505", condition_code="E050502", description="人行道上停满了汽车"
    )


def _transfer(world: World, case: Case, **params: object) -> Case:
    return world.act(case, Action.TRANSFER, "dispatcher", **params)


def test_a_hand_over_goes_to_the_listed_body_with_a_reply_deadline(listed: World) -> None:
    world = listed
    case = _transfer(world, _pavement_parking(world), note="请交警处理")
    assert case.status == CaseStatus.TRANSFERRED
    assert case.unit_id is None
    assert case.due_at is None
    (transfer,) = transfers_of(world.session, case.id)
    assert transfer.unit.code == "JJDD"
    assert transfer.state == "open"
    assert "道路交通安全法" in transfer.legal_basis
    # 3 working days from Monday 09:00 is Thursday 09:00.
    assert transfer.reply_due_at == local(2026, 11, 26, 9, 0)
    event = events(world.session_factory, case.id)[-1]
    payload = json.loads(event.payload)
    assert (event.action, payload["body"], payload["reply_days"]) == ("transfer", "JJDD", 3)


def test_the_body_answers_through_its_link_accept_then_done_with_a_photo(
    listed: World, clock: FixedClock
) -> None:
    world = listed
    case = _transfer(world, _pavement_parking(world))
    (transfer,) = transfers_of(world.session, case.id)
    token = link_token(SECRET, transfer)
    answer_by_link(world.session, secret=SECRET, token=token, answer="accept", clock=clock)  # type: ignore[arg-type]
    clock.advance(hours=3)
    photo = world.photo(by="dispatcher")
    done = answer_by_link(
        world.session,
        secret=SECRET,
        token=token,
        answer="done",  # type: ignore[arg-type]
        clock=clock,
        note="已拖移",
        photo_ids=[photo],
    )
    assert done.state == "done"
    assert done.answered_via == "link"
    world.session.expire_all()
    case = world.session.get(Case, case.id)
    assert case is not None
    assert case.status == CaseStatus.AWAITING_CHECK
    assert [p.photo_id for p in case.photos if p.stage == "after"] == [photo]
    kinds = [(e.action, e.actor_role) for e in events(world.session_factory, case.id)][-2:]
    assert kinds == [("transfer_accept", "system"), ("transfer_done", "system")]
    # A failed check has no unit of ours to go back to: the dispatcher's queue.
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    back = world.act(case, Action.CHECK, "collector", passed=False, reason="车还在")
    assert back.status == CaseStatus.RETURNED


def test_the_dispatcher_keeps_hand_overs_in_a_queue_of_their_own(
    listed: World, clock: FixedClock
) -> None:
    from duban.cases.workbench import Queue, work_list

    world = listed
    case = _transfer(world, _pavement_parking(world))
    queue = work_list(
        world.session, actor=world.actor("dispatcher"), queue=Queue.HANDED_OVER, now=clock.now()
    )
    assert [row.case.code for row in queue.rows] == [case.code]


def test_a_refused_hand_over_goes_back_to_the_dispatcher_with_the_reason(
    listed: World, clock: FixedClock
) -> None:
    world = listed
    case = _transfer(world, _pavement_parking(world))
    with pytest.raises(InvalidInput):
        world.act(case, Action.TRANSFER_REFUSE, "dispatcher")
    case = world.act(case, Action.TRANSFER_REFUSE, "dispatcher", reason="属小区内部道路")
    assert case.status == CaseStatus.RETURNED
    (transfer,) = transfers_of(world.session, case.id)
    assert (transfer.state, transfer.answered_via) == ("refused", "dispatcher")
    assert transfer.answer_note == "属小区内部道路"
    # The dispatcher may now dispatch it to a unit of ours or hand it over again.
    again = world.act(
        case, Action.DISPATCH, "dispatcher", unit="SZGC", reason="交警退回，由市政处理"
    )
    assert again.status == CaseStatus.DISPATCHED


def test_the_sweep_marks_a_hand_over_past_its_deadline_once(
    listed: World, session: Session, clock: FixedClock
) -> None:
    world = listed
    case = _transfer(world, _pavement_parking(world), amount=1)
    clock.set(local(2026, 11, 24, 10, 0))  # one working day and an hour later
    first = sweep_overdue(session, clock=clock)
    assert first.transfers_overdue == [case.code]
    assert "hand-over(s) newly past" in str(first)
    assert sweep_overdue(session, clock=clock).transfers_overdue == []
    last = events(world.session_factory, case.id)[-1]
    assert last.action == "transfer_overdue"
    assert [e.action for e in events(world.session_factory, case.id)].count("transfer_overdue") == 1
    (transfer,) = transfers_of(world.session, case.id)
    assert transfer.overdue_marked_at == clock.now()
    board = dashboard(session, now=clock.now(), tz=SHANGHAI)
    assert (board.transferred, board.transfers_overdue) == (1, 1)


def test_a_gas_leak_is_handed_over_at_filing(listed: World) -> None:
    world = listed
    case = filed_case(world, category="E0403", condition_code="E040301", description="燃气泄漏")
    assert case.status == CaseStatus.TRANSFERRED
    (transfer,) = transfers_of(world.session, case.id)
    assert transfer.unit.code == "RQGS"
    last = events(world.session_factory, case.id)[-1]
    assert (last.action, last.actor_role) == ("transfer", "system")
    assert json.loads(last.payload)["at_once"] is True


def test_bodies_get_hand_overs_never_dispatches(listed: World) -> None:
    world = listed
    case = _pavement_parking(world)
    with pytest.raises(InvalidInput, match="transfer"):
        world.act(case, Action.DISPATCH, "dispatcher", unit="JJDD", reason="x")
    # The list gives pavement parking to 交警: following routing to a unit of ours is refused…
    with pytest.raises(InvalidInput, match="responsibility list gives this matter to JJDD"):
        world.act(case, Action.DISPATCH, "dispatcher")
    with pytest.raises(InvalidInput, match="responsibility list"):
        world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    with pytest.raises(InvalidInput):
        _transfer(world, case, unit="SZGC")
    with pytest.raises(IllegalTransition):
        world.act(case, Action.TRANSFER, "shift_lead")


def test_dispatching_a_listed_matter_to_a_unit_of_ours_needs_a_reason(listed: World) -> None:
    world = listed
    case = world.act(
        _pavement_parking(world), Action.DISPATCH, "dispatcher", unit="SZGC", reason="联合整治"
    )
    assert case.status == CaseStatus.DISPATCHED
    payload = json.loads(events(world.session_factory, case.id)[-1].payload)
    assert payload["list_override"] == {"body": "JJDD", "reason": "联合整治"}


def test_accepting_twice_is_refused(listed: World) -> None:
    world = listed
    case = _transfer(world, _pavement_parking(world))
    world.act(case, Action.TRANSFER_ACCEPT, "dispatcher")
    with pytest.raises(Conflict):
        world.act(case, Action.TRANSFER_ACCEPT, "dispatcher")
    assert world.session.query(CaseTransfer).one().state == "accepted"
