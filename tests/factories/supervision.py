"""Supervision: orders compiled, answered and reviewed through the real use cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duban.cases.models import Case
from duban.supervision.joint import DecisionInput, SessionInput, create_session
from duban.supervision.models import JointSession, SupervisionOrder
from duban.supervision.orders import OrderInput, ReplyInput, answer_problem, create_order
from duban.supervision.orders import review_problem as _review
from tests.factories.world import World


def order(
    world: World, cases: Sequence[Case], *, by: str = "supervisor", **kw: Any
) -> SupervisionOrder:
    """An order of ``cases`` compiled by ``by``."""
    kw.setdefault("title", "关于督促整改市容环境问题的通知")
    return create_order(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        data=OrderInput(case_ids=[c.id for c in cases], **kw),
    )


def answer(
    world: World,
    order_id: int,
    problem_id: int,
    *,
    by: str = "handler",
    measures: str = "已清理完毕，安排专人巡查",
    done: bool = True,
    photo_ids: Sequence[str] = (),
) -> SupervisionOrder:
    return answer_problem(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        order_id=order_id,
        problem_id=problem_id,
        reply=ReplyInput(measures=measures, done=done, photo_ids=photo_ids),
    )


def review(
    world: World, order_id: int, problem_id: int, *, accept: bool, reason: str = ""
) -> SupervisionOrder:
    return _review(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        order_id=order_id,
        problem_id=problem_id,
        accept=accept,
        reason=reason,
    )


def joint(
    world: World,
    cases: Sequence[Case] = (),
    *,
    units: Sequence[str] = ("SZGC", "HWC"),
    decisions: Sequence[DecisionInput] = (),
    by: str = "supervisor",
    **kw: Any,
) -> JointSession:
    """A joint session on ``cases`` convened by ``by`` (held now unless ``held_at``)."""
    kw.setdefault("title", "关于占道经营整治的联席会议")
    kw.setdefault("held_at", world.clock.now())
    kw.setdefault("minutes", "会议听取了各单位情况汇报，议定如下事项。")
    return create_session(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        data=SessionInput(units=units, case_ids=[c.id for c in cases], decisions=decisions, **kw),
    )
