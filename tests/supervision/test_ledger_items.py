"""Orders pick ledger items (具体表现) too: each item is a problem addressed to its lead
unit, answered and reviewed like a case's, and shown in the order's documents."""

from __future__ import annotations

import io

from docx import Document
from pypdf import PdfReader
from sqlalchemy import func, select

from duban.ledgers.models import LedgerNode
from duban.supervision.models import SupervisionOrder
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.http import API, Api, assert_error


def _items(world: World) -> tuple[LedgerNode, LedgerNode, LedgerNode]:
    """An item led by SZGC, one led by HWC, and a measure (not an item)."""
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger

    def first(kind: str, unit: str) -> LedgerNode:
        node = world.session.scalars(
            select(LedgerNode)
            .where(
                LedgerNode.ledger_id == ledger.id,
                LedgerNode.kind == kind,
                LedgerNode.lead_unit_id == world.units[unit].id,
            )
            .order_by(LedgerNode.id)
        ).first()
        assert node is not None
        return node

    return first("item", "SZGC"), first("item", "HWC"), first("measure", "SZGC")


def test_an_order_of_a_case_and_ledger_items_goes_to_their_units(api: Api) -> None:
    szgc, hwc, _ = _items(api.world)
    case = api.given("dispatched", address="人民路88号门前")
    sup = api.headers("supervisor")
    r = api.client.post(
        f"{API}/supervision-orders",
        json={
            "title": "关于督促落实巡察整改任务的通知",
            "case_ids": [case["id"]],
            "ledger_item_ids": [hwc.id, szgc.id],
        },
        headers=sup,
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["number"] == "督查通知单〔2026〕第1期"
    assert [u["code"] for u in order["units"]] == ["SZGC", "HWC"]
    problems = order["problems"]
    assert [(p["subject_kind"], p["ledger_item_id"], p["unit"]["code"]) for p in problems] == [
        ("case", None, "SZGC"),
        ("ledger_item", hwc.id, "HWC"),
        ("ledger_item", szgc.id, "SZGC"),
    ]
    assert problems[1]["description"] == hwc.text
    assert problems[1]["case_id"] is None

    # HWC's handler sees only its item and answers it; the supervisor accepts.
    base = f"{API}/supervision-orders/{order['id']}/problems"
    mine = api.get(f"/supervision-orders/{order['id']}", "handler2").json()
    assert [p["id"] for p in mine["problems"]] == [problems[1]["id"]]
    r = api.client.post(
        f"{base}/{problems[1]['id']}/reply",
        json={"measures": "已制定用油登记制度", "done": True},
        headers=api.headers("handler2"),
    )
    assert r.status_code == 200, r.text
    r = api.client.post(f"{base}/{problems[1]['id']}/accept", headers=sup)
    assert r.status_code == 200, r.text
    accepted = [p for p in r.json()["problems"] if p["id"] == problems[1]["id"]]
    assert accepted[0]["status"] == "accepted"

    # The documents list the items with the cases.
    docx = Document(
        io.BytesIO(
            api.get(f"/supervision-orders/{order['id']}/document.docx", "supervisor").content
        )
    )
    rows = [[c.text for c in row.cells] for row in docx.tables[0].rows]
    assert len(rows) == 4
    assert rows[2][1] == hwc.text
    assert rows[2][5] == "环境卫生管理处"
    assert rows[3][1] == szgc.text
    pdf = api.get(f"/supervision-orders/{order['id']}/document.pdf", "supervisor")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert hwc.text[:8] in text.replace("\n", "")
    notice = api.get(f"/supervision-orders/{order['id']}/notices/HWC.docx", "supervisor")
    notice_doc = Document(io.BytesIO(notice.content))
    notice_text = "\n".join(
        c.text for t in notice_doc.tables for row in t.rows for c in row.cells
    ) + "\n".join(p.text for p in notice_doc.paragraphs)
    assert hwc.text in notice_text
    assert szgc.text not in notice_text


def test_an_order_of_ledger_items_only_and_bad_items_refused(api: Api) -> None:
    szgc, _, measure = _items(api.world)
    url = f"{API}/supervision-orders"
    sup = api.headers("supervisor")
    r = api.client.post(url, json={"title": "台账督办", "ledger_item_ids": [szgc.id]}, headers=sup)
    assert r.status_code == 201, r.text
    assert [u["code"] for u in r.json()["units"]] == ["SZGC"]

    def orders() -> int:
        api.world.session.expire_all()
        return int(api.world.session.scalar(select(func.count(SupervisionOrder.id))) or 0)

    before = orders()
    error = assert_error(
        api.client.post(url, json={"title": "x", "ledger_item_ids": [999999]}, headers=sup), 422
    )
    assert error["detail"]["ledger_item_ids"] == [999999]
    error = assert_error(
        api.client.post(url, json={"title": "x", "ledger_item_ids": [measure.id]}, headers=sup),
        422,
    )
    assert error["detail"]["field"] == "ledger_item_ids"
    assert_error(
        api.client.post(
            url, json={"title": "x", "ledger_item_ids": [szgc.id]}, headers=api.headers("handler")
        ),
        403,
    )
    assert orders() == before  # nothing written, no number drawn
    again = api.client.post(
        url, json={"title": "再次督办", "ledger_item_ids": [szgc.id]}, headers=sup
    )
    assert again.json()["number"] == "督查通知单〔2026〕第2期"
