"""Import and export of ledgers: seed 003's shape, the template, every bad cell named,
hostile files refused with nothing written, export → import the same tree."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit
from duban.ledgers.errors import LedgerFileRefused
from duban.ledgers.exports import export_workbook
from duban.ledgers.imports import import_ledger
from duban.ledgers.models import Ledger, LedgerEvent, LedgerNode
from duban.ledgers.queries import ledger_tree
from duban.ledgers.sheet import EXAMPLE, HEADER
from duban.ledgers.workbook import template_workbook
from tests.factories.ledgers import COUNTS, imported, seed003_rows, seed003_xlsx, write_xlsx
from tests.factories.world import World


def _count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refused(world: World, data: bytes, lang: str = "en") -> LedgerFileRefused:
    with pytest.raises(LedgerFileRefused) as caught:
        import_ledger(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            title="坏文件",
            data=data,
            lang=lang,
        )
    world.session.rollback()
    assert _count(world.session, Ledger) == 0
    assert _count(world.session, LedgerNode) == 0
    assert _count(world.session, LedgerEvent) == 0
    return caught.value


def _shape(tree: dict[str, Any]) -> Any:
    """The tree without ids and sign-offs: what an export keeps."""

    def strip(node: dict[str, Any]) -> dict[str, Any]:
        kept = {
            k: v for k, v in node.items() if k not in ("id", "signoff", "lead_unit_id", "case_id")
        }
        if "children" in node:
            kept["children"] = [strip(c) for c in node["children"]]
        return kept

    return [strip(a) for a in tree["aspects"]]


def test_seed_003_is_imported_with_its_shape(world: World) -> None:
    done = imported(world.session, actor=world.actor("supervisor"), clock=world.clock)
    assert done.counts == COUNTS
    tree = ledger_tree(world.session, actor=world.actor("leader"), ledger_id=done.ledger.id)
    assert len(tree["aspects"]) == 3
    first = tree["aspects"][0]
    assert first["text"] == "贯彻上级决策部署不到位,城市精细化管理水平不高"
    assert first["children"][0]["text"] == "落实指示批示精神有差距"
    item = first["children"][0]["children"][0]["children"][0]
    assert item["kind"] == "item"
    assert len(item["children"]) >= 5
    measure = item["children"][0]
    assert measure["leader"] == "刘局长"
    assert measure["lead_unit"] == "市政工程管理处"
    # a unit written by name or code is the Duban unit; any other stays text
    szgc = world.session.scalar(select(Unit.id).where(Unit.code == "SZGC"))
    hwc = world.session.scalar(select(Unit.id).where(Unit.code == "HWC"))
    assert measure["lead_unit_id"] == szgc
    assert item["children"][1]["lead_unit"] == "HWC"
    assert item["children"][1]["lead_unit_id"] == hwc
    assert item["children"][2]["lead_unit_id"] is None
    assert item["children"][3]["deadline"] == "2026-12-31"  # written 2026年12月31日
    events = world.session.scalars(select(LedgerEvent)).all()
    assert [e.kind for e in events] == ["imported"]
    assert events[0].payload["counts"] == COUNTS


def test_blank_and_merged_parents_give_the_same_tree(world: World) -> None:
    actor = world.actor("supervisor")
    merged = imported(
        world.session, actor=actor, clock=world.clock, title="并", data=seed003_xlsx()
    )
    full = imported(
        world.session,
        actor=actor,
        clock=world.clock,
        title="全",
        data=write_xlsx(seed003_rows(), merge_parents=False),
    )
    assert merged.counts == full.counts == COUNTS
    a = ledger_tree(world.session, actor=actor, ledger_id=merged.ledger.id)
    b = ledger_tree(world.session, actor=actor, ledger_id=full.ledger.id)
    assert _shape(a) == _shape(b)


def test_export_then_import_gives_the_same_tree(world: World) -> None:
    actor = world.actor("supervisor")
    first = imported(
        world.session, actor=actor, clock=world.clock, data=seed003_xlsx(statuses="seed")
    )
    exported = export_workbook(world.session, actor=actor, ledger_id=first.ledger.id)
    sheet = load_workbook(io.BytesIO(exported), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 1 + COUNTS["measures"]
    assert rows[2][0] is None  # a parent is written once
    again = imported(world.session, actor=actor, clock=world.clock, title="再导入", data=exported)
    assert again.counts == first.counts
    a = ledger_tree(world.session, actor=actor, ledger_id=first.ledger.id)
    b = ledger_tree(world.session, actor=actor, ledger_id=again.ledger.id)
    assert _shape(a) == _shape(b)
    statuses = {
        m["status"]
        for a in b["aspects"]
        for c in a["children"]
        for p in c["children"]
        for i in p["children"]
        for m in i["children"]
    }
    assert statuses == {"已整改", "已整改需长期坚持"}


def test_the_template_has_the_header_and_an_example_that_imports(world: World) -> None:
    data = template_workbook()
    rows = list(
        load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 2
    assert rows[1][:5] == EXAMPLE[:5]
    done = import_ledger(
        world.session, actor=world.actor("supervisor"), clock=world.clock, title="样例", data=data
    )
    assert done.counts == {"aspects": 1, "categories": 1, "problems": 1, "items": 1, "measures": 1}


def test_every_bad_row_and_cell_is_named_and_nothing_written(world: World) -> None:
    rows = [list(r) for r in seed003_rows()[:6]]
    rows[1][8] = "年底前"  # row 3: no date
    rows[2][9] = "差不多了"  # row 4: no status
    rows[3][4] = ""  # row 5: no measure
    rows[4][5] = "=A1&B1"  # row 6: a formula
    rows[5][8] = "2026-02-30"  # row 7: no such day
    err = _refused(world, write_xlsx(rows, merge_parents=False))
    named = [(r["row"], r["column"]) for r in err.rows]
    assert named == [
        (3, "完成时限"),
        (4, "整改状态"),
        (5, "整改措施"),
        (6, "责任领导"),
        (7, "完成时限"),
    ]
    assert "5 bad cell(s) — row 3, 完成时限: not a date" in err.message
    assert "2026-12-31" in err.rows[0]["message"]


def test_messages_in_chinese(world: World) -> None:
    rows = [list(r) for r in seed003_rows()[:1]]
    rows[0][8] = "明年"
    err = _refused(world, write_xlsx(rows), lang="zh")
    assert err.rows == [
        {
            "row": 2,
            "column": "完成时限",
            "message": "不是日期：请写成 2026-12-31、2026/12/31 或 2026年12月31日",
        }
    ]
    assert err.message.startswith("台账文件被拒收")


def test_a_new_parent_needs_its_parents_to_the_left(world: World) -> None:
    rows = [list(r) for r in seed003_rows()[:2]]
    rows[0][0] = None  # the first row has no 方面 to repeat
    rows[1][0] = "新方面"
    rows[1][1] = None  # a new 方面 with its 类别 left blank
    err = _refused(world, write_xlsx(rows, merge_parents=False))
    assert [(r["row"], r["column"]) for r in err.rows] == [(2, "方面"), (3, "类别")]


def test_a_wrong_header_is_refused(world: World) -> None:
    err = _refused(world, write_xlsx(seed003_rows()[:2], header=("方面", "类别", "问题")))
    assert err.rows[0]["row"] == 1
    assert "方面, 类别, 问题, 具体表现, 整改措施" in err.rows[0]["message"]


def test_an_empty_sheet_is_refused(world: World) -> None:
    err = _refused(world, write_xlsx([]))
    assert "no measure rows" in err.message


@pytest.mark.parametrize(
    "data",
    [b"", b"not a workbook at all", b"%PDF-1.4\n%%EOF", b"PK\x03\x04broken zip"],
    ids=["empty", "text", "pdf", "broken-zip"],
)
def test_a_file_that_is_not_xlsx_is_refused(world: World, data: bytes) -> None:
    err = _refused(world, data)
    assert "not an .xlsx workbook" in err.message


def test_a_zip_that_is_not_a_workbook_is_refused(world: World) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    err = _refused(world, out.getvalue())
    assert "not an .xlsx workbook" in err.message


def test_a_zip_bomb_is_refused_before_it_is_opened(world: World) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        source = zipfile.ZipFile(io.BytesIO(seed003_xlsx()))
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info.filename))
        archive.writestr("xl/media/bomb.bin", b"\0" * (100 * 1024 * 1024))
    data = out.getvalue()
    assert len(data) < 1024 * 1024
    err = _refused(world, data)
    assert "zip bomb" in err.message


def test_a_10_mb_sheet_is_refused(world: World) -> None:
    """A workbook whose sheet holds 10 MB of text that does not compress: over the limit."""
    import base64
    import os

    cells = b"".join(
        b'<row r="%d"><c r="E%d" t="inlineStr"><is><t>%s</t></is></c></row>'
        % (n, n, base64.b64encode(os.urandom(1500)))
        for n in range(2, 7200)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        source = zipfile.ZipFile(io.BytesIO(seed003_xlsx()))
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, rest = payload.split(b"<sheetData>", 1)
                tail = rest.split(b"</sheetData>", 1)[1]
                payload = head + b"<sheetData>" + cells + b"</sheetData>" + tail
            archive.writestr(info.filename, payload)
    data = out.getvalue()
    assert len(data) > 10 * 1024 * 1024
    err = _refused(world, data)
    assert "larger than the limit of 8388608 bytes" in err.message


def test_a_sheet_that_unpacks_over_the_limit_is_refused(world: World) -> None:
    """A sheet padded with 70 MB of comment packs small but unpacks over the limit."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        source = zipfile.ZipFile(io.BytesIO(seed003_xlsx()))
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                pad = b"<!-- " + b"x" * (70 * 1024 * 1024) + b" -->"
                payload = payload.replace(b"<sheetData>", pad + b"<sheetData>", 1)
            archive.writestr(info.filename, payload)
    err = _refused(world, out.getvalue())
    assert "unpacks to more than" in err.message or "zip bomb" in err.message


def test_formulas_are_refused(world: World) -> None:
    rows = [list(r) for r in seed003_rows()[:2]]
    rows[0][8] = "=TODAY()+30"
    rows[1][4] = "=CONCAT(A2,B2)"
    err = _refused(world, write_xlsx(rows, merge_parents=False))
    assert [(r["row"], r["column"]) for r in err.rows] == [(2, "完成时限"), (3, "整改措施")]
    assert all("formula" in r["message"] for r in err.rows)


def test_a_title_is_required(world: World) -> None:
    from duban.kernel.errors import InvalidInput

    with pytest.raises(InvalidInput):
        import_ledger(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            title=" ",
            data=seed003_xlsx(),
        )


def test_a_unit_handler_may_not_import(world: World) -> None:
    from duban.kernel.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        imported(world.session, actor=world.actor("handler"), clock=world.clock)
