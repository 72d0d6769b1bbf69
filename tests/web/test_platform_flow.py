"""Second-level dispatch (二级派遣) in the browser: the city's dispatcher sends a case down
to the west street's platform from the case page; the street's dispatcher finds it in
the workbench, offered only the street's own units, and dispatches it; the unit's return
brings it back to the street's workbench with the reason; the case page shows each
level's step."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from duban.places.index import forget_places_index
from duban.reference import policy as policy_module
from tests.factories.cases import filed_case
from tests.factories.platforms import WEST, two_level_city
from tests.factories.world import World
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    policy_module._cache.clear()
    forget_places_index()
    yield
    policy_module._cache.clear()
    forget_places_index()


def test_the_platform_dispatcher_works_what_the_city_sent_down(
    browse: Browse, shots: Shots, world: World
) -> None:
    two_level_city(world)
    case = filed_case(world, description="西区：人行道破损")

    # The city's dispatcher sends it down from the case page.
    city = browse.signed_in("dispatcher")
    city.goto(f"/cases/{case.id}")
    city.locator("#action-dispatch_to_platform").evaluate("d => { d.open = true; }")
    expect(city.locator("#action-dispatch_to_platform select[name=platform]")).to_have_value(WEST)
    city.locator("#action-dispatch_to_platform textarea[name=note]").fill("请西区处置")
    city.locator("#action-dispatch_to_platform button[type=submit]").click()
    city.wait_for_load_state()
    expect(city.locator("[data-platform]").first).to_have_attribute("data-platform", WEST)
    expect(city.locator("dd[data-level=platform]")).to_be_visible()
    shots.take(city, "city-sent-down")

    # The street's dispatcher: the platform's queue first, the street's units only.
    street = browse.signed_in("west_dispatcher")
    street.goto("/work")
    queue = street.locator("#queue-at_platform")
    expect(queue.locator(f"tr[data-case='{case.code}']")).to_be_visible()
    expect(street.locator("#queue-to_dispatch")).to_have_count(0)
    row = queue.locator(f"tr[data-case='{case.code}']")
    options = row.locator("select[name=unit] option").all_inner_texts()
    assert "西区街道城管中队" in options
    assert "市政工程管理处" not in options
    assert "东区街道城管中队" not in options
    shots.take(street, "street-workbench")
    row.locator("select[name=unit]").select_option("JD001")
    row.locator("button[type=submit]").click()
    street.wait_for_load_state()
    expect(street.locator(f"#queue-at_platform tr[data-case='{case.code}']")).to_have_count(0)

    # The unit returns it: back to the street's workbench, with the reason.
    world.session.expire_all()  # the browser's dispatch was written by the server
    world.act(case.id, "return", "west_handler", reason="不属于本中队")
    street.goto("/work")
    row = street.locator(f"#queue-at_platform tr[data-case='{case.code}']")
    expect(row.locator("[data-came-back]")).to_contain_text("不属于本中队")
    expect(row.locator("[data-came-back]")).to_contain_text("西区街道城管中队")
    shots.take(street, "street-came-back")

    # The case page: each level's step, and the timeline says which level acted.
    street.goto(f"/cases/{case.id}")
    expect(street.locator("dd[data-level=city]")).to_contain_text("已完成")
    expect(street.locator("dd[data-level=platform]")).to_be_visible()
    expect(street.locator("[data-event-level=platform]").first).to_be_visible()
    expect(street.locator("#action-platform_return")).to_have_count(1)
    expect(street.locator("#action-dispatch_to_platform")).to_have_count(0)
    shots.take(street, "street-case-page")
    # The city's dispatcher follows it but does not dispatch what the platform holds.
    city.goto("/work")
    expect(city.locator(f"#queue-at_platform tr[data-case='{case.code}']")).to_be_visible()
    expect(
        city.locator(f"#queue-at_platform tr[data-case='{case.code}'] button[type=submit]")
    ).to_have_count(0)
