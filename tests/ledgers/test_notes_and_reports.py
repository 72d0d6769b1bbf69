"""Milestones on items and measures, progress notes with files, the progress report and
the public notice (整改情况通报) as DOCX — use cases and API, on both stores."""

from __future__ import annotations

import io
from typing import Any

import pytest
from docx import Document
from sqlalchemy import func, select

from duban.kernel.errors import InvalidInput, PermissionDenied
from duban.ledgers.models import LedgerEvent, LedgerNode, LedgerNoteFile
from duban.ledgers.queries import ledger_tree, progress
from duban.ledgers.rectify import EvidenceFile, set_milestones, write_note
from duban.ledgers.reports import STATUS_SENTENCE, cn_number, notice_docx, progress_docx
from duban.ledgers.rules import milestone_lines, milestone_text
from tests.factories.evidence import jpeg
from tests.factories.ledgers import imported, seed003_xlsx
from tests.factories.world import World
from tests.http import API, Api, assert_error

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _ledger(world: World) -> int:
    return imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger.id


def _first(world: World, ledger_id: int, kind: str, unit: str = "SZGC") -> LedgerNode:
    node = world.session.scalars(
        select(LedgerNode)
        .where(
            LedgerNode.ledger_id == ledger_id,
            LedgerNode.kind == kind,
            LedgerNode.lead_unit_id == world.units[unit].id,
        )
        .order_by(LedgerNode.id)
    ).first()
    assert node is not None
    return node


def _text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines.extend(" | ".join(c.text for c in row.cells) for row in table.rows)
    return "\n".join(lines)


# --------------------------------------------------------------------------- milestones


def test_milestones_on_items_and_measures(world: World) -> None:
    ledger_id = _ledger(world)
    item = _first(world, ledger_id, "item")
    measure = _first(world, ledger_id, "measure")
    handler = world.actor("handler")
    set_milestones(
        world.session,
        actor=handler,
        clock=world.clock,
        node_id=measure.id,
        milestones=[("2027/3/31", "完成第二阶段", False), ("2026-12-31", "建立台账", True)],
    )
    assert measure.milestones == [
        {"date": "2026-12-31", "text": "建立台账", "done": True},
        {"date": "2027-03-31", "text": "完成第二阶段", "done": False},
    ]
    set_milestones(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        node_id=item.id,
        milestones=[("2026年12月1日", "阶段性成效", False)],
    )
    tree = ledger_tree(world.session, actor=world.actor("leader"), ledger_id=ledger_id)
    found = [
        i
        for a in tree["aspects"]
        for c in a["children"]
        for p in c["children"]
        for i in p["children"]
        if i["id"] == item.id
    ]
    assert found[0]["milestones"] == [{"date": "2026-12-01", "text": "阶段性成效", "done": False}]
    kinds = world.session.scalars(
        select(LedgerEvent.kind).where(LedgerEvent.node_id.in_([item.id, measure.id]))
    ).all()
    assert kinds.count("milestones") == 2
    # the same list again: no event
    set_milestones(
        world.session,
        actor=handler,
        clock=world.clock,
        node_id=measure.id,
        milestones=[("2026-12-31", "建立台账", True), ("2027-03-31", "完成第二阶段", False)],
    )
    assert (
        world.session.scalar(
            select(func.count())
            .select_from(LedgerEvent)
            .where(LedgerEvent.node_id == measure.id, LedgerEvent.kind == "milestones")
        )
        == 1
    )
    with pytest.raises(InvalidInput, match="milestone 2: not a date"):
        set_milestones(
            world.session,
            actor=handler,
            clock=world.clock,
            node_id=measure.id,
            milestones=[("2026-12-31", "a", False), ("明年", "b", False)],
        )
    with pytest.raises(InvalidInput, match="needs its text"):
        set_milestones(
            world.session,
            actor=handler,
            clock=world.clock,
            node_id=measure.id,
            milestones=[("2026-12-31", "  ", False)],
        )
    theirs = _first(world, ledger_id, "measure", unit="HWC")
    with pytest.raises(PermissionDenied):
        set_milestones(
            world.session, actor=handler, clock=world.clock, node_id=theirs.id, milestones=[]
        )
    problem = world.session.get(LedgerNode, item.parent_id)
    assert problem is not None
    with pytest.raises(InvalidInput, match="only an item or a measure"):
        set_milestones(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            node_id=problem.id,
            milestones=[],
        )


