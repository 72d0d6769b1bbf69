"""The monthly bulletin (月度通报): one month's evaluation of one kind of object as DOCX,
PDF (a CJK font embedded) or XLSX (one sheet per table).

All three come from one :class:`Bulletin`: a summary paragraph, the ranking with each
score's change against the month before (环比, with ↑ ↓ arrows), the indicator table,
the month's typical cases (典型案例, in DOCX and PDF with thumbnails of their before and
after photos; in XLSX as a sheet) and, in DOCX and PDF, a bar chart of the scores with
Chinese labels.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from duban.evaluation.definitions import definitions
from duban.evaluation.scoring import Value, change
from duban.evaluation.service import (
    NO_VERSION,
    SEE_ALL,
    Period,
    Row,
    _scheme,
    _scored,
    indicators_of,
    parse_object,
)
from duban.evaluation.typical import TypicalCase, typical_cases
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, Msg, PermissionDenied
from duban.kernel.ports import PhotoStore
from duban.reference import load_policy
from duban.supervision import find_cjk_font

# The messages a person reads (zh-CN in duban.web.messages_zh).
BAD_PERIOD = "'period' must be a month as YYYY-MM, e.g. 2026-11"
BAD_FORMAT = "'format' must be one of: docx, pdf, xlsx"
NOT_ALLOWED = "only leaders, supervisors and administrators see the monthly bulletin"

DOCX_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS: Final = {"docx": DOCX_TYPE, "pdf": "application/pdf", "xlsx": XLSX_TYPE}

#: What the document calls each kind of object.
KIND_ZH: Final = {
    "district": "区",
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "unit": "责任单位",
    "collector": "监督员",
    "operator": "受理员",
    "shift_lead": "值班长",
    "dispatcher": "派遣员",
}
#: The chart shows at most this many objects, the best first (the tables show all).
CHART_BARS: Final = 30
RANKING_HEADERS: Final = ("排名", "名称", "代码", "得分", "等级", "环比")
CASES_TITLE: Final = "典型案例"
CASES_HEADERS: Final = ("类型", "考核对象", "案卷号", "类别", "地址", "责任单位", "情况", "描述")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Table:
    """One table of the bulletin (and one sheet of its XLSX)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Bulletin:
    title: str
    summary: str
    tables: tuple[Table, ...]
    chart_title: str
    chart: tuple[tuple[str, float], ...]  # (name, score) in rank order
    file_stem: str
    cases: tuple[TypicalCase, ...] = ()
    scheme: str = ""
    scheme_version: date | None = None
    period: str = ""
    object: str = ""


@dataclass(frozen=True)
class BulletinFile:
    data: bytes
    media_type: str
    filename: str


def parse_month(session: Session, text: str | None) -> tuple[Period, Period, int, int]:
    """``YYYY-MM`` → the month and the month before, in the policy's zone."""
    match = _MONTH.match(text or "")
    if match is None or not 1 <= int(match[2]) <= 12 or not 1900 < int(match[1]) < 9999:
        raise InvalidInput(BAD_PERIOD, field="period")
    year, month = int(match[1]), int(match[2])
    tz = load_policy(session).tz
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    before = datetime(year - (month == 1), (month - 2) % 12 + 1, 1, tzinfo=tz)
    return Period(start, end, tz), Period(before, start, tz), year, month


def arrow(delta: float | None) -> str:
    """环比 as the bulletin prints it: ↑ 2.50, ↓ 10.00, → 0.00, or — (no earlier score)."""
    if delta is None:
        return "—"
    if delta > 0:
        return f"↑ {delta:.2f}"
    if delta < 0:
        return f"↓ {-delta:.2f}"
    return "→ 0.00"


def _value(value: Value, kind: str) -> str:
    if kind == "count":
        return str(int(value.value or 0))
    if value.value is None:
        return "—"
    return f"{value.value * 100:.1f}%"


