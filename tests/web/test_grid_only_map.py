"""Without configured layers the map is grid-only: no tile is asked for, no switcher; an
empty view says so instead of "0 件案件"; popups still come from the server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from duban.cases.workflow import CaseStatus
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_grid_only_map_asks_for_no_tiles_and_never_says_zero_cases(
    browse: Browse, shots: Shots, world: World, phone: bool
) -> None:
    world.case_in(CaseStatus.HANDLING, address="七一路 12 号")
    page = browse.signed_in("dispatcher", phone=phone)
    outside: list[str] = []
    page.context.route(
        re.compile(r"^https?://(?!127\.0\.0\.1)"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page.goto("/map")
    one = page.locator("#one-map")
    expect(one).to_have_attribute("data-total", "1")
    assert one.get_attribute("data-layers") == "[]"
    assert page.locator(".leaflet-control-layers").count() == 0
    assert page.locator(".leaflet-tile").count() == 0
    expect(page.locator("#map-count")).to_have_text("1 件案件")
    # Far from every case: the count says there is nothing here, not "0 件案件".
    one.evaluate(f"el => el.dubanMap.setView([{LAT + 0.2}, {LON + 0.2}], 17)")
    expect(one).to_have_attribute("data-total", "0")
    expect(page.locator("#map-count")).to_have_text("此处没有案件：请缩小地图或调整筛选条件。")
    assert "0 件案件" not in page.locator("body").inner_text()
    shots.take(page, "grid-only-empty")
    assert outside == []
