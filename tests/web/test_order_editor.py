"""The order editor in the browser (desktop and phone): a supervisor searches the case
list, picks a case and a ledger item by hand, names the addressee and the reply time,
previews, issues the order and downloads its DOCX and PDF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from duban.ledgers.models import LedgerNode
from tests.factories.cases import dispatched_case
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_supervisor_compiles_previews_and_issues_an_order(
    browse: Browse, shots: Shots, world: World, phone: bool
) -> None:
    wanted = dispatched_case(world, address="人民路88号", description="人行道破损")
    other = dispatched_case(world, unit="HWC", description="垃圾堆放")
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    item = world.session.scalars(
        select(LedgerNode)
        .where(
            LedgerNode.ledger_id == ledger.id,
            LedgerNode.kind == "item",
            LedgerNode.lead_unit_id == world.units["SZGC"].id,
        )
        .order_by(LedgerNode.id)
    ).first()
    assert item is not None

    page = browse.signed_in("supervisor", phone=phone)
    page.goto("/supervision")
    page.locator("[data-new-order]").click()
    page.wait_for_url("**/supervision/new")
    # search the case list by code: only that case remains
    page.locator("input[name=q]").fill(wanted.code)
    page.locator("[data-search]").click()
    page.wait_for_load_state()
    assert page.locator(f"tr[data-case='{wanted.id}']").count() == 1
    assert page.locator(f"tr[data-case='{other.id}']").count() == 0
    page.locator(f"tr[data-case='{wanted.id}'] input[name=case]").check()
    page.locator(f"tr[data-item='{item.id}'] input[name=item]").check()
    page.locator("input[name=title]").fill("关于人行道破损问题的督查通知")
    page.locator("input[name=days]").fill("3")
    page.locator("[data-addressees] input[value=SZGC]").check()
    page.locator("[data-preview]").click()
    page.wait_for_load_state()
    preview = page.locator("[data-order-preview]")
    assert "督查通知单〔2026〕第1期" in preview.inner_text()
    assert preview.locator("[data-preview-row]").count() == 2
    shots.take(page, "order-preview")
    page.locator("[data-create]").click()
    page.wait_for_url(re.compile(r"/supervision/\d+$"))
    assert "督查通知单〔2026〕第1期" in page.locator("h1").inner_text()
    assert "人民路88号" in page.content()
    shots.take(page, "order-issued")
    for fmt, magic in (("docx", b"PK"), ("pdf", b"%PDF")):
        href = page.locator(f"a[data-doc={fmt}]").get_attribute("href")
        got = page.request.get(str(href))
        assert got.ok
        assert got.body().startswith(magic)