def test_milestone_lines_round_trip() -> None:
    lines = "[x] 2026-12-31 建立台账\n\n[ ] 2027-03-31 完成 第二阶段\n2027-06-30 验收"
    parsed = milestone_lines(lines)
    assert parsed == [
        ("2026-12-31", "建立台账", True),
        ("2027-03-31", "完成 第二阶段", False),
        ("2027-06-30", "验收", False),
    ]
    kept = [{"date": d, "text": t, "done": f} for d, t, f in parsed]
    assert milestone_lines(milestone_text(kept)) == parsed


# --------------------------------------------------------------------------- notes with files


def test_a_progress_note_carries_files_checked_by_content(world: World) -> None:
    ledger_id = _ledger(world)
    measure = _first(world, ledger_id, "measure")
    handler = world.actor("handler")
    assert world.store is not None
    node, event = write_note(
        world.session,
        actor=handler,
        clock=world.clock,
        node_id=measure.id,
        note="已完成现场清理",
        files=[EvidenceFile("现场.jpg", jpeg()), EvidenceFile("方案.pdf", PDF)],
        store=world.store,
    )
    assert node.status == "推进中"
    assert [f["filename"] for f in event.payload["files"]] == ["现场.jpg", "方案.pdf"]
    kept = world.session.scalars(
        select(LedgerNoteFile).where(LedgerNoteFile.event_id == event.id)
    ).all()
    assert {f.content_type for f in kept} == {"image/jpeg", "application/pdf"}
    assert world.store.get(kept[0].storage_key)
    before = world.session.scalar(select(func.count()).select_from(LedgerEvent))
    with pytest.raises(InvalidInput, match="not a photo, PDF, DOCX or XLSX"):
        write_note(
            world.session,
            actor=handler,
            clock=world.clock,
            node_id=measure.id,
            note="附件是程序",
            files=[EvidenceFile("照片.jpg", b"MZ\x90\x00 not a photo")],
            store=world.store,
        )
    assert world.session.scalar(select(func.count()).select_from(LedgerEvent)) == before