def build_bulletin(
    session: Session,
    *,
    actor: Actor,
    period: str | None,
    obj: str | None = None,
    scheme_code: str | None = None,
    store: PhotoStore | None = None,
) -> Bulletin:
    """The month's bulletin of ``obj`` (default street) under the scheme (default national);
    the typical cases' photos come from ``store`` (none: the cases without pictures)."""
    if actor.role not in SEE_ALL:
        raise PermissionDenied(NOT_ALLOWED)
    kind = parse_object(obj or "street")
    month, before, year, number = parse_month(session, period)
    scheme = _scheme(scheme_code)
    version = scheme.version_on(month.first_day)
    if version is None:
        raise InvalidInput(
            Msg(NO_VERSION, scheme=scheme.code, day=month.first_day.isoformat()),
            field="scheme",
        )
    defs = definitions()
    rows = _scored(session, defs, kind, month, scheme)
    previous = {r.key: r.score for r in _scored(session, defs, kind, before, scheme)}
    for row in rows:
        if row.score is not None:
            row.change = change(row.score, previous.get(row.key))
    rows.sort(key=lambda r: (r.rank if r.rank is not None else 10**9, r.code))

    label = KIND_ZH[kind]
    when = f"{year}年{number}月"
    ranking = tuple(
        (
            str(r.rank) if r.rank is not None else "—",
            r.name,
            r.code,
            f"{r.score:.2f}" if r.score is not None else "—",
            r.grade or "—",
            arrow(r.change),
        )
        for r in rows
    )
    inds = [i for i in indicators_of(defs, kind) if i.in_bulletin]
    indicators = tuple(
        (r.name, *(_value(r.indicators[i.code], i.kind) for i in inds)) for r in rows
    )
    tables = (
        Table(f"{label}综合排名", RANKING_HEADERS, ranking),
        Table(f"{label}指标明细", ("名称", *(i.label_zh for i in inds)), indicators),
    )
    return Bulletin(
        title=f"{when}城市管理考核{label}通报",
        summary=_summary(when, label, scheme.label_zh, rows),
        tables=tables,
        chart_title=f"{when}各{label}综合得分"
        + (f"（前{CHART_BARS}名）" if len(rows) > CHART_BARS else ""),
        chart=tuple((r.name, r.score) for r in rows if r.score is not None),
        file_stem=f"bulletin-{year:04d}-{number:02d}-{kind}",
        cases=tuple(
            typical_cases(
                session,
                start=month.start,
                end=month.end,
                store=store,
                kind=kind,
                names={r.key: r.name for r in rows},
            )
        ),
        scheme=scheme.code,
        scheme_version=version.effective_from,
        period=f"{year:04d}-{number:02d}",
        object=kind,
    )


def _case_row(case: TypicalCase) -> tuple[str, ...]:
    return (
        case.kind,
        case.object or "—",
        case.code,
        case.category,
        case.address,
        case.unit,
        case.why,
        case.description,
    )


def _case_lines(case: TypicalCase) -> tuple[str, str]:
    """The heading and the paragraph of one typical case."""
    return (
        f"{case.kind}：{case.code}（{case.category}）"
        + (f"——{case.object}" if case.object else ""),
        f"地址：{case.address}；责任单位：{case.unit}；{case.why}。{case.description}",
    )


def _summary(when: str, label: str, scheme: str, rows: list[Row]) -> str:
    scored = [r for r in rows if r.score is not None]
    text = f"{when}，按《{scheme}》对{len(rows)}个{label}进行了考核。"
    if not scored:
        return text + "本月没有得分。"
    top, bottom = scored[0], scored[-1]
    text += f"{top.name}排名第一（{top.score:.2f}分，{top.grade or '—'}级）"
    if bottom is not top:
        text += f"，{bottom.name}排名末位（{bottom.score:.2f}分，{bottom.grade or '—'}级）"
    up = sum(1 for r in scored if r.change is not None and r.change > 0)
    down = sum(1 for r in scored if r.change is not None and r.change < 0)
    return text + f"。与上月相比，得分上升的{up}个，下降的{down}个。"


# --------------------------------------------------------------------------- rendering


