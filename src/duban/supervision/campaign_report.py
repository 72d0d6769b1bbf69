"""A campaign's closing report (专项行动总结报告) as DOCX, in the layout of the orders'
documents (GB/T 9704-2012: red head, red line, title, body in 仿宋): the period and the
scope, the summary figures, a table by unit, a chart of the cases by unit (matplotlib,
Chinese labels in the CJK font the PDFs embed) and the typical cases.

Built only from what the reader may see: a street's staff get their street's report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from duban.cases import STATUS_LABELS, Case, CaseStatus, overdue_condition
from duban.kernel.context import Actor
from duban.reference import load_policy
from duban.supervision.campaign_rules import fixed_rate
from duban.supervision.campaigns import (
    CampaignStats,
    Row,
    campaign_stats,
    get_campaign,
    kind_label,
    scope_names,
    scope_of,
    visible_tagged,
)
from duban.supervision.documents import DOCX_TYPE, RED, DocumentFile, chinese_date
from duban.supervision.fonts import find_cjk_font
from duban.supervision.models import Campaign
from duban.supervision.policy import supervision_policy

UNIT_HEADERS = ("序号", "责任单位", "发现", "已整改", "未结", "超期", "整改率")
CASE_HEADERS = ("案卷号", "问题", "地点", "责任单位", "状态")
#: How many typical cases the report lists.
TYPICAL = 5
#: How many units the chart shows (the rest are summed as 其他).
CHART_UNITS = 12


@dataclass(frozen=True)
class TypicalCase:
    code: str
    description: str
    place: str
    unit: str
    status: str


@dataclass(frozen=True)
class CampaignReport:
    """What the closing report shows."""

    head: str
    title: str
    kind: str
    period: str
    scope: tuple[str, ...]
    summary: str
    units: tuple[Row, ...]
    stats: CampaignStats
    typical: tuple[TypicalCase, ...]
    issuer: str
    date: str


def typical_cases(
    session: Session, *, actor: Actor, campaign: Campaign, now: datetime
) -> list[TypicalCase]:
    """The cases worth telling: overdue first, then the most reworked, then the newest."""
    late = overdue_condition(now)
    rows = session.execute(
        select(Case, late)
        .where(*visible_tagged(campaign.id, actor))
        .options(selectinload(Case.unit))
        .order_by(late.desc(), Case.rework_count.desc(), Case.created_at.desc(), Case.id)
        .limit(TYPICAL)
    ).all()
    out = []
    for case, overdue in rows:
        status = STATUS_LABELS[CaseStatus(case.status)][0] + ("（超期）" if overdue else "")
        out.append(
            TypicalCase(
                code=case.code,
                description=case.description[:200],
                place=case.address or f"{case.lat:.5f}, {case.lon:.5f}",
                unit=case.unit.name if case.unit else "未派遣",
                status=status,
            )
        )
    return out


def campaign_report(
    session: Session, *, actor: Actor, campaign: Campaign, now: datetime
) -> CampaignReport:
    """The report's content, as ``actor`` may see it."""
    tz = load_policy(session).tz
    stats = campaign_stats(session, actor=actor, campaign=campaign, now=now, lang="zh")
    names = scope_names(session, scope_of(campaign), "zh")
    scope = []
    if names["categories"]:
        scope.append("问题类别：" + "、".join(names["categories"]))
    if names["regions"]:
        scope.append("区域：" + "、".join(names["regions"]))
    if names["sources"]:
        scope.append("来源：" + "、".join(names["sources"]))
    rate = fixed_rate(stats.fixed, stats.found)
    start = f"{campaign.starts_on.year}年{campaign.starts_on.month}月{campaign.starts_on.day}日"
    end = f"{campaign.ends_on.year}年{campaign.ends_on.month}月{campaign.ends_on.day}日"
    summary = (
        f"{start}至{end}，{campaign.name}期间共发现问题{stats.found}个，已整改{stats.fixed}个，"
        f"未结{stats.open}个，其中超期{stats.overdue}个"
        + (f"，整改率{rate}%。" if rate is not None else "。")
    )
    return CampaignReport(
        head=supervision_policy().issuer,
        title=f"关于{campaign.name}情况的报告",
        kind=kind_label(campaign.kind, "zh"),
        period=f"{start}至{end}",
        scope=tuple(scope),
        summary=summary,
        units=tuple(stats.by_unit),
        stats=stats,
        typical=tuple(typical_cases(session, actor=actor, campaign=campaign, now=now)),
        issuer=supervision_policy().issuer,
        date=chinese_date(campaign.closed_at or now, tz),
    )


