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


def test_a_refusal_written_out_in_english_is_shown_in_chinese() -> None:
    from duban.web.i18n import localize as in_language

    assert in_language("a refusal needs a reason", "zh") == "不予销号须说明理由"
    assert (
        in_language("evidence 'a.txt' is not a photo, PDF, DOCX or XLSX", "zh")
        == "证明材料“a.txt”不是照片、PDF、DOCX 或 XLSX 文件"
    )
    assert in_language("a refusal needs a reason", "en") == "a refusal needs a reason"
    assert in_language("something else", "zh") == "something else"
