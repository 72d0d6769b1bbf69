"""The ledger template (one row per measure) read from and written to plain rows.

Pure: rows in, rows out; the workbook itself is :mod:`duban.ledgers.workbook`. Parents
(方面, 类别, 问题, 具体表现) may be written once, with merged or blank cells below: a blank
parent cell repeats the one above. A column left of a changed one must not be blank
(a new 类别 needs its 方面 …) unless the row above gives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from duban.ledgers.rules import LedgerStatus, NotADate, parse_deadline, parse_status, split_units

HEADER: Final = (
    "方面",
    "类别",
    "问题",
    "具体表现",
    "整改措施",
    "责任领导",
    "责任单位",
    "配合单位",
    "完成时限",
    "整改状态",
    "备注",
)
PARENTS: Final = 4  # 方面 … 具体表现 repeat downwards when blank
EXAMPLE: Final = (
    "贯彻上级决策部署不到位",
    "落实指示批示精神有差距",
    "用“绣花功”管理城市不精细",
    "部分报刊亭、阅报栏、公交候车亭等城市家具不整洁",
    "开展城市家具专项清洗整治，建立巡查保洁台账",
    "张副局长",
    "环境卫生管理处",
    "市政工程管理处、各区城管局",
    "2026-12-31",
    "推进中",
    "",
)


@dataclass(frozen=True)
class CellError:
    """A bad cell: its row (1-based, as Excel shows it), column header and message key."""

    row: int
    column: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasureRow:
    """One measure with the path of its parents."""

    path: tuple[str, str, str, str, str]
    leader: str = ""
    lead_unit: str = ""
    helper_units: tuple[str, ...] = ()
    deadline: date | None = None
    status: LedgerStatus = LedgerStatus.NOT_STARTED
    note: str = ""


class SheetRefused(ValueError):
    """The sheet has bad cells; ``errors`` names each one."""

    def __init__(self, errors: Sequence[CellError]) -> None:
        super().__init__(f"{len(errors)} bad cell(s)")
        self.errors = list(errors)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_rows(
    rows: Iterable[Sequence[object]], *, max_rows: int, max_chars: int
) -> list[MeasureRow]:
    """The measures of a sheet's ``rows`` (the first one the header).

    Raises:
        SheetRefused: naming every bad cell (the header, formulas, missing parents,
            dates and statuses that are none, overlong text, too many rows).
    """
    errors: list[CellError] = []
    out: list[MeasureRow] = []
    iterator = iter(rows)
    header = next(iterator, None)
    got = tuple(_text(v) for v in (header or ()))
    while got and not got[-1]:
        got = got[:-1]
    if got != HEADER:
        raise SheetRefused(
            [CellError(1, "", "the header must be: {header}", {"header": ", ".join(HEADER)})]
        )
    above: list[str] = [""] * PARENTS
    number = 1
    for raw in iterator:
        number += 1
        cells = list(raw)
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
            continue
        if number - 1 > max_rows:
            errors.append(
                CellError(number, "", "the sheet has more than {limit} rows", {"limit": max_rows})
            )
            break
        cells += [None] * (len(HEADER) - len(cells))
        row_errors: list[CellError] = []
        for index, value in enumerate(cells):
            column = HEADER[index] if index < len(HEADER) else ""
            if index >= len(HEADER):
                if value is not None and _text(value):
                    row_errors.append(CellError(number, column, "a value in an unnamed column"))
                continue
            if isinstance(value, str) and value.startswith("="):
                row_errors.append(
                    CellError(number, column, "a formula is not accepted; write the value")
                )
            elif isinstance(value, str) and len(value) > max_chars:
                row_errors.append(
                    CellError(
                        number, column, "longer than {limit} characters", {"limit": max_chars}
                    )
                )
        if row_errors:
            errors.extend(row_errors)
            continue
        texts = [_text(v) for v in cells[: len(HEADER)]]
        path: list[str] = []
        changed = False
        for level in range(PARENTS):
            value = texts[level]
            if value:
                changed = changed or value != above[level]
                path.append(value)
            elif changed or not above[level]:
                row_errors.append(
                    CellError(
                        number,
                        HEADER[level],
                        "required when the column to its left changes" if level else "required",
                    )
                )
                path.append("")
            else:
                path.append(above[level])
        measure = texts[4]
        if not measure:
            row_errors.append(CellError(number, HEADER[4], "required"))
        try:
            deadline = parse_deadline(
                cells[8] if not isinstance(cells[8], str) else cells[8].strip()
            )
        except NotADate:
            row_errors.append(
                CellError(
                    number, HEADER[8], "not a date: write 2026-12-31, 2026/12/31 or 2026年12月31日"
                )
            )
            deadline = None
        status = parse_status(texts[9])
        if status is None:
            row_errors.append(
                CellError(
                    number,
                    HEADER[9],
                    "not a status: one of {statuses}",
                    {"statuses": "、".join(s.value for s in LedgerStatus)},
                )
            )
        if row_errors:
            errors.extend(row_errors)
            continue
        above = path
        out.append(
            MeasureRow(
                path=(path[0], path[1], path[2], path[3], measure),
                leader=texts[5],
                lead_unit=texts[6],
                helper_units=tuple(split_units(texts[7])),
                deadline=deadline,
                status=status or LedgerStatus.NOT_STARTED,
                note=texts[10],
            )
        )
    if not errors and not out:
        errors.append(CellError(2, "", "the sheet has no measure rows"))
    if errors:
        raise SheetRefused(errors)
    return out


def template_rows(measures: Iterable[MeasureRow]) -> Iterator[tuple[object, ...]]:
    """The header, then one row per measure, each parent written once (blank below)."""
    yield HEADER
    above: tuple[str, ...] = ("",) * PARENTS
    for m in measures:
        parents = m.path[:PARENTS]
        shown: list[object] = []
        same = True
        for level in range(PARENTS):
            same = same and parents[level] == above[level]
            shown.append(None if same else parents[level])
        above = parents
        yield (
            *shown,
            m.path[4],
            m.leader or None,
            m.lead_unit or None,
            "、".join(m.helper_units) or None,
            m.deadline,
            m.status.value,
            m.note or None,
        )
