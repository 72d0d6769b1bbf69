"""The minutes of a joint session (会议纪要) as DOCX, in the style of the orders'
documents (:mod:`duban.supervision.documents`): a red head and separator line, the
title, when and where, the units taking part, the minutes, a table of the decisions
(议定事项) with their units and deadlines, and the issuer and date on the right."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from duban.kernel.context import Actor
from duban.reference import load_policy
from duban.supervision.documents import RED, chinese_date
from duban.supervision.joint import visible_decisions
from duban.supervision.models import JointSession
from duban.supervision.policy import supervision_policy
from duban.supervision.rules import PROBLEM_LABELS, ProblemStatus

HEAD = "会议纪要"
#: A deadline given as a date is due at the start of the next day: print the day itself.
_A_MOMENT = timedelta(microseconds=1)
DECISION_HEADERS = ("序号", "议定事项", "责任单位", "完成时限", "办理情况")


def minutes_docx(session: Session, meeting: JointSession, actor: Actor) -> bytes:
    """The minutes of ``meeting`` with the decisions ``actor`` may see."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    tz = load_policy(session).tz
    issuer = supervision_policy().issuer
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    def run(
        paragraph: object,
        text: str,
        *,
        size: float,
        font: str,
        bold: bool = False,
        red: bool = False,
    ) -> None:
        r = paragraph.add_run(text)  # type: ignore[attr-defined]
        r.font.size = Pt(size)
        r.font.bold = bold
        r.font.name = font
        r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
        if red:
            r.font.color.rgb = RGBColor(*RED)

    def line(
        text: str,
        *,
        size: float = 16,
        font: str = "仿宋_GB2312",
        indent: bool = False,
        align: Any = None,
    ) -> object:
        paragraph = document.add_paragraph()
        if align is not None:
            paragraph.alignment = align
        if indent:
            paragraph.paragraph_format.first_line_indent = Pt(32)
        run(paragraph, text, size=size, font=font)
        return paragraph

    head = document.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(head, HEAD, size=36, font="方正小标宋简体", bold=True, red=True)
    number = line(f"{issuer}　第{meeting.id}期", align=WD_ALIGN_PARAGRAPH.CENTER)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "18"), ("space", "4"), ("color", "C00000")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    number._p.get_or_add_pPr().append(borders)  # type: ignore[attr-defined]

    line(meeting.title, size=22, font="方正小标宋简体", align=WD_ALIGN_PARAGRAPH.CENTER)
    held = meeting.held_at.astimezone(tz)
    line(f"时间：{chinese_date(held, tz)} {held:%H:%M}")
    if meeting.place:
        line(f"地点：{meeting.place}")
    line("参会单位：" + "、".join(u.unit.name for u in meeting.units))
    for text in (meeting.minutes or "").splitlines():
        if text.strip():
            line(text.strip(), indent=True)

    decisions = visible_decisions(meeting, actor)
    if decisions:
        line("议定事项", font="黑体")
        table = document.add_table(rows=1, cols=len(DECISION_HEADERS))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(table.rows[0].cells, DECISION_HEADERS, strict=True):
            run(cell.paragraphs[0], text, size=12, font="黑体", bold=True)
        for d in decisions:
            cells = table.add_row().cells
            values = (
                str(d.position),
                d.text,
                d.unit.name,
                chinese_date(d.due_at - _A_MOMENT, tz)
                if d.due_work_days is None
                else chinese_date(d.due_at, tz),
                PROBLEM_LABELS[ProblemStatus(d.status)][0],
            )
            for cell, text in zip(cells, values, strict=True):
                run(cell.paragraphs[0], text, size=11, font="仿宋_GB2312")

    document.add_paragraph()
    for text in (issuer, chinese_date(meeting.updated_at, tz)):
        signature = line(text, align=WD_ALIGN_PARAGRAPH.RIGHT)
        signature.paragraph_format.right_indent = Pt(32)  # type: ignore[attr-defined]
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
