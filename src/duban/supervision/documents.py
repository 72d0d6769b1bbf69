"""An order as an official document (GB/T 9704-2012 layout), in DOCX and in PDF.

Both files come from one :class:`OrderDocument`: the red head (发文机关标志) and the
document number (发文字号) over a red separator line, the title, the addressees (主送机关),
the body, a table of the problems (place, photo thumbnail, deadline, unit), and the
issuer's name and the date on the right. A 限期整改通知书 is the same for one unit and
its own problems. DOCX is the working copy offices edit; the PDF embeds a CJK font.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.evidence import Photo
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, NotFound
from duban.kernel.ports import PhotoStore
from duban.supervision.fonts import find_cjk_font
from duban.supervision.models import OrderProblem, SupervisionOrder
from duban.supervision.policy import supervision_policy

RED = (0xC0, 0x00, 0x00)
NOTICE_TITLE = "限期整改通知书"
HEADERS = ("序号", "问题", "地点", "照片", "整改时限", "责任单位")


@dataclass(frozen=True)
class ProblemRow:
    """One row of the problem table."""

    position: int
    description: str
    place: str
    deadline: str
    unit: str
    thumbnail: bytes | None


@dataclass(frozen=True)
class OrderDocument:
    """What the DOCX and the PDF of an order or notice show."""

    head: str
    number: str
    title: str
    addressees: tuple[str, ...]
    body: str
    rows: tuple[ProblemRow, ...]
    issuer: str
    date: str
    file_stem: str


def chinese_date(moment: datetime, tz: ZoneInfo) -> str:
    """``2026年12月2日``: Arabic numerals, no leading zeros (GB/T 9704-2012 7.3.5)."""
    local = moment.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


def thumbnail(data: bytes, size: tuple[int, int] = (320, 240)) -> bytes | None:
    """A small JPEG of a photo, or None if it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail(size)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _photo_loader(session: Session, store: PhotoStore) -> Callable[[str | None], bytes | None]:
    def load(photo_id: str | None) -> bytes | None:
        if photo_id is None:
            return None
        photo = session.get(Photo, photo_id)
        if photo is None:
            return None
        try:
            return thumbnail(store.get(photo.storage_key))
        except FileNotFoundError:
            return None

    return load


def order_document(
    session: Session,
    order: SupervisionOrder,
    problems: list[OrderProblem],
    *,
    store: PhotoStore,
    tz: ZoneInfo,
    unit_id: int | None = None,
) -> OrderDocument:
    """The document of ``order`` showing ``problems`` (those the reader may see); with
    ``unit_id`` the 限期整改通知书 of that unit."""
    policy = supervision_policy()
    load = _photo_loader(session, store)
    deadline = chinese_date(order.due_at, tz)
    if unit_id is not None:
        problems = [p for p in problems if p.unit_id == unit_id]
        if not problems:
            raise NotFound("this order has no problem for this unit", unit_id=unit_id)
        units = [problems[0].unit.name]
        title = NOTICE_TITLE
        body = (
            f"经督查，你单位责任范围内存在以下{len(problems)}个问题。请于{deadline}前整改到位，"
            "并将整改措施和整改后照片书面答复；逾期未整改的，将予以通报并提请领导督办。"
        )
        stem = f"notice-{order.id}-{unit_id}"
    else:
        units = [a.unit.name for a in order.addressees]
        title = order.title
        body = order.body or (
            f"现将督查发现的{len(problems)}个问题交办如下，请各责任单位于{deadline}前"
            "整改到位，并逐项书面答复整改措施和整改后照片。"
        )
        stem = f"order-{order.id}"
    rows = tuple(
        ProblemRow(
            position=p.position,
            description=p.description,
            place=p.place,
            deadline=deadline,
            unit=p.unit.name,
            thumbnail=load(p.photo_id),
        )
        for p in problems
    )
    return OrderDocument(
        head=policy.issuer if unit_id is not None else order.series,
        number=order.number,
        title=title,
        addressees=tuple(units),
        body=body,
        rows=rows,
        issuer=policy.issuer,
        date=chinese_date(order.issued_at, tz),
        file_stem=stem,
    )


# --------------------------------------------------------------------------- DOCX


