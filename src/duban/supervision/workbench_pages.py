"""The supervisor's workbench page (督办工作台): the queues that wait for them, with
counts and links, and the way into orders, ledgers, campaigns, sessions and revisits."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from duban.kernel.roles import Role
from duban.supervision.workbench import workbench
from duban.web.context import Ctx, pages

router = APIRouter(include_in_schema=False)

#: The heading of each queue (catalogue keys).
TITLES = {
    "problems_to_review": "Problems answered, awaiting review",
    "decisions_to_review": "Decisions answered, awaiting review",
    "signoffs_to_review": "Sign-off requests awaiting review",
    "overdue_orders": "Overdue orders",
    "overdue_decisions": "Overdue decisions",
    "overdue_measures": "Overdue measures",
    "revisits_due": "Revisits due",
    "active_campaigns": "Campaigns running",
}
#: The pages of supervision, reached from the workbench (and grouped under it in the menu).
SECTIONS = (
    ("/supervision", "Supervision orders"),
    ("/ledgers", "Ledgers"),
    ("/campaigns", "Campaigns"),
    ("/joint", "Joint sessions"),
    ("/revisits", "Revisits"),
)


@router.get("/oversight")
@pages
def workbench_page(ctx: Ctx) -> Response:
    """What waits for the supervisor, queue by queue."""
    actor = ctx.staff(Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
    queues = workbench(ctx.db, actor=actor, clock=ctx.clock)
    return ctx.render(
        "supervision/workbench.html",
        queues=queues,
        titles=TITLES,
        sections=SECTIONS,
        may_order=actor.role == Role.SUPERVISOR,
    )
