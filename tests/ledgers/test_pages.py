"""The ledger pages: the list and the tree with progress bars, in Chinese and English."""

from __future__ import annotations

import io

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from duban.ledgers.sheet import HEADER
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.web.test_server import sign_in


def test_the_tree_with_progress_bars_in_both_languages(
    client: TestClient, app: FastAPI, world: World
) -> None:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    sign_in(client, app, world, "leader")
    listing = client.get("/ledgers", headers={"Accept-Language": "zh-CN"})
    assert listing.status_code == 200
    assert "整改台账" in listing.text
    assert f'data-ledger="{ledger.id}"' in listing.text
    page = client.get(f"/ledgers/{ledger.id}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    html = page.text
    assert "巡察整改台账" in html
    assert html.count('class="aspect"') == 3
    assert html.count('class="category"') == 10
    assert html.count('class="item"') == 79
    assert html.count('role="progressbar"') == 3 + 10 + 29  # 方面, 类别, 问题
    assert "按责任单位" in html
    assert "未开始" in html
    english = client.get("/lang/en", params={"next": f"/ledgers/{ledger.id}"}).text
    assert "By unit" in english
    assert "Not started" in english
    export = client.get(f"/ledgers/{ledger.id}/export.xlsx")
    assert export.status_code == 200
    rows = list(
        load_workbook(io.BytesIO(export.content), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 243
    assert client.get(f"/ledgers/{ledger.id}/progress.xlsx").status_code == 200
    assert client.get("/ledgers/template.xlsx").status_code == 200


def test_a_citizen_sees_no_ledger_page(client: TestClient, app: FastAPI, world: World) -> None:
    sign_in(client, app, world, "citizen")
    assert client.get("/ledgers").status_code == 403
    anonymous = TestClient(app)
    assert anonymous.get("/ledgers", follow_redirects=False).status_code in (302, 303)


def test_a_refusal_is_shown_from_its_template_in_chinese() -> None:
    from duban.kernel.errors import Msg
    from duban.web.i18n import translate

    assert translate("a refusal needs a reason", "zh") == "不予销号须说明理由"
    not_a_photo = Msg("evidence '{name}' is not a photo, PDF, DOCX or XLSX", name="a.txt")
    assert translate(not_a_photo, "zh") == "证明材料“a.txt”不是照片、PDF、DOCX 或 XLSX 文件"
    assert translate(not_a_photo, "en") == "evidence 'a.txt' is not a photo, PDF, DOCX or XLSX"
    assert translate("something else", "zh") == "something else"


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_documents_milestones_and_notes_from_the_ledger_page(
    client: TestClient, app: FastAPI, world: World
) -> None:
    from docx import Document
    from sqlalchemy import select

    from duban.ledgers.models import LedgerNode, LedgerNoteFile
    from tests.factories.evidence import jpeg

    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    sign_in(client, app, world, "supervisor")
    page = client.get(f"/ledgers/{ledger.id}", headers={"Accept-Language": "zh-CN"}).text
    assert f'href="/ledgers/{ledger.id}/progress.docx"' in page
    assert f'href="/ledgers/{ledger.id}/notice.docx"' in page
    assert "整改情况通报" in page
    for name in ("progress.docx", "notice.docx"):
        got = client.get(f"/ledgers/{ledger.id}/{name}")
        assert got.status_code == 200
        assert Document(io.BytesIO(got.content)).paragraphs[0].text
    measure = world.session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger.id, LedgerNode.kind == "measure")
        .order_by(LedgerNode.id)
    ).first()
    assert measure is not None
    assert f'data-node-link="{measure.id}"' in page
    node_page = client.get(f"/ledgers/{ledger.id}/nodes/{measure.id}").text
    assert f'data-milestones-form="{measure.id}"' in node_page
    assert f'data-note-form="{measure.id}"' in node_page
    token = _csrf(page)
    saved = client.post(
        f"/ledgers/{ledger.id}/nodes/{measure.id}/milestones",
        data={"csrf_token": token, "milestones": "[x] 2026-12-31 建立台账\n2027-03-31 验收"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    world.session.commit()  # end the test's read transaction: see what the page wrote
    world.session.refresh(measure)
    assert [m["date"] for m in measure.milestones] == ["2026-12-31", "2027-03-31"]
    bad = client.post(
        f"/ledgers/{ledger.id}/nodes/{measure.id}/milestones",
        data={"csrf_token": token, "milestones": "明年 验收"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert bad.status_code == 422
    assert "第 1 个时间节点：不是日期" in bad.text
    noted = client.post(
        f"/ledgers/{ledger.id}/measures/{measure.id}/note",
        data={"csrf_token": token, "text": "已完成现场清理"},
        files=[("files", ("现场.jpg", jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert noted.status_code == 303
    world.session.commit()
    kept = world.session.scalars(
        select(LedgerNoteFile).where(LedgerNoteFile.node_id == measure.id)
    ).all()
    assert len(kept) == 1
    assert client.get(f"/ledgers/note-files/{kept[0].id}").status_code == 200
    again = client.get(f"/ledgers/{ledger.id}").text
    assert f'data-milestones="{measure.id}"' in again
    notes = client.get(f"/ledgers/{ledger.id}/nodes/{measure.id}").text
    assert "已完成现场清理" in notes
    assert f"/ledgers/note-files/{kept[0].id}" in notes
    assert client.get(f"/ledgers/{ledger.id + 1}/nodes/{measure.id}").status_code == 404
