"""The base map in the browser: configured tile layers (OpenStreetMap, 高德 in GCJ-02,
天地图 with its key) requested at the right z/x/y — answered here by a 1×1 PNG, nothing
leaves the machine — the layer switcher, markers shifted onto GCJ-02 tiles, the popup's
案卷号, category, address, light and time left; and the grid-only map without layers."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from duban.cases.workflow import CaseStatus
from duban.config import Settings
from duban.places.coords import from_wgs84, to_wgs84
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.http import make_settings
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow

ADDRESS = "许昌市魏都区七一路 12 号"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1, 1), (230, 230, 230)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, map_layers="osm,amap,tianditu", tianditu_key="TK1")


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The Web Mercator (XYZ) tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return x, y


def intercept_tiles(page: Any) -> list[str]:
    """Every https request (the tiles) answered by a 1×1 PNG and recorded."""
    seen: list[str] = []

    def answer(route: Any) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PNG)

    page.context.route(re.compile(r"^https://"), answer)
    return seen


def wait_for(page: Any, seen: list[str], pattern: str) -> None:
    rx = re.compile(pattern)
    for _ in range(100):
        if any(rx.search(url) for url in seen):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"no tile request matched {pattern}: {seen[-5:]}")


def switch_to(page: Any, name: str, phone: bool) -> None:
    """Open the layer switcher and choose ``name`` (the choice dispatched to its radio
    button: the tests are about the tiles, and a collapsing control races a tap)."""
    control = page.locator(".leaflet-control-layers")
    if phone:
        page.locator(".leaflet-control-layers-toggle").tap()
    else:
        control.hover()
    page.wait_for_timeout(100)  # Leaflet ignores clicks in the tick the control opens
    label = control.locator(".leaflet-control-layers-base label", has_text=name)
    label.locator("input").dispatch_event("click")


def open_popup(page: Any, lat: float, lon: float) -> Any:
    """Click where the case is drawn in the active layer's system; the popup's content.
    Waits until the markers are drawn in that system and no load is under way (after a
    switch, a click before the redraw lands where the marker no longer is)."""
    one = page.locator("#one-map")
    expect(one).to_have_attribute("data-drawn-crs", one.get_attribute("data-tile-crs"))
    expect(one).not_to_have_attribute("aria-busy", "true")
    at = page.locator("#one-map").evaluate(
        """(el, p) => { const s = Duban.show(el.dataset.tileCrs, p[0], p[1]);
             const pt = el.dubanMap.latLngToContainerPoint(s); return [pt.x, pt.y]; }""",
        [lat, lon],
    )
    box = page.locator("#one-map").bounding_box()
    if page.context.pages and page.viewport_size["width"] < 500:
        page.touchscreen.tap(box["x"] + at[0], box["y"] + at[1])
    else:
        page.mouse.click(box["x"] + at[0], box["y"] + at[1])
    content = page.locator(".leaflet-popup-content [data-case-popup]")
    expect(content).to_be_visible()
    return content


def two_cases(world: World) -> Any:
    case = world.case_in(CaseStatus.HANDLING, address=ADDRESS)
    world.case_in(CaseStatus.DISPATCHED, lat=LAT + 0.01, lon=LON + 0.01)
    return case


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_layers_switch_and_gcj02_shifts_what_is_drawn(
    browse: Browse, shots: Shots, world: World, phone: bool
) -> None:
    case = two_cases(world)
    page = browse.signed_in("dispatcher", phone=phone)
    seen = intercept_tiles(page)
    page.goto("/map")
    one = page.locator("#one-map")
    expect(one).to_have_attribute("data-total", "2")
    layers = json.loads(one.get_attribute("data-layers"))
    assert [layer["name"] for layer in layers] == ["OpenStreetMap", "高德地图", "天地图 矢量"]
    assert [layer["crs"] for layer in layers] == ["wgs84", "gcj02", "wgs84"]
    expect(one).to_have_attribute("data-tile-crs", "wgs84")
    z = int(one.get_attribute("data-zoom"))
    x, y = tile_of(LAT, LON, z)
    wait_for(page, seen, rf"^https://tile\.openstreetmap\.org/{z}/{x}/{y}\.png$")
    popup = open_popup(page, LAT, LON)
    expect(popup.locator("[data-case-code]")).to_have_text(case.code)
    assert popup.locator("[data-case-code]").get_attribute("href") == f"/cases/{case.id}"
    expect(popup.locator("[data-category]")).to_have_text("暴露垃圾")
    expect(popup.locator("[data-address]")).to_have_text(ADDRESS)
    expect(popup.locator("[data-time-left]")).to_contain_text("剩余")
    expect(popup.locator("[data-time-left] .light.l-green")).to_have_count(1)
    shots.take(page, "osm-popup")
    expect(page.locator(".leaflet-popup")).to_have_count(1)  # a redraw reopens it, once
    page.locator(".leaflet-popup-close-button").click()
    expect(page.locator(".leaflet-popup")).to_have_count(0)

    # 高德 tiles are drawn in GCJ-02: the tile asked for holds the shifted point, the view
    # stays on the same ground, and the marker is where the shifted point is drawn.
    switch_to(page, "高德地图", phone)
    expect(one).to_have_attribute("data-tile-crs", "gcj02")
    expect(one).to_have_attribute("data-crs-switches", "1")
    expect(one).to_have_attribute("data-total", "2")
    z = int(one.get_attribute("data-zoom"))
    glon, glat = from_wgs84(LON, LAT, "gcj02")
    gx, gy = tile_of(glat, glon, z)
    wait_for(
        page, seen, rf"^https://webrd0[1-4]\.is\.autonavi\.com/appmaptile\?.*&x={gx}&y={gy}&z={z}$"
    )
    popup = open_popup(page, LAT, LON)
    expect(popup.locator("[data-case-code]")).to_have_text(case.code)
    shots.take(page, "amap-popup")
    expect(page.locator(".leaflet-popup")).to_have_count(1)  # a redraw reopens it, once
    page.locator(".leaflet-popup-close-button").click()
    expect(page.locator(".leaflet-popup")).to_have_count(0)

    switch_to(page, "天地图 矢量", phone)
    expect(one).to_have_attribute("data-tile-crs", "wgs84")
    expect(one).to_have_attribute("data-crs-switches", "2")
    z = int(one.get_attribute("data-zoom"))
    x, y = tile_of(LAT, LON, z)
    for layer in ("vec", "cva"):
        wait_for(
            page,
            seen,
            rf"^https://t[0-7]\.tianditu\.gov\.cn/{layer}_w/wmts\?.*LAYER={layer}&.*"
            rf"TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=TK1$",
        )
    assert not [
        u
        for u in seen
        if not re.match(
            r"^https://(tile\.openstreetmap\.org|webrd0[1-4]\.is\.autonavi\.com|t[0-7]\.tianditu\.gov\.cn)/",
            u,
        )
    ]


def test_the_browser_shift_agrees_with_the_servers(browse: Browse, world: World) -> None:
    page = browse.signed_in("dispatcher")
    intercept_tiles(page)
    page.goto("/map")
    for lat, lon in [(39.915, 116.404), (31.1774276, 121.5272106), (LAT, LON), (48.85, 2.35)]:
        shown = page.evaluate("p => Duban.show('gcj02', p[0], p[1])", [lat, lon])
        glon, glat = from_wgs84(lon, lat, "gcj02")
        # within a micro-degree: about 0.1 m
        assert abs(shown[0] - glat) < 1e-6
        assert abs(shown[1] - glon) < 1e-6
        back = page.evaluate("p => Duban.toWgs('gcj02', p[0], p[1])", [glat, glon])
        wlon, wlat = to_wgs84(glon, glat, "gcj02")
        assert abs(back[0] - wlat) < 1e-6
        assert abs(back[1] - wlon) < 1e-6
    assert page.evaluate("Duban.show('gcj02', 48.85, 2.35)") == [48.85, 2.35]


def test_the_popup_in_english(browse: Browse, world: World) -> None:
    case = two_cases(world)
    page = browse.signed_in("dispatcher", phone=True)
    intercept_tiles(page)
    page.goto("/lang/en?next=/map")
    expect(page.locator("#one-map")).to_have_attribute("data-total", "2")
    popup = open_popup(page, LAT, LON)
    expect(popup.locator("[data-case-code]")).to_have_text(case.code)
    expect(popup.locator("[data-time-left]")).to_contain_text("left")
    assert "剩余" not in popup.inner_text()
