"""Workbooks out: a ledger in its import template, and its progress report."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from duban.kernel.context import Actor
from duban.ledgers.access import require_reader
from duban.ledgers.queries import get_ledger, measure_rows
from duban.ledgers.scope import visible_nodes
from duban.ledgers.sheet import template_rows
from duban.ledgers.workbook import write_sheet, write_sheets


def export_workbook(session: Session, *, actor: Actor, ledger_id: int) -> bytes:
    """The ledger as an .xlsx in the import template (import it back: the same tree)."""
    require_reader(actor)
    get_ledger(session, ledger_id)
    seen = visible_nodes(session, actor, ledger_id)
    return write_sheet(template_rows(measure_rows(session, ledger_id, seen)))


_GROUP_HEADER = ("具体表现数", "措施数", "已完成", "逾期", "完成率(%)")


def _group(g: dict[str, Any], key: str) -> tuple[object, ...]:
    figures = (g["items"], g["measures"], g["done"], g["overdue"], g["done_percent"])
    return (g[key] or "（未填）", *figures)


def progress_workbook(figures: dict[str, Any]) -> bytes:
    """The progress report: 总体, 按责任单位, 按责任领导 (one sheet each)."""
    whole = [
        ("台账", figures["title"]),
        ("统计日期", figures["as_of"]),
        ("具体表现数", figures["items"]),
        ("措施数", figures["measures"]),
        ("已完成", figures["done"]),
        ("逾期", figures["overdue"]),
        ("完成率(%)", figures["done_percent"]),
        *((f"状态：{k}", v) for k, v in figures["by_status"].items()),
    ]
    units = [("责任单位", *_GROUP_HEADER)] + [_group(g, "unit") for g in figures["by_unit"]]
    leaders = [("责任领导", *_GROUP_HEADER)] + [_group(g, "leader") for g in figures["by_leader"]]
    return write_sheets(
        [("总体进度", [("项目", "数值"), *whole]), ("按责任单位", units), ("按责任领导", leaders)]
    )
