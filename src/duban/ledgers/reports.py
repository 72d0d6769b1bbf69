"""Ledger documents in DOCX, in the official layout (GB/T 9704-2012, as the supervision
orders are): the progress report (整改工作进度报告: counts, % done, overdue, by unit and by
leader) and the public notice (整改情况通报) in the shape of seed 003 — the summary, a table
by 方面 and 类别, then each 方面 → 类别 → 问题 → 具体表现 with its 落实情况 and measures
(一是…二是…).

A .docx names its fonts (方正小标宋简体 for titles, 仿宋_GB2312 for text, 黑体 for table
heads); the reader's Word supplies them, so nothing is embedded or fetched.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from sqlalchemy.orm import Session

from duban.kernel.context import Actor, Clock
from duban.ledgers.policy import ledger_policy
from duban.ledgers.queries import ledger_tree, progress
from duban.ledgers.rules import DONE, LedgerStatus
from duban.reference import load_policy

TITLE_FONT = "方正小标宋简体"
TEXT_FONT = "仿宋_GB2312"
HEAD_FONT = "黑体"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: 落实情况 of an item by its status, as seed 003 writes it.
STATUS_SENTENCE = {
    LedgerStatus.DONE.value: "目前该问题已整改。",
    LedgerStatus.DONE_LONG_TERM.value: "目前该问题已整改，需长期坚持。",
    LedgerStatus.IN_PROGRESS.value: "目前该问题正在整改中。",
    LedgerStatus.NOT_STARTED.value: "目前该问题尚未开始整改。",
    LedgerStatus.OVERDUE.value: "目前该问题已超过整改时限，正在督促整改。",
}

_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 99 → 九十九 (larger: Arabic numerals)."""
    if n <= 0 or n >= 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else f"{_DIGITS[tens]}十")
    return head + (_DIGITS[ones] if ones else "")


