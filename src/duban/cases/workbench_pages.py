"""Workbenches: each role's queues with step timers, one-click and batch actions; the
unit's inbox by time left; the collector's tasks nearest first."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from duban.cases.actions import ActionInput
from duban.cases.pages import case_filter_from
from duban.cases.workbench import (
    BATCH_ACTIONS,
    QUEUES_OF_ROLE,
    Queue,
    WorkList,
    active_collectors,
    batch_act,
    collector_tasks,
    dispatch_units,
    platform_names,
    workbench,
)
from duban.cases.workflow import Action
from duban.kernel.context import Actor
from duban.kernel.roles import Role
from duban.reference import load_policy
from duban.web import forms
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(include_in_schema=False)

WORKBENCH_ROLES = tuple(QUEUES_OF_ROLE)


@router.get("/work")
@pages
def work(ctx: Ctx) -> Response:
    """The signed-in role's queues, most urgent first."""
    return work_page(ctx)


def work_page(
    ctx: WebContext,
    *,
    row_errors: dict[int, dict[str, str]] | None = None,
    row_values: dict[int, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    """The workbench; a refused row action shows its messages in its row."""
    actor = ctx.staff(*WORKBENCH_ROLES)
    filters, seen = case_filter_from(ctx.request, load_policy(ctx.db).tz)
    lists = workbench(ctx.db, actor=actor, now=ctx.clock.now(), filters=filters)
    return ctx.render(
        "work.html",
        status_code=status_code,
        lists=lists,
        batch_actions=_batch_actions(actor),
        platform_names=_platform_names(ctx, lists),
        units=dispatch_units(ctx.db, actor, load_policy(ctx.db)),
        collectors=active_collectors(ctx.db) if actor.role == Role.OPERATOR else [],
        seen=seen,
        results=[],
        batch_action=None,
        row_errors=row_errors or {},
        row_values=row_values or {},
    )


def _batch_actions(actor: Actor) -> dict[Queue, tuple[Action, ...]]:
    """The batch forms: the platforms' queue (二级派遣) is for their own dispatchers; the
    city's follow it."""
    if actor.region_code is None:
        return {q: a for q, a in BATCH_ACTIONS.items() if q != Queue.AT_PLATFORM}
    return BATCH_ACTIONS


def _platform_names(ctx: WebContext, lists: list[WorkList]) -> dict[str, str]:
    codes = {r.case.platform_code for wl in lists for r in wl.rows if r.case.platform_code}
    return platform_names(ctx.db, codes)


@router.post("/work/batch")
@pages
def batch(ctx: Ctx, form: Form) -> Response:
    """Take one action on every ticked case of a queue; report each outcome."""
    actor = ctx.staff(*WORKBENCH_ROLES)
    try:
        queue = Queue(forms.text(form, "queue", 32))
        action = Action(forms.text(form, "action", 32))
    except ValueError:
        return ctx.redirect("/work")
    case_ids = forms.ids(form, f"case_{queue.value}")
    if action not in BATCH_ACTIONS.get(queue, ()) or not case_ids:
        ctx.notice("Tick at least one case and choose an action.")
        return ctx.redirect("/work")
    params = ActionInput(
        note=forms.text(form, "note", 2000),
        reason=forms.text(form, "reason", 2000),
        unit=forms.text(form, "unit", 32) or None,
        collector=forms.text(form, "collector", 64) or None,
    )
    results = batch_act(
        ctx.db, actor=actor, clock=ctx.clock, case_ids=case_ids, action=action, params=params
    )
    filters, seen = case_filter_from(ctx.request, load_policy(ctx.db).tz)
    lists = workbench(ctx.db, actor=actor, now=ctx.clock.now(), filters=filters)
    return ctx.render(
        "work.html",
        lists=lists,
        batch_actions=_batch_actions(actor),
        platform_names=_platform_names(ctx, lists),
        units=dispatch_units(ctx.db, actor, load_policy(ctx.db)),
        collectors=active_collectors(ctx.db) if actor.role == Role.OPERATOR else [],
        seen=seen,
        results=[(r, forms.translate(r.message, ctx.lang)) for r in results],
        batch_action=action,
        row_errors={},
        row_values={},
    )


@router.get("/tasks")
@pages
def tasks(ctx: Ctx, lat: float | None = None, lon: float | None = None) -> Response:
    """The collector's verify (核实) and check (核查) tasks, nearest first."""
    actor = ctx.staff(Role.COLLECTOR)
    rows = collector_tasks(ctx.db, actor=actor, now=ctx.clock.now(), lat=lat, lon=lon)
    return ctx.render("tasks.html", rows=rows, here=(lat, lon) if lat is not None else None)
