"""The ledger pages: the list and a ledger's tree, each level with its progress bar."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from duban.kernel.roles import Role
from duban.ledgers.access import READERS
from duban.ledgers.exports import export_workbook, progress_workbook
from duban.ledgers.queries import ledger_tree, list_ledgers, progress
from duban.ledgers.rules import DONE, STATUS_LABELS_EN, LedgerStatus, done_percent
from duban.ledgers.workbook import template_workbook
from duban.web.context import Ctx, pages

router = APIRouter(include_in_schema=False)

_ROLES = tuple(r for r in Role if r in READERS and r != Role.SYSTEM)


def _count(node: dict[str, Any]) -> tuple[int, int, int]:
    """(measures, done, overdue) under ``node``; each node gets its own figures."""
    if node["kind"] == "measure":
        status = node.get("status") or ""
        figures = (1, int(status in DONE), int(status == LedgerStatus.OVERDUE.value))
    else:
        figures = (0, 0, 0)
        for child in node.get("children", []):
            sub = _count(child)
            figures = (figures[0] + sub[0], figures[1] + sub[1], figures[2] + sub[2])
    node["measures"], node["done"], node["overdue"] = figures
    node["percent"] = done_percent(figures[1], figures[0])
    return figures


@router.get("/ledgers")
@pages
def ledgers_page(ctx: Ctx) -> Response:
    """Every ledger with its share of measures done."""
    actor = ctx.staff(*_ROLES)
    return ctx.render("ledgers/index.html", ledgers=list_ledgers(ctx.db, actor=actor))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@router.get("/ledgers/template.xlsx")
@pages
def template_download(ctx: Ctx) -> Response:
    """The import template."""
    ctx.staff(*_ROLES)
    return _xlsx(template_workbook(), "ledger-template.xlsx")


@router.get("/ledgers/{ledger_id}/export.xlsx")
@pages
def export_download(ctx: Ctx, ledger_id: int) -> Response:
    """The ledger in the import template."""
    actor = ctx.staff(*_ROLES)
    data = export_workbook(ctx.db, actor=actor, ledger_id=ledger_id)
    return _xlsx(data, f"ledger-{ledger_id}.xlsx")


@router.get("/ledgers/{ledger_id}/progress.xlsx")
@pages
def progress_download(ctx: Ctx, ledger_id: int) -> Response:
    """The progress report."""
    actor = ctx.staff(*_ROLES)
    figures = progress(ctx.db, actor=actor, clock=ctx.clock, ledger_id=ledger_id)
    return _xlsx(progress_workbook(figures), f"ledger-{ledger_id}-progress.xlsx")


@router.get("/ledgers/{ledger_id}")
@pages
def ledger_page(ctx: Ctx, ledger_id: int) -> Response:
    """The tree 方面 → 类别 → 问题 → 具体表现 → 整改措施 with progress bars, and the
    progress by unit and by leader."""
    actor = ctx.staff(*_ROLES)
    tree = ledger_tree(ctx.db, actor=actor, ledger_id=ledger_id)
    for aspect in tree["aspects"]:
        _count(aspect)
    figures = progress(ctx.db, actor=actor, clock=ctx.clock, ledger_id=ledger_id)
    labels = {s.value: (s.value if ctx.lang != "en" else STATUS_LABELS_EN[s]) for s in LedgerStatus}
    return ctx.render("ledgers/tree.html", tree=tree, figures=figures, status_label=labels)