def chinese_date(day: date) -> str:
    """``2026年12月3日`` (GB/T 9704-2012 7.3.5: Arabic numerals, no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


# --------------------------------------------------------------------------- layout


class _Doc:
    """A GB/T 9704 page: A4, its margins, the fonts named for East Asian text."""

    def __init__(self) -> None:
        self.document = Document()
        section = self.document.sections[0]
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)

    @staticmethod
    def run(paragraph: Any, text: str, *, size: float, font: str, bold: bool = False) -> None:
        r = paragraph.add_run(text)
        r.font.size = Pt(size)
        r.font.bold = bold
        r.font.name = font
        r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)

    def title(self, text: str) -> None:
        p = self.document.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        self.run(p, text, size=22, font=TITLE_FONT)

    def heading(self, text: str) -> None:
        p = self.document.add_paragraph()
        p.paragraph_format.first_line_indent = Pt(32)
        self.run(p, text, size=16, font=HEAD_FONT)

    def text(self, text: str, *, bold: bool = False, indent: bool = True) -> None:
        p = self.document.add_paragraph()
        if indent:
            p.paragraph_format.first_line_indent = Pt(32)
        self.run(p, text, size=16, font=TEXT_FONT, bold=bold)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        table = self.document.add_table(rows=1, cols=len(header))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(table.rows[0].cells, header, strict=True):
            self.run(cell.paragraphs[0], text, size=12, font=HEAD_FONT, bold=True)
        for row in rows:
            for cell, value in zip(table.add_row().cells, row, strict=True):
                self.run(cell.paragraphs[0], _shown(value), size=11, font=TEXT_FONT)

    def signature(self, issuer: str, day: date) -> None:
        self.document.add_paragraph()
        for text in (issuer, chinese_date(day)):
            p = self.document.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            p.paragraph_format.right_indent = Pt(32)
            self.run(p, text, size=16, font=TEXT_FONT)

    def bytes(self) -> bytes:
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}%"
    return str(value)


# --------------------------------------------------------------------------- progress report

_GROUP_HEADER = ("具体表现数", "措施数", "已完成", "逾期", "完成率")


def progress_docx(figures: dict[str, Any], *, issuer: str | None = None) -> bytes:
    """The progress report of :func:`duban.ledgers.queries.progress`'s figures: the summary,
    then the tables 总体, 按责任单位 and 按责任领导."""
    day = date.fromisoformat(figures["as_of"])
    by = figures["by_status"]
    doc = _Doc()
    doc.title(f"{figures['title']}整改工作进度报告")
    doc.text(f"统计日期：{chinese_date(day)}", indent=False)
    doc.text(
        f"台账共{figures['items']}项具体表现、{figures['measures']}项整改措施。截至"
        f"{chinese_date(day)}，已完成{figures['done']}项措施（其中已整改需长期坚持"
        f"{by.get(LedgerStatus.DONE_LONG_TERM.value, 0)}项），推进中"
        f"{by.get(LedgerStatus.IN_PROGRESS.value, 0)}项，未开始"
        f"{by.get(LedgerStatus.NOT_STARTED.value, 0)}项，逾期{figures['overdue']}项，"
        f"完成率{figures['done_percent']:.1f}%。"
    )
    doc.heading("一、总体进度")
    doc.table(
        ("项目", "数值"),
        [
            ("具体表现数", figures["items"]),
            ("措施数", figures["measures"]),
            ("已完成", figures["done"]),
            ("逾期", figures["overdue"]),
            ("完成率", float(figures["done_percent"])),
            *((f"措施状态：{k}", v) for k, v in by.items()),
        ],
    )
    doc.heading("二、按责任单位")
    doc.table(("责任单位", *_GROUP_HEADER), _groups(figures["by_unit"], "unit"))
    doc.heading("三、按责任领导")
    doc.table(("责任领导", *_GROUP_HEADER), _groups(figures["by_leader"], "leader"))
    doc.signature(issuer or ledger_policy().issuer, day)
    return doc.bytes()


def _groups(groups: list[dict[str, Any]], key: str) -> Iterator[tuple[object, ...]]:
    for g in groups:
        yield (
            g[key] or "（未填）",
            g["items"],
            g["measures"],
            g["done"],
            g["overdue"],
            float(g["done_percent"]),
        )


def progress_report(session: Session, *, actor: Actor, clock: Clock, ledger_id: int) -> bytes:
    """The progress report of a ledger as DOCX (for a reader of ledgers)."""
    return progress_docx(progress(session, actor=actor, clock=clock, ledger_id=ledger_id))


# --------------------------------------------------------------------------- public notice


def _items(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node["kind"] == "item":
        yield node
        return
    for child in node.get("children") or []:
        yield from _items(child)


def _tally(items: Iterable[dict[str, Any]]) -> Counter[str]:
    return Counter(i.get("status") or LedgerStatus.NOT_STARTED.value for i in items)


def _done(counts: Counter[str]) -> int:
    return sum(counts[s.value] for s in DONE)


def _percent(done: int, total: int) -> float:
    return round(100.0 * done / total, 1) if total else 0.0


NOTICE_TABLE = ("方面", "类别", "问题数", "已整改", "已整改需长期坚持", "推进中", "完成率")


def notice_docx(tree: dict[str, Any], *, day: date, issuer: str | None = None) -> bytes:
    """The public notice (整改情况通报) of a ledger's tree, as seed 003 lays it out: the
    title, 一、整改总体情况 (问题数, 已整改, 已整改需长期坚持, 推进中, % done, and a table
    by 方面 and 类别), then 二、整改落实情况: (一) 方面, 1. 类别, 问题1. …表现在：, (1) 具体表现,
    落实情况：…, and its measures as 一是…；二是…."""
    aspects = tree["aspects"]
    every = [i for a in aspects for i in _items(a)]
    counts = _tally(every)
    total = len(every)
    done = _done(counts)
    in_progress = total - done
    measures = sum(len(i.get("children") or []) for i in every)
    doc = _Doc()
    doc.title(f"关于{tree['title']}整改情况的通报")
    doc.heading("一、整改总体情况")
    doc.text(
        f"{tree['title']}共梳理{len(aspects)}个方面"
        f"{sum(len(a.get('children') or []) for a in aspects)}大类{total}个问题，"
        f"制定{measures}项具体整改措施，对每一项任务都明确了责任领导、责任单位和整改时限，"
        "建立对账销号制度，完成一项、销号一项。"
        f"截至{chinese_date(day)}，{total}个问题中已整改{counts[LedgerStatus.DONE.value]}个，"
        f"已整改需长期坚持{counts[LedgerStatus.DONE_LONG_TERM.value]}个，"
        f"推进中{in_progress}个（其中逾期{counts[LedgerStatus.OVERDUE.value]}个），"
        f"整改完成率{_percent(done, total):.1f}%。"
    )
    rows: list[tuple[object, ...]] = []
    for aspect in aspects:
        for category in aspect.get("children") or []:
            own = _tally(_items(category))
            n = sum(own.values())
            rows.append(
                (
                    aspect["text"],
                    category["text"],
                    n,
                    own[LedgerStatus.DONE.value],
                    own[LedgerStatus.DONE_LONG_TERM.value],
                    n - _done(own),
                    _percent(_done(own), n),
                )
            )
    rows.append(
        (
            "合计",
            "",
            total,
            counts[LedgerStatus.DONE.value],
            counts[LedgerStatus.DONE_LONG_TERM.value],
            in_progress,
            _percent(done, total),
        )
    )
    doc.table(NOTICE_TABLE, rows)
    doc.heading("二、整改落实情况")
    for a_index, aspect in enumerate(aspects, 1):
        doc.text(f"（{cn_number(a_index)}）{aspect['text']}", bold=True)
        for c_index, category in enumerate(aspect.get("children") or [], 1):
            doc.text(f"{c_index}.{category['text']}", bold=True)
            for p_index, problem in enumerate(category.get("children") or [], 1):
                doc.text(f"问题{p_index}.{problem['text'].rstrip('。')}。表现在：")
                for i_index, item in enumerate(problem.get("children") or [], 1):
                    doc.text(f"（{i_index}）{item['text']}")
                    status = item.get("status") or LedgerStatus.NOT_STARTED.value
                    doc.text(f"落实情况：{STATUS_SENTENCE.get(status, status)}")
                    steps = [
                        f"{cn_number(k)}是{m['text'].rstrip('。；;')}"
                        for k, m in enumerate(item.get("children") or [], 1)
                    ]
                    if steps:
                        measures_said = "；".join(steps)
                        doc.text(f"{measures_said}。")
    doc.signature(issuer or ledger_policy().issuer, day)
    return doc.bytes()


def public_notice(session: Session, *, actor: Actor, clock: Clock, ledger_id: int) -> bytes:
    """The public notice (整改情况通报) of a ledger as DOCX (for a reader of ledgers)."""
    tree = ledger_tree(session, actor=actor, ledger_id=ledger_id)
    day = clock.now().astimezone(load_policy(session).tz).date()
    return notice_docx(tree, day=day)