def test_notes_with_files_and_milestones_through_the_api(api: Api) -> None:
    created = api.client.post(
        f"{API}/ledgers",
        files={"file": ("台账.xlsx", seed003_xlsx(), XLSX)},
        data={"title": "巡察整改台账"},
        headers=api.headers("supervisor"),
    )
    ledger_id = created.json()["id"]
    tree = api.get(f"/ledgers/{ledger_id}", "leader").json()
    item = tree["aspects"][0]["children"][0]["children"][0]["children"][0]
    measure = next(m for m in item["children"])
    r = api.client.post(
        f"{API}/ledgers/measures/{measure['id']}/notes-with-files",
        data={"text": "已完成排查"},
        files=[("files", ("现场.jpg", jpeg(), "image/jpeg"))],
        headers=api.headers("supervisor"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["text"] == "已完成排查"
    assert [f["filename"] for f in body["files"]] == ["现场.jpg"]
    got = api.client.get(body["files"][0]["url"], headers=api.headers("leader"))
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    bad = api.client.post(
        f"{API}/ledgers/measures/{measure['id']}/notes-with-files",
        data={"text": "附件"},
        files=[("files", ("a.jpg", b"not a photo", "image/jpeg"))],
        headers={**api.headers("supervisor"), "Accept-Language": "zh-CN"},
    )
    error = assert_error(bad, 422)
    assert error["message"] == "证明材料“a.jpg”不是照片、PDF、DOCX 或 XLSX 文件"
    r = api.client.put(
        f"{API}/ledgers/nodes/{item['id']}/milestones",
        json={"milestones": [{"date": "2026-12-31", "text": "建立台账", "done": True}]},
        headers=api.headers("supervisor"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["milestones"] == [{"date": "2026-12-31", "text": "建立台账", "done": True}]
    again = api.get(f"/ledgers/{ledger_id}", "leader").json()
    assert again["aspects"][0]["children"][0]["children"][0]["children"][0]["milestones"] == [
        {"date": "2026-12-31", "text": "建立台账", "done": True}
    ]
    bad = api.client.put(
        f"{API}/ledgers/nodes/{item['id']}/milestones",
        json={"milestones": [{"date": "31.12.2026", "text": "x"}]},
        headers=api.headers("supervisor"),
    )
    assert "milestone 1: not a date" in assert_error(bad, 422)["message"]
    citizen = api.client.put(
        f"{API}/ledgers/nodes/{item['id']}/milestones",
        json={"milestones": []},
        headers=api.headers("citizen"),
    )
    assert_error(citizen, 403)


# --------------------------------------------------------------------------- documents


def test_the_progress_report_as_docx(world: World) -> None:
    ledger_id = _ledger(world)
    figures = progress(
        world.session, actor=world.actor("leader"), clock=world.clock, ledger_id=ledger_id
    )
    data = progress_docx(figures)
    document = Document(io.BytesIO(data))
    text = _text(data)
    assert document.paragraphs[0].text.endswith("整改工作进度报告")
    assert "台账共79项具体表现、242项整改措施" in text
    assert f"逾期{figures['overdue']}项" in text
    heads = [t.rows[0].cells[0].text for t in document.tables]
    assert heads == ["项目", "责任单位", "责任领导"]
    assert len(document.tables[1].rows) == 1 + len(figures["by_unit"])
    assert len(document.tables[2].rows) == 1 + len(figures["by_leader"])
    assert "刘局长" in text
    # GB/T 9704: A4 and the East Asian font named on the runs
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    run = document.paragraphs[0].runs[0]
    assert run._element.rPr.rFonts.get(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"
    )


def _all_items(tree: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        i
        for a in tree["aspects"]
        for c in a["children"]
        for p in c["children"]
        for i in p["children"]
    ]


def test_the_public_notice_in_the_shape_of_seed_003(world: World) -> None:
    ledger_id = _ledger(world)
    tree = ledger_tree(world.session, actor=world.actor("leader"), ledger_id=ledger_id)
    items = _all_items(tree)
    items[0]["status"] = "已整改需长期坚持"
    items[1]["status"] = "已整改"
    data = notice_docx(tree, day=world.clock.now().date())
    text = _text(data)
    document = Document(io.BytesIO(data))
    assert document.paragraphs[0].text == f"关于{tree['title']}整改情况的通报"
    assert "共梳理3个方面10大类79个问题，制定242项具体整改措施" in text
    assert "已整改1个，已整改需长期坚持1个，推进中77个" in text
    assert "整改完成率2.5%" in text
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == [
        "方面",
        "类别",
        "问题数",
        "已整改",
        "已整改需长期坚持",
        "推进中",
        "完成率",
    ]
    assert len(table.rows) == 1 + 10 + 1
    assert [c.text for c in table.rows[-1].cells][:3] == ["合计", "", "79"]
    first = tree["aspects"][0]
    assert f"（一）{first['text']}" in text
    assert f"1.{first['children'][0]['text']}" in text
    assert "问题1." in text
    assert "表现在：" in text
    assert f"（1）{items[0]['text']}" in text
    assert "落实情况：" + STATUS_SENTENCE["已整改需长期坚持"] in text
    assert "一是" in text
    assert text.count("落实情况：") == 79


def test_chinese_numbers() -> None:
    assert [cn_number(n) for n in (1, 3, 10, 12, 20, 99)] == [
        "一",
        "三",
        "十",
        "十二",
        "二十",
        "九十九",
    ]


def test_documents_through_the_api(api: Api) -> None:
    created = api.client.post(
        f"{API}/ledgers",
        files={"file": ("台账.xlsx", seed003_xlsx(), XLSX)},
        data={"title": "巡察整改台账"},
        headers=api.headers("supervisor"),
    )
    ledger_id = created.json()["id"]
    for name, wanted in (("progress.docx", "整改工作进度报告"), ("notice.docx", "整改情况的通报")):
        r = api.get(f"/ledgers/{ledger_id}/{name}", "leader")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == DOCX
        assert wanted in _text(r.content)
        assert_error(api.get(f"/ledgers/{ledger_id}/{name}", "citizen"), 403)
        assert_error(api.get(f"/ledgers/999/{name}", "leader"), 404)