def unit_chart(rows: tuple[Row, ...], *, font: Path | None = None) -> bytes | None:
    """A bar chart of found and fixed cases by unit (PNG), or None without cases."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator

    path, _number = find_cjk_font(font)
    cjk = FontProperties(fname=str(path), size=9)
    shown = list(rows[:CHART_UNITS])
    if len(rows) > CHART_UNITS:
        rest = rows[CHART_UNITS:]
        shown.append(
            Row(
                "",
                "其他",
                sum(r.found for r in rest),
                sum(r.fixed for r in rest),
                sum(r.open for r in rest),
                sum(r.overdue for r in rest),
            )
        )
    figure, axes = plt.subplots(figsize=(6.4, 3.2), dpi=150)
    try:
        xs = range(len(shown))
        axes.bar(
            [x - 0.2 for x in xs], [r.found for r in shown], 0.4, label="发现", color="#546e7a"
        )
        axes.bar(
            [x + 0.2 for x in xs], [r.fixed for r in shown], 0.4, label="已整改", color="#2e7d32"
        )
        axes.set_xticks(list(xs))
        axes.set_xticklabels([r.label for r in shown], fontproperties=cjk, rotation=20, ha="right")
        axes.set_title("各责任单位发现与整改情况", fontproperties=cjk)
        axes.set_ylabel("问题数", fontproperties=cjk)
        axes.legend(prop=cjk)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)


def render_report_docx(report: CampaignReport, *, chart: bytes | None) -> bytes:
    """The report as DOCX (A4, GB/T 9704 margins, red head and line)."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    def para(
        text: str,
        *,
        size: float = 16,
        font: str = "仿宋_GB2312",
        bold: bool = False,
        red: bool = False,
        align: Any = None,
        indent: bool = False,
    ) -> object:
        p = document.add_paragraph()
        if align is not None:
            p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Pt(32)
        run(p, text, size=size, font=font, bold=bold, red=red)
        return p

    def run(
        p: object, text: str, *, size: float, font: str, bold: bool = False, red: bool = False
    ) -> None:
        r = p.add_run(text)  # type: ignore[attr-defined]
        r.font.size = Pt(size)
        r.font.bold = bold
        r.font.name = font
        r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
        if red:
            r.font.color.rgb = RGBColor(*RED)

    def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        t = document.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(t.rows[0].cells, headers, strict=True):
            run(cell.paragraphs[0], text, size=12, font="黑体", bold=True)
        for values in rows:
            for cell, text in zip(t.add_row().cells, values, strict=True):
                run(cell.paragraphs[0], text, size=11, font="仿宋_GB2312")

    center = WD_ALIGN_PARAGRAPH.CENTER
    para(report.head, size=36, font="方正小标宋简体", bold=True, red=True, align=center)
    line = para(report.kind, align=center)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "18"), ("space", "4"), ("color", "C00000")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    line._p.get_or_add_pPr().append(borders)  # type: ignore[attr-defined]
    para(report.title, size=22, font="方正小标宋简体", align=center)

    para("一、基本情况", font="黑体")
    para(f"行动时间：{report.period}", indent=True)
    for text in report.scope:
        para(text + "。", indent=True)
    para(report.summary, indent=True)

    para("二、各责任单位整改情况", font="黑体")
    table(
        UNIT_HEADERS,
        [
            (
                str(i),
                r.label,
                str(r.found),
                str(r.fixed),
                str(r.open),
                str(r.overdue),
                f"{fixed_rate(r.fixed, r.found)}%" if r.found else "—",
            )
            for i, r in enumerate(report.units, start=1)
        ],
    )
    if chart is not None:
        document.add_paragraph().add_run().add_picture(io.BytesIO(chart), width=Mm(150))

    para("三、典型问题", font="黑体")
    if report.typical:
        table(
            CASE_HEADERS,
            [(c.code, c.description, c.place, c.unit, c.status) for c in report.typical],
        )
    else:
        para("本次行动未发现问题。", indent=True)

    document.add_paragraph()
    for text in (report.issuer, report.date):
        p = para(text, align=WD_ALIGN_PARAGRAPH.RIGHT)
        p.paragraph_format.right_indent = Pt(32)  # type: ignore[attr-defined]
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def report_file(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    now: datetime,
    font: Path | None = None,
) -> DocumentFile:
    """The closing report of a campaign as DOCX, showing what ``actor`` may see."""
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    report = campaign_report(session, actor=actor, campaign=campaign, now=now)
    data = render_report_docx(report, chart=unit_chart(report.units, font=font))
    return DocumentFile(data, DOCX_TYPE, f"campaign-{campaign.id}-report.docx")