def render_docx(doc: OrderDocument) -> bytes:
    """The document as DOCX (A4, GB/T 9704 margins, red head and line)."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
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

    head = document.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(head, doc.head, size=36, font="方正小标宋简体", bold=True, red=True)
    number = document.add_paragraph()
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(number, doc.number, size=16, font="仿宋_GB2312")
    # The red separator line (版头中的分隔线): a bottom border of the number's paragraph.
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "18"), ("space", "4"), ("color", "C00000")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    number._p.get_or_add_pPr().append(borders)

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(title, doc.title, size=22, font="方正小标宋简体")
    to = document.add_paragraph()
    run(to, "、".join(doc.addressees) + "：", size=16, font="仿宋_GB2312")
    body = document.add_paragraph()
    body.paragraph_format.first_line_indent = Pt(32)
    run(body, doc.body, size=16, font="仿宋_GB2312")

    table = document.add_table(rows=1, cols=len(HEADERS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, HEADERS, strict=True):
        run(cell.paragraphs[0], text, size=12, font="黑体", bold=True)
    for row in doc.rows:
        cells = table.add_row().cells
        for cell, text in zip(
            cells,
            (str(row.position), row.description, row.place, "", row.deadline, row.unit),
            strict=True,
        ):
            run(cell.paragraphs[0], text, size=11, font="仿宋_GB2312")
        if row.thumbnail is not None:
            cells[3].paragraphs[0].add_run().add_picture(io.BytesIO(row.thumbnail), width=Mm(28))
        else:
            run(cells[3].paragraphs[0], "—", size=11, font="仿宋_GB2312")

    document.add_paragraph()
    for text in (doc.issuer, doc.date):
        line = document.add_paragraph()
        line.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        line.paragraph_format.right_indent = Pt(32)
        run(line, text, size=16, font="仿宋_GB2312")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- PDF


def render_pdf(doc: OrderDocument, *, font: Path | None = None) -> bytes:
    """The document as PDF with the CJK font embedded (PolicyError if none is found)."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    path, number = find_cjk_font(font)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(left=28, top=37, right=26)
    pdf.set_auto_page_break(auto=True, margin=35)
    pdf.add_font("cjk", "", str(path), collection_font_number=number)
    pdf.set_title(f"{doc.number} {doc.title}")
    pdf.set_creator("Duban")
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("cjk", size=30)
    pdf.set_text_color(*RED)
    pdf.multi_cell(width, 16, doc.head, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=14)
    pdf.cell(width, 10, doc.number, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.6)
    y = pdf.get_y() + 2
    pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_y(y + 6)

    pdf.set_font("cjk", size=20)
    pdf.multi_cell(width, 11, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=14)
    pdf.multi_cell(width, 8, "、".join(doc.addressees) + "：", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(width, 8, "\u3000\u3000" + doc.body, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font("cjk", size=10)
    with pdf.table(
        col_widths=(8, 38, 26, 28, 28, 28),
        text_align=("CENTER", "LEFT", "LEFT", "CENTER", "CENTER", "LEFT"),
        headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235)),
        line_height=6,
    ) as table:
        heading = table.row()
        for text in HEADERS:
            heading.cell(text)
        for item in doc.rows:
            row = table.row()
            row.cell(str(item.position))
            row.cell(item.description)
            row.cell(item.place)
            if item.thumbnail is not None:
                row.cell(img=io.BytesIO(item.thumbnail), img_fill_width=True)
            else:
                row.cell("—")
            row.cell(item.deadline)
            row.cell(item.unit)

    pdf.ln(12)
    pdf.set_font("cjk", size=14)
    for text in (doc.issuer, doc.date):
        pdf.cell(width - 10, 8, text, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMATS = {"docx": DOCX_TYPE, "pdf": "application/pdf"}


@dataclass(frozen=True)
class DocumentFile:
    """A rendered document: its bytes, media type and file name."""

    data: bytes
    media_type: str
    filename: str


def document_file(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    fmt: str,
    store: PhotoStore,
    font: Path | None = None,
    unit_code: str | None = None,
) -> DocumentFile:
    """The order (or, with ``unit_code``, that unit's 限期整改通知书) as ``fmt`` (docx or
    pdf), showing only the problems ``actor`` may see."""
    from duban.reference import load_policy
    from duban.supervision.orders import get_order, visible_problems

    if fmt not in FORMATS:
        raise InvalidInput("the format must be docx or pdf", field="format")
    order = get_order(session, actor=actor, order_id=order_id)
    unit_id = None
    if unit_code is not None:
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise NotFound("this order has no problem for this unit", unit=unit_code)
        unit_id = unit.id
    doc = order_document(
        session,
        order,
        visible_problems(order, actor),
        store=store,
        tz=load_policy(session).tz,
        unit_id=unit_id,
    )
    data = render_docx(doc) if fmt == "docx" else render_pdf(doc, font=font)
    return DocumentFile(data, FORMATS[fmt], f"{doc.file_stem}.{fmt}")
