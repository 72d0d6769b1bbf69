"""The order editor page: a supervisor searches cases and ledger items, picks by hand,
names addressees and the reply time, previews (nothing written), issues, and downloads."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.ledgers.models import LedgerNode
from duban.supervision.models import SupervisionOrder
from tests.factories.cases import dispatched_case
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.supervision.test_pages import _sign_in


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _orders(session: Session) -> int:
    session.commit()
    return int(session.scalar(select(func.count()).select_from(SupervisionOrder)) or 0)


def test_a_supervisor_compiles_an_order_by_hand(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    a = dispatched_case(world, address="人民路88号", description="人行道破损")
    b = dispatched_case(world, unit="HWC", description="垃圾堆放")
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    item = world.session.scalars(
        select(LedgerNode)
        .where(
            LedgerNode.ledger_id == ledger.id,
            LedgerNode.kind == "item",
            LedgerNode.lead_unit_id.is_not(None),
        )
        .order_by(LedgerNode.id)
    ).first()
    assert item is not None
    _sign_in(browser, app, world, "supervisor", "zh")
    assert 'href="/supervision/new"' in browser.get("/supervision").text
    page = browser.get("/supervision/new")
    assert page.status_code == 200
    assert "新建督办单" in page.text
    assert f'data-case="{a.id}"' in page.text
    assert f'data-case="{b.id}"' in page.text
    assert f'data-item="{item.id}"' in page.text
    token = _csrf(page.text)
    # search by the case code: only that case is listed; what is picked stays picked
    found = browser.post(
        "/supervision/new",
        data={"csrf_token": token, "do": "search", "q": a.code, "case": [str(b.id)]},
    )
    assert found.status_code == 200
    assert f'data-case="{a.id}"' in found.text
    assert f'value="{b.id}" checked' in found.text
    # preview: the number it would take, the due time, the rows; nothing written
    form = {
        "csrf_token": token,
        "title": "关于人行道破损问题的督查通知",
        "days": "3",
        "case": [str(a.id), str(b.id)],
        "item": [str(item.id)],
        "to": ["SZGC", "HWC"],
        "ledger": str(ledger.id),
    }
    preview = browser.post("/supervision/new", data={**form, "do": "preview"})
    assert preview.status_code == 200
    assert "督查通知单〔2026〕第1期" in preview.text
    assert preview.text.count("data-preview-row=") == 3
    assert "人民路88号" in preview.text
    assert _orders(world.session) == 0
    # nothing picked: refused with the reason, in Chinese, nothing written
    empty = browser.post(
        "/supervision/new",
        data={"csrf_token": token, "title": "x", "days": "3", "do": "create"},
    )
    assert empty.status_code == 422
    assert "data-error" in empty.text
    assert _orders(world.session) == 0
    # issue it, then download the documents
    made = browser.post("/supervision/new", data={**form, "do": "create"}, follow_redirects=False)
    assert made.status_code == 303
    location = made.headers["location"]
    order_id = int(location.rsplit("/", 1)[1])
    assert _orders(world.session) == 1
    order = world.session.get(SupervisionOrder, order_id)
    assert order is not None
    assert order.number == "督查通知单〔2026〕第1期"
    assert order.reply_work_days == 3
    assert [u.unit.code for u in order.addressees] == ["SZGC", "HWC"]
    assert [p.subject_kind for p in order.problems] == ["case", "case", "ledger_item"]
    docx = browser.get(f"/supervision/{order_id}/document.docx")
    assert docx.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "督查通知单〔2026〕第1期" in text


def test_only_a_supervisor_opens_the_editor(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    for name in ("handler", "leader"):
        _sign_in(browser, app, world, name, "zh")
        assert browser.get("/supervision/new").status_code == 403
