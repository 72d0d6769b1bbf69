"""A campaign in the browser: a supervisor starts one from the form and sees its page —
figures, the table by unit, the map with the case on it, the case list linking to the
case page, which names the campaign — at desktop and phone width."""

from __future__ import annotations

import pytest

from tests.factories.campaigns import EAST, make_regions, place
from tests.factories.world import World
from tests.fakes import local
from tests.web.conftest import Browse, Shots

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_supervisor_starts_a_campaign_and_reads_its_page(
    browse: Browse, shots: Shots, world: World, phone: bool
) -> None:
    make_regions(world.session)
    world.clock.set(local(2026, 11, 20, 10, 0))
    case = place(world.session, world.report(address="人民路88号门前"), EAST)
    world.clock.set(local(2026, 11, 23, 9, 0))

    boss = browse.signed_in("supervisor", phone=phone)
    boss.goto("/campaigns")
    form = boss.locator("#campaign-form")
    form.locator("input[name=name]").fill("市容环境专项整治")
    form.locator("select[name=kind]").select_option("rectification")
    form.locator("input[name=starts_on]").fill("2026-11-16")
    form.locator("input[name=ends_on]").fill("2026-12-15")
    form.locator("select[name=categories]").select_option(["E01"])
    form.locator("select[name=regions]").select_option([EAST])
    shots.take(boss, "campaign-form")
    form.get_by_role("button", name="发起").click()
    boss.wait_for_url("**/campaigns/*")
    assert "已保存" in boss.content()
    assert boss.locator("h1[data-name]").inner_text() == "市容环境专项整治"
    assert boss.locator("[data-status]").inner_text() == "进行中"
    assert boss.locator("[data-found]").inner_text() == "1"
    assert boss.locator("[data-open]").inner_text() == "1"
    assert "未派遣" in boss.locator("table[data-by-unit]").inner_text()
    # The map draws the campaign's one case.
    boss.wait_for_selector("#campaign-map[data-total='1'][data-drawn='1']")
    assert boss.locator("#campaign-map canvas").count() >= 1
    shots.take(boss, "campaign-page")
    if phone:
        width = boss.evaluate("document.documentElement.scrollWidth")
        assert width <= boss.viewport_size["width"] + 1, "the page scrolls sideways on a phone"
    boss.locator(f"table[data-cases] a[href='/cases/{case.id}']").click()
    boss.wait_for_url(f"**/cases/{case.id}")
    assert "市容环境专项整治" in boss.locator("[data-campaigns]").inner_text()
