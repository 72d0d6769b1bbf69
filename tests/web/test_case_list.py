"""The case list in the browser: search, sort by a column, export, at desk and phone width."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from duban.cases.workflow import CaseStatus
from tests.factories.world import World
from tests.web.conftest import Browse, Shots

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_search_sort_and_export(browse: Browse, shots: Shots, world: World, phone: bool) -> None:
    manhole = world.case_in(
        CaseStatus.DISPATCHED, description="人民路口井盖破损", address="人民路128号"
    )
    world.clock.advance(minutes=5)
    other = world.report(description="人民路旁暴露垃圾", address="人民路9号")
    world.clock.advance(minutes=5)
    world.report(description="违规悬挂横幅", address="莲城大道1号")
    page = browse.signed_in("dispatcher", phone=phone)
    page.goto("/cases")
    assert page.locator("tbody tr[data-case]").count() == 3
    page.fill("input[name=q]", "人民路")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url("**/cases?*q=*")
    assert page.locator("tbody tr[data-case]").count() == 2
    assert page.locator(f"tr[data-case='{manhole.code}'] [data-light=green]").count() == 1
    # Sort by reported time, oldest first: the search stays. On a phone the table's head
    # is hidden (rows are cards): the form's sort choice does it.
    if phone:
        page.select_option("select[name=sort]", "reported")
        page.locator("form.filters button[type=submit]").click()
    else:
        page.locator("a[data-sort=reported]").click()
    page.wait_for_url("**sort=reported*")
    codes = page.locator("tbody tr[data-case]").evaluate_all(
        "rows => rows.map(r => r.dataset.case)"
    )
    assert codes == [manhole.code, other.code]
    if phone:
        page.select_option("select[name=sort]", "-reported")
        page.locator("form.filters button[type=submit]").click()
    else:
        page.locator("a[data-sort=reported]").click()
    page.wait_for_url("**sort=-reported*")
    codes = page.locator("tbody tr[data-case]").evaluate_all(
        "rows => rows.map(r => r.dataset.case)"
    )
    assert codes == [other.code, manhole.code]
    shots.take(page, "case-list-phone" if phone else "case-list")
    href = page.locator("a[data-export]").get_attribute("href")
    assert href is not None
    assert "q=" in href
    assert "sort=-reported" in href
    got = page.request.get(href)
    assert got.status == 200
    sheet = load_workbook(io.BytesIO(got.body()), read_only=True).worksheets[0]
    rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    assert [r[0] for r in rows[1:]] == [other.code, manhole.code]
