"""GET /api/v1/reports/bulletin: the monthly bulletin (月度通报), each file opened.

The November of tests/evaluation/conftest.py, national scheme: 东街街道 (S1) 80 points,
rank 1, B, ↓ 10 against October (90); 西街街道 (S2) 50, rank 2, D, ↓ 40 (October 90).
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader

from duban.evaluation.bulletin import (
    BAD_FORMAT,
    BAD_PERIOD,
    NOT_ALLOWED,
    RANKING_HEADERS,
    Bulletin,
    Table,
    render_chart,
    render_docx,
    render_pdf,
)
from duban.web.i18n import translate
from tests.evaluation.conftest import November, regions
from tests.factories.world import World
from tests.http import API, Api, assert_error

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bulletin(api: Api, by: str = "leader", **params: Any) -> httpx.Response:
    return api.get("/reports/bulletin", by, **params)


def ok(api: Api, **params: Any) -> httpx.Response:
    response = bulletin(api, **params)
    assert response.status_code == 200, response.text
    return response


def test_docx_has_summary_ranking_indicators_and_chart(api: Api, november: November) -> None:
    r = ok(api, period="2026-11", format="docx")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="bulletin-2026-11-street.docx"' in r.headers["content-disposition"]
    doc = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "2026年11月城市管理考核街道通报" in text
    assert "东街街道排名第一（80.00分，B级）" in text
    assert "西街街道排名末位（50.00分，D级）" in text
    assert "下降的2个" in text
    ranking, indicators = ([[c.text for c in row.cells] for row in t.rows] for t in doc.tables)
    assert ranking == [
        ["排名", "名称", "代码", "得分", "等级", "环比"],
        ["1", "东街街道", "S1", "80.00", "B", "↓ 10.00"],
        ["2", "西街街道", "S2", "50.00", "D", "↓ 40.00"],
    ]
    assert indicators[0][:4] == ["名称", "立案数", "监督举报率", "结案率"]
    head = indicators[0]
    s2 = dict(zip(head, indicators[2], strict=True))
    assert s2["名称"] == "西街街道"
    assert s2["按期结案率"] == "50.0%"
    assert s2["返工数"] == "1"
    assert len(doc.inline_shapes) == 4  # the chart, the after-photos of cases F, C and A


def test_pdf_embeds_the_font_and_shows_the_arrows(api: Api, november: November) -> None:
    r = ok(api, period="2026-11", format="pdf")
    assert r.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("街道综合排名", "东街街道", "西街街道", "80.00", "50.00", "↓", "按期结案率"):
        assert expected in text, expected
    images = [i for page in reader.pages for i in page.images]
    # The chart and the after-photos of the three typical cases (F, C and A).
    assert len(images) == 4


def test_xlsx_has_one_sheet_per_table(api: Api, november: November) -> None:
    r = ok(api, period="2026-11", format="xlsx")
    assert r.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["街道综合排名", "街道指标明细", "典型案例"]
    ranking = [list(row) for row in book["街道综合排名"].iter_rows(values_only=True)]
    assert ranking[1:] == [
        [1.0, "东街街道", "S1", 80.0, "B", "↓ 10.00"],
        [2.0, "西街街道", "S2", 50.0, "D", "↓ 40.00"],
    ]
    detail = [list(row) for row in book["街道指标明细"].iter_rows(values_only=True)]
    assert [row[0] for row in detail] == ["名称", "东街街道", "西街街道"]


def test_other_objects_and_schemes(api: Api, november: November) -> None:
    r = ok(api, period="2026-11", format="xlsx", object="unit")
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["责任单位综合排名", "责任单位指标明细", "典型案例"]
    r = ok(api, period="2026-11", format="xlsx", scheme="city_streets")
    ranking = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert {row[1] for row in ranking[1:]} == {"东街街道", "西街街道"}


def test_a_rise_has_an_up_arrow_and_ties_share_a_rank(api: Api, november: November) -> None:
    # December has no cases: nothing lost, full marks for both, up on November.
    r = ok(api, period="2026-12", format="xlsx")
    ranking = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert ranking[1:] == [
        (1, "东街街道", "S1", 100, "A", "↑ 20.00"),
        (1, "西街街道", "S2", 100, "A", "↑ 50.00"),
    ]
    r = ok(api, period="2026-12", format="docx")
    summary = Document(io.BytesIO(r.content)).paragraphs[1].text
    assert "得分上升的2个，下降的0个" in summary


def test_january_compares_with_the_december_before(api: Api, november: November) -> None:
    r = ok(api, period="2027-01", format="xlsx")
    ranking = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert [row[5] for row in ranking[1:]] == ["→ 0.00", "→ 0.00"]


def test_before_the_scheme_there_is_no_change(api: Api, world: World) -> None:
    regions(world)  # city_streets takes effect on 2026-01-01: December 2025 has no score
    r = ok(api, period="2026-01", format="xlsx", scheme="city_streets")
    ranking = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert [(row[1], row[5]) for row in ranking[1:]] == [("东街街道", "—"), ("西街街道", "—")]


def test_default_format_is_docx(api: Api, november: November) -> None:
    r = ok(api, period="2026-11")
    assert r.headers["content-disposition"].endswith('.docx"')


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "docx"}, "period"),
        ({"period": "2026-13", "format": "docx"}, "period"),
        ({"period": "0001-01", "format": "xlsx"}, "period"),
        ({"period": "9999-12", "format": "xlsx"}, "period"),
        ({"period": "November", "format": "docx"}, "period"),
        ({"period": "2026-11-01", "format": "pdf"}, "period"),
        ({"period": "2026-11", "format": "odt"}, "format"),
        ({"period": "2026-11", "object": "planet"}, "object"),
        ({"period": "2026-11", "scheme": "nope"}, "scheme"),
        ({"period": "2025-11", "scheme": "city_streets"}, "scheme"),
    ],
)
def test_bad_parameters_are_422(api: Api, world: World, params: dict[str, str], field: str) -> None:
    regions(world)
    error = assert_error(bulletin(api, **params), 422, "invalid_input")
    assert error["detail"]["field"] == field


def test_the_message_names_the_month_format(api: Api, world: World) -> None:
    error = assert_error(bulletin(api, period="2026/11"), 422)
    assert "YYYY-MM" in error["message"]
    # the catalogue has every message of the bulletin in Chinese
    for text in (BAD_PERIOD, BAD_FORMAT, NOT_ALLOWED):
        assert translate(text, "zh") != text
    assert translate(BAD_PERIOD, "zh") == "'period' 应为月份，格式 YYYY-MM，如 2026-11"


def test_the_api_answers_in_chinese_when_asked(api: Api, world: World) -> None:
    """Accept-Language: zh gives the catalogue's Chinese; code and field stay for programs."""
    headers = {**api.headers("leader"), "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    r = api.client.get(f"{API}/reports/bulletin", headers=headers, params={"period": "2026/11"})
    error = assert_error(r, 422, "invalid_input")
    assert error["message"] == "'period' 应为月份，格式 YYYY-MM，如 2026-11"
    assert error["detail"]["field"] == "period"
    english = assert_error(bulletin(api, period="2026/11"), 422, "invalid_input")
    assert english["message"] == BAD_PERIOD


def test_leaders_and_admins_only(api: Api, november: November) -> None:
    assert ok(api, period="2026-11", format="xlsx").content
    assert bulletin(api, "admin", period="2026-11", format="xlsx").status_code == 200
    for role in ("handler", "operator", "dispatcher", "collector", "shift_lead", "citizen"):
        assert_error(bulletin(api, role, period="2026-11", format="xlsx"), 403, "forbidden")


def test_many_objects_chart_the_first_thirty() -> None:
    rows = tuple((str(i + 1), f"第{i + 1}网格", f"G{i}", "60.00", "C", "—") for i in range(40))
    many = Bulletin(
        title="通报",
        summary="摘要",
        tables=(Table("网格综合排名", RANKING_HEADERS, rows),),
        chart_title="各网格综合得分（前30名）",
        chart=tuple((f"第{i + 1}网格", 60.0) for i in range(40)),
        file_stem="many",
    )
    chart = render_chart(many)
    assert chart.startswith(b"\x89PNG")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(many, chart))).pages)
    assert "第40网格" in text  # every row in the table
    assert len(Document(io.BytesIO(render_docx(many, chart))).tables[0].rows) == 41
