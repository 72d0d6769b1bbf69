"""The supervision API: compile, list, read, answer, review and the documents, with
the documented error shape for bad input and for roles that may not."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
import pytest
from docx import Document
from fastapi import FastAPI
from pypdf import PdfReader

from duban.config import Settings
from tests.http import API, Api, assert_error

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "supervision"


def _order(api: Api, **body: object) -> dict[str, object]:
    a = api.given("dispatched", address="人民路88号门前")
    b = api.given("dispatched")
    photo_case = api.report(photo_ids=[api.photo(by="operator")], address="建设路12号")
    api.act(photo_case["id"], "assign", "operator", collector="collector")
    api.act(photo_case["id"], "verify", "collector")
    api.act(photo_case["id"], "file", "shift_lead")
    api.act(photo_case["id"], "dispatch", "dispatcher", unit="HWC")
    payload = {
        "title": "关于督促整改市容环境问题的通知",
        "case_ids": [a["id"], b["id"], photo_case["id"]],
    }
    payload.update(body)
    response = api.client.post(
        f"{API}/supervision-orders", json=payload, headers=api.headers("supervisor")
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_a_supervisor_issues_a_numbered_order(api: Api) -> None:
    order = _order(api)
    assert order["number"] == "督查通知单〔2026〕第1期"
    assert order["status"] == "issued"
    assert [u["code"] for u in order["units"]] == ["SZGC", "HWC"]  # type: ignore[attr-defined]
    problems = order["problems"]
    assert [p["unit"]["code"] for p in problems] == ["SZGC", "SZGC", "HWC"]  # type: ignore[attr-defined]
    assert problems[2]["photo_url"] is not None  # type: ignore[index]
    assert order["due_at"].startswith("2026-11-30T09:00:00+08:00")  # type: ignore[attr-defined]
    again = _order(api)
    assert again["number"] == "督查通知单〔2026〕第2期"
    page = api.get("/supervision-orders", "leader").json()
    assert [o["number"] for o in page["items"]] == [again["number"], order["number"]]
    assert page["total"] == 2


def test_reply_accept_and_send_back_over_http(api: Api) -> None:
    order = _order(api)
    oid = order["id"]
    p1, p2, p3 = (p["id"] for p in order["problems"])  # type: ignore[attr-defined]
    c = api.client
    base = f"{API}/supervision-orders/{oid}/problems"
    own = api.photo(by="handler")
    r = c.post(
        f"{base}/{p1}/reply",
        json={"measures": "已清理", "done": True, "photo_ids": [own]},
        headers=api.headers("handler"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress"
    assert [p["id"] for p in r.json()["problems"]] == [p1, p2]  # only its own problems
    assert_error(
        c.post(
            f"{base}/{p3}/reply",
            json={"measures": "x", "done": True},
            headers=api.headers("handler"),
        ),
        404,
    )
    assert_error(
        c.post(f"{base}/{p1}/send-back", json={"reason": ""}, headers=api.headers("supervisor")),
        422,
    )
    assert_error(c.post(f"{base}/{p1}/accept", headers=api.headers("handler")), 403)
    back = c.post(
        f"{base}/{p1}/send-back", json={"reason": "照片不清晰"}, headers=api.headers("supervisor")
    )
    assert back.status_code == 200
    assert back.json()["problems"][0]["status"] == "sent_back"
    assert back.json()["problems"][0]["send_back_reason"] == "照片不清晰"
    for pid, who in ((p1, "handler"), (p2, "handler"), (p3, "handler2")):
        r = c.post(
            f"{base}/{pid}/reply",
            json={"measures": "已整改", "done": True},
            headers=api.headers(who),
        )
        assert r.status_code == 200, r.text
        r = c.post(f"{base}/{pid}/accept", headers=api.headers("supervisor"))
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    assert [e["action"] for e in r.json()["events"]] == [
        "issue",
        "answer",
        "send_back",
        "answer",
        "accept",
        "answer",
        "accept",
        "answer",
        "accept",
    ]
    assert_error(c.post(f"{base}/{p1}/accept", headers=api.headers("supervisor")), 409)


def test_bad_input_and_forbidden_roles(api: Api) -> None:
    c = api.client
    url = f"{API}/supervision-orders"
    case = api.given("dispatched")
    sup = api.headers("supervisor")
    assert_error(c.post(url, json={"title": "x", "case_ids": []}, headers=sup), 422)
    assert_error(c.post(url, json={"title": "x", "case_ids": [99999]}, headers=sup), 422)
    assert_error(
        c.post(url, json={"title": "x", "case_ids": [case["id"]], "units": ["NOPE"]}, headers=sup),
        422,
    )
    error = assert_error(
        c.post(url, json={"title": "x", "rule": {"kind": "magic"}}, headers=sup), 422
    )
    assert error["detail"]["field"] == "rule.kind"
    assert_error(c.post(url, json={"title": "x", "rule": {"kind": "flagged"}}, headers=sup), 422)
    assert_error(
        c.post(url, json={"title": "x", "case_ids": [case["id"]], "extra": 1}, headers=sup), 422
    )
    assert_error(
        c.post(url, json={"title": "x", "case_ids": [case["id"]]}, headers=api.headers("leader")),
        403,
    )
    assert_error(c.post(url, json={"title": "x", "case_ids": [case["id"]]}), 401)
    assert_error(api.get("/supervision-orders", "citizen"), 403)
    assert_error(api.get("/supervision-orders/424242", "supervisor"), 404)
    assert_error(api.get("/supervision-orders/0", "supervisor"), 422)
    assert api.get("/supervision-orders", "supervisor").json()["total"] == 0  # nothing written
    r = c.post(
        f"{API}/supervision-rules",
        json={"name": "超期3日", "kind": "overdue", "params": {"work_days": 3}},
        headers=sup,
    )
    assert r.status_code == 201, r.text
    assert_error(
        c.post(
            f"{API}/supervision-rules", json={"name": "超期3日", "kind": "overdue"}, headers=sup
        ),
        409,
    )
    assert [x["name"] for x in api.get("/supervision-rules", "leader").json()] == ["超期3日"]


def test_documents_open_and_show_the_order(api: Api) -> None:
    order = _order(api)
    oid = order["id"]
    r = api.get(f"/supervision-orders/{oid}/document.docx", "supervisor")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    docx = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in docx.paragraphs)
    assert "督查通知单" in docx.paragraphs[0].text
    assert docx.paragraphs[0].runs[0].font.color.rgb is not None
    assert str(docx.paragraphs[0].runs[0].font.color.rgb) == "C00000"
    assert "督查通知单〔2026〕第1期" in text
    assert "关于督促整改市容环境问题的通知" in text
    assert "市政工程管理处、环境卫生管理处：" in text
    assert "2026年11月23日" in text  # 成文日期
    table = docx.tables[0]
    assert [c.text for c in table.rows[0].cells] == [
        "序号",
        "问题",
        "地点",
        "照片",
        "整改时限",
        "责任单位",
    ]
    assert len(table.rows) == 4
    assert table.rows[1].cells[2].text == "人民路88号门前"
    assert table.rows[3].cells[4].text == "2026年11月30日"
    assert len(docx.inline_shapes) == 1  # the one case with a photo has its thumbnail
    section = docx.sections[0]
    assert round(section.top_margin.mm) == 37
    assert round(section.left_margin.mm) == 28

    r = api.get(f"/supervision-orders/{oid}/document.pdf", "supervisor")
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(r.content))
    pdf_text = "".join(page.extract_text() for page in reader.pages)
    for expected in (
        "督查通知单〔2026〕第1期",
        "关于督促整改市容环境问题的通知",
        "人民路88号门前",
        "环境卫生管理处",
        "2026年11月30日",
        "城市管理督查组",
    ):
        assert expected in pdf_text.replace("\n", ""), expected
    fonts = reader.pages[0]["/Resources"]["/Font"]
    font = next(iter(fonts.values())).get_object()
    assert "/FontFile2" in font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = pypdfium2.PdfDocument(r.content)
    image = pdf[0].render(scale=1.5).to_pil()
    image.save(ARTIFACTS / "order-page-1.png")
    pdf.close()
    assert image.size[0] > 800
    # The red head is red: some pixels of the top band are strongly red.
    top = image.convert("RGB").crop((0, 0, image.size[0], image.size[1] // 5))
    assert any(r > 150 and g < 60 and b < 60 for r, g, b in top.get_flattened_data())


def test_a_unit_gets_its_own_notice_and_sees_only_its_problems(api: Api) -> None:
    order = _order(api)
    oid = order["id"]
    r = api.get(f"/supervision-orders/{oid}/notices/HWC.docx", "handler2")
    assert r.status_code == 200, r.text
    docx = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in docx.paragraphs)
    assert "限期整改通知书" in text
    assert "环境卫生管理处：" in text
    assert len(docx.tables[0].rows) == 2
    assert_error(api.get(f"/supervision-orders/{oid}/notices/SZGC.docx", "handler2"), 404)
    pdf = api.get(f"/supervision-orders/{oid}/notices/SZGC.pdf", "supervisor")
    assert "限期整改通知书" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    mine = api.get(f"/supervision-orders/{oid}/document.docx", "handler2")
    rows = Document(io.BytesIO(mine.content)).tables[0].rows
    assert len(rows) == 2  # the heading and its one problem
    assert_error(api.get(f"/supervision-orders/{oid}", "collector"), 403)


def test_no_cjk_font_is_a_clear_error(api: Api, app: FastAPI, tmp_path: Path) -> None:
    order = _order(api)
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update={"cjk_font": tmp_path / "missing.ttf"})
    try:
        r = api.get(f"/supervision-orders/{order['id']}/document.pdf", "supervisor")
    finally:
        app.state.settings = settings
    error = assert_error(r, 422)
    assert "DUBAN_CJK_FONT" in error["message"]


def test_the_shipped_font_makes_pdfs_on_a_machine_without_cjk_fonts(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh machine has only Python: the Noto Sans SC of the wheel is embedded instead."""
    from duban.supervision import fonts

    monkeypatch.setattr(fonts, "KNOWN_FONTS", ())
    shipped = fonts.shipped_font()
    assert shipped is not None
    assert shipped.name.startswith("NotoSansSC")
    assert fonts.find_cjk_font() == (shipped, 0)
    order = _order(api)
    r = api.get(f"/supervision-orders/{order['id']}/document.pdf", "supervisor")
    assert r.status_code == 200, r.text
    reader = PdfReader(io.BytesIO(r.content))
    assert "督查通知单〔2026〕第1期" in reader.pages[0].extract_text().replace("\n", "")
    font = next(iter(reader.pages[0]["/Resources"]["/Font"].values())).get_object()
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    assert "NotoSansSC" in str(descriptor["/FontName"])
    assert "/FontFile2" in descriptor
