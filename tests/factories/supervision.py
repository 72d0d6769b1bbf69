"""Supervision: orders compiled, answered and reviewed through the real use cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duban.cases.models import Case
from duban.supervision.models import SupervisionOrder
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
