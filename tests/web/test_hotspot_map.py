"""The hotspot layer (回潮) on the one map, in the browser: ticked on, it draws the places
that keep coming back; ticked off, it goes."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.factories.history import lay_out, lifecycle
from tests.factories.world import World
from tests.fakes import local


def test_the_hotspot_toggle_draws_the_layer(browse: Any, world: World) -> None:
    rows = [
        *lifecycle("A1", local(2026, 10, 1, 9)),
        *lifecycle("A2", local(2026, 10, 20, 9)),
        *lifecycle("A3", local(2026, 11, 10, 9), closed=False),
    ]
    lay_out(world.session, rows, {"A1": "G1", "A2": "G1", "A3": "G1"})
    page = browse.signed_in("dispatcher")
    page.goto("/map")
    toggle = page.locator("#hotspot-toggle")
    toggle.check()
    # One place × category (grid G1, 暴露垃圾): A2 and A3 came back.
    expect(page.locator("#one-map")).to_have_attribute("data-hotspots", "1")
    toggle.uncheck()
    expect(page.locator("#one-map")).to_have_attribute("data-hotspots", "")
