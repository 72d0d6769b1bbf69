"""Ledgers in the shape of seed 003 (许昌市城管局巡察整改台账): 3 方面, 10 类别, 29 问题,
79 具体表现 and 242 整改措施, written as .xlsx in the import template with openpyxl.

``tests/ledgers/seed003.json`` holds the tree as the seed's text gives it (the measures
are its "一是…二是…" sentences); leaders, units and deadlines are not in the published
report, so :func:`seed003_rows` assigns them in turn, the units including the world's
(市政工程管理处 by name, ``HWC`` by code) so that matching Duban units is exercised.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from duban.kernel.context import Actor, Clock
from duban.ledgers.imports import Imported, import_ledger
from duban.ledgers.sheet import HEADER

SEED = Path(__file__).resolve().parent.parent / "ledgers" / "seed003.json"
COUNTS = {"aspects": 3, "categories": 10, "problems": 29, "items": 79, "measures": 242}
LEADERS = ("刘局长", "王副局长", "张副局长", "李副局长", "赵组长")
UNITS = ("市政工程管理处", "HWC", "园林绿化中心", "城管执法支队", "办公室", "")
HELPERS = ("", "各区城管局", "组织人事科、财务科", "")


@cache
def seed003() -> list[dict[str, Any]]:
    """The tree of seed 003."""
    tree: list[dict[str, Any]] = json.loads(SEED.read_text("utf-8"))
    return tree


def seed003_rows(*, statuses: str = "open") -> list[tuple[object, ...]]:
    """One full row per measure (no parent left blank). ``statuses``: ``open`` (a mix
    of empty, 未开始 and 推进中; a few deadlines already past) or ``seed`` (each item's
    status as the report gives it)."""
    rows: list[tuple[object, ...]] = []
    n = 0
    for aspect in seed003():
        for category in aspect["categories"]:
            for problem in category["problems"]:
                for item in problem["items"]:
                    for measure in item["measures"]:
                        if statuses == "seed":
                            status: str = item["status"]
                        else:
                            status = ("", "未开始", "推进中")[n % 3]
                        deadline: object = date(2026, 12, 31)
                        if n % 7 == 3:
                            deadline = "2026年12月31日"
                        elif n % 11 == 5:
                            deadline = "2027/3/31"
                        elif n % 13 == 0:
                            deadline = datetime(2026, 11, 1)  # noqa: DTZ001 -- a sheet date has no zone; past
                        rows.append(
                            (
                                aspect["text"],
                                category["text"],
                                problem["text"],
                                item["text"],
                                measure,
                                LEADERS[n % len(LEADERS)],
                                UNITS[n % len(UNITS)],
                                HELPERS[n % len(HELPERS)],
                                deadline,
                                status,
                                "长期坚持" if status == "已整改需长期坚持" else "",
                            )
                        )
                        n += 1
    return rows


def write_xlsx(
    rows: Sequence[Sequence[object]],
    *,
    header: Sequence[object] = HEADER,
    merge_parents: bool = True,
) -> bytes:
    """An .xlsx of ``rows`` under ``header``; parents repeated from the row above are
    written once, 方面 and 类别 as merged cells and 问题 and 具体表现 left blank below."""
    book = Workbook()
    sheet = book.active
    sheet.title = "整改台账"
    sheet.append(list(header))
    above: list[object] = [None] * 4
    starts = [2] * 4
    for number, row in enumerate(rows, start=2):
        values = list(row)
        if merge_parents:
            same = True
            for level in range(4):
                same = same and values[level] == above[level]
                if same:
                    values[level] = None
                else:
                    if level < 2 and number - 1 > starts[level]:
                        _merge(sheet, level, starts[level], number - 1)
                    starts[level] = number
                    above[level] = row[level]
        sheet.append(values)
    if merge_parents:
        last = len(rows) + 1
        for level in range(2):
            if last > starts[level]:
                _merge(sheet, level, starts[level], last)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _merge(sheet: Any, level: int, first: int, last: int) -> None:
    column = "AB"[level]
    sheet.merge_cells(f"{column}{first}:{column}{last}")


def seed003_xlsx(*, statuses: str = "open") -> bytes:
    """Seed 003's ledger as an .xlsx in the template, parents merged or blank below."""
    return write_xlsx(seed003_rows(statuses=statuses))


def imported(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    title: str = "巡察整改台账",
    data: bytes | None = None,
) -> Imported:
    """Seed 003's ledger imported through the use case."""
    return import_ledger(
        session, actor=actor, clock=clock, title=title, data=data or seed003_xlsx()
    )


def big_rows(measures: int) -> Iterator[tuple[object, ...]]:
    """``measures`` rows in the template's shape (for the benchmark): 10 measures an item,
    5 items a problem, 4 problems a category, 5 categories an aspect."""
    for n in range(measures):
        item, problem, category, aspect = n // 10, n // 50, n // 200, n // 1000
        yield (
            f"方面{aspect + 1}：作风建设与责任落实",
            f"类别{category + 1}：制度执行",
            f"问题{problem + 1}：工作台账不完善，督办落实不到位",
            f"具体表现{item + 1}：部分责任单位未按期报送整改进展，整改材料不齐全",
            f"措施{n + 1}：建立整改台账，明确责任人和完成时限，每周报送进展并附证明材料",
            LEADERS[n % len(LEADERS)],
            UNITS[n % len(UNITS)],
            HELPERS[n % len(HELPERS)],
            date(2026, 12, 31),
            ("未开始", "推进中", "已整改")[n % 3],
            "",
        )