def render_chart(bulletin: Bulletin, font: Path | None = None) -> bytes:
    """The scores as a PNG bar chart with Chinese labels (the CJK font of the PDF)."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    path, _ = find_cjk_font(font)
    face = FontProperties(fname=str(path))
    figure = Figure(figsize=(6.4, 3.2), dpi=120)
    axes = figure.subplots()
    shown = bulletin.chart[:CHART_BARS]
    names = [name for name, _ in shown]
    scores = [score for _, score in shown]
    bars = axes.bar(range(len(names)), scores, color="#3a6ea5")
    axes.set_xticks(range(len(names)), names, fontproperties=face)
    if len(names) > 6:
        axes.tick_params(axis="x", labelrotation=45)
    axes.set_ylabel("得分", fontproperties=face)
    axes.set_title(bulletin.chart_title, fontproperties=face)
    axes.bar_label(bars, fmt="%.1f")
    axes.set_ylim(0, max([100.0, *scores]) * 1.1)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def render_docx(bulletin: Bulletin, chart: bytes) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()

    def run(paragraph: object, text: str, size: int, bold: bool = False) -> None:
        r = paragraph.add_run(text)  # type: ignore[attr-defined]
        r.font.size = Pt(size)
        r.font.bold = bold
        r.font.name = "仿宋_GB2312"
        r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋_GB2312")

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(title, bulletin.title, 20, bold=True)
    run(doc.add_paragraph(), "\u3000\u3000" + bulletin.summary, 14)
    for table in bulletin.tables:
        run(doc.add_paragraph(), table.title, 14, bold=True)
        grid = doc.add_table(rows=1, cols=len(table.headers))
        grid.style = "Table Grid"
        for cell, text in zip(grid.rows[0].cells, table.headers, strict=True):
            run(cell.paragraphs[0], text, 11, bold=True)
        for values in table.rows:
            cells = grid.add_row().cells
            for cell, text in zip(cells, values, strict=True):
                run(cell.paragraphs[0], text, 11)
    if bulletin.chart:
        run(doc.add_paragraph(), bulletin.chart_title, 14, bold=True)
        doc.add_picture(io.BytesIO(chart), width=Cm(15))
    if bulletin.cases:
        run(doc.add_paragraph(), CASES_TITLE, 14, bold=True)
    for case in bulletin.cases:
        heading, body = _case_lines(case)
        run(doc.add_paragraph(), heading, 12, bold=True)
        run(doc.add_paragraph(), body, 11)
        pictures = [(n, p) for n, p in (("处置前", case.before), ("处置后", case.after)) if p]
        if pictures:
            # Side by side in one paragraph (no table: the tables are the data's).
            row = doc.add_paragraph()
            for _, picture in pictures:
                row.add_run().add_picture(io.BytesIO(picture), width=Cm(7))
                row.add_run("\u3000")
            run(doc.add_paragraph(), "\u3000\u3000".join(n for n, _ in pictures), 10)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def render_pdf(bulletin: Bulletin, chart: bytes, font: Path | None = None) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    path, number = find_cjk_font(font)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(left=20, top=25, right=20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_font("cjk", "", str(path), collection_font_number=number)
    pdf.set_title(bulletin.title)
    pdf.set_creator("Duban")
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("cjk", size=18)
    pdf.multi_cell(width, 10, bulletin.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("cjk", size=12)
    pdf.multi_cell(width, 7, "\u3000\u3000" + bulletin.summary, new_x="LMARGIN", new_y="NEXT")
    for table in bulletin.tables:
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.cell(width, 8, table.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        with pdf.table(
            headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235)),
            line_height=6,
            text_align="CENTER",
        ) as grid:
            heading = grid.row()
            for text in table.headers:
                heading.cell(text)
            for values in table.rows:
                row = grid.row()
                for text in values:
                    row.cell(text)
    if bulletin.chart:
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.cell(width, 8, bulletin.chart_title, new_x="LMARGIN", new_y="NEXT")
        pdf.image(io.BytesIO(chart), w=width)
    if bulletin.cases:
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.cell(width, 8, CASES_TITLE, new_x="LMARGIN", new_y="NEXT")
    for case in bulletin.cases:
        line, body = _case_lines(case)
        pdf.set_font("cjk", size=11)
        pdf.multi_cell(width, 7, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        pdf.multi_cell(width, 5.5, body, new_x="LMARGIN", new_y="NEXT")
        pictures = [(n, p) for n, p in (("处置前", case.before), ("处置后", case.after)) if p]
        if pictures:
            side = (width - 6) / 2
            if pdf.will_page_break(side * 0.8 + 8):
                pdf.add_page()
            top = pdf.get_y() + 1
            tallest = 0.0
            for index, (name, picture) in enumerate(pictures):
                x = pdf.l_margin + index * (side + 6)
                info = pdf.image(io.BytesIO(picture), x=x, y=top, w=side * 0.8)
                tallest = max(tallest, float(info.rendered_height))
                pdf.set_xy(x, top + float(info.rendered_height) + 1)
                pdf.cell(side * 0.8, 5, name, align="C")
            pdf.set_xy(pdf.l_margin, top + tallest + 8)
    return bytes(pdf.output())


def render_xlsx(bulletin: Bulletin) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for table in bulletin.tables:
        sheet = book.create_sheet(table.title[:31])
        sheet.append(list(table.headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for values in table.rows:
            sheet.append([_cell(v) for v in values])
    if bulletin.cases:
        sheet = book.create_sheet(CASES_TITLE)
        sheet.append(list(CASES_HEADERS))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for case in bulletin.cases:
            sheet.append(list(_case_row(case)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(text: str) -> str | float:
    """Numbers as numbers in the sheet, everything else as printed."""
    try:
        return float(text)
    except ValueError:
        return text
