"""The other pages in the browser: the map with filters, validation next to fields, CSRF,
the language switch, the dashboard's links, duplicates at intake, "not fixed", admin."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from duban.accounts.models import Unit
from duban.cases import mapdata
from duban.cases.actions import NewCase
from duban.cases.models import Case
from duban.cases.public import report_as_citizen
from duban.cases.workflow import Action, CaseStatus, Source
from duban.reference.calendar import national_calendar_covers
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.web.conftest import Browse, Shots

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow


def spread(world: World) -> dict[CaseStatus, Case]:
    """Cases in several statuses, a few hundred metres apart."""
    statuses = [
        CaseStatus.REPORTED,
        CaseStatus.FILED,
        CaseStatus.DISPATCHED,
        CaseStatus.HANDLING,
        CaseStatus.CLOSED,
    ]
    return {
        status: world.case_in(status, lat=LAT + i * 0.003, lon=LON + i * 0.003)
        for i, status in enumerate(statuses)
    }


def map_total(page: Any) -> int:
    expect(page.locator("#one-map")).to_have_attribute("data-total", re.compile(r"^\d+$"))
    expect(page.locator("#one-map")).not_to_have_attribute("aria-busy", "true")
    return int(page.locator("#one-map").get_attribute("data-total"))


def map_shows(page: Any, total: int) -> None:
    """Wait until the map has drawn ``total`` cases (page script: no eval under the CSP)."""
    expect(page.locator("#one-map")).to_have_attribute("data-total", str(total))


def test_the_one_map_shows_cases_and_follows_the_filters(
    browse: Browse, shots: Shots, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spread(world)
    page = browse.signed_in("dispatcher")
    page.goto("/map")
    assert map_total(page) == 4  # the open ones: the map opens on what is not done
    assert page.locator("#one-map").get_attribute("data-mode") == "points"
    page.wait_for_selector(".leaflet-overlay-pane canvas, .marker-cluster")
    shots.take(page, "map-open")

    page.locator("#map-filters input[name=status][value=closed]").check()
    map_shows(page, 5)
    assert "status=closed" in page.url
    for status in ("reported", "dispatched", "handling", "closed"):
        page.locator(f"#map-filters input[name=status][value={status}]").uncheck()
    map_shows(page, 1)
    shots.take(page, "map-filed-only")

    page.locator("#map-filters input[name=status][value=closed]").check()
    page.locator("#map-filters select[name=unit]").select_option("SZGC")
    map_shows(page, 1)
    page.locator("#map-filters input[name=status][value=filed]").uncheck()
    map_shows(page, 1)
    assert "unit=SZGC" in page.url

    # Zoomed out over many cases the map gets counts per cell instead of points.
    monkeypatch.setattr(mapdata, "POINTS_ALWAYS", 2)  # as if the city had many cases
    data = page.request.get("/map/data.json?zoom=8").json()
    assert data["mode"] == "cells"
    assert sum(cell[2] for cell in data["cells"]) == 5
    points = page.request.get("/map/data.json?zoom=16&status=closed").json()
    assert points["mode"] == "points"
    assert len(points["points"]) == 1


def test_a_refused_action_shows_the_message_next_to_the_field(
    browse: Browse, shots: Shots, world: World
) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    page = browse.signed_in("handler", phone=True)
    page.goto(f"/cases/{case.id}")
    page.locator("#action-return").evaluate("d => { d.open = true; }")
    page.locator("#action-return button[type=submit]").click()
    page.wait_for_load_state()
    message = page.locator("#action-return [data-field=reason]")
    assert message.inner_text() == "请填写原因。"
    assert page.locator("#action-return").get_attribute("open") is not None
    assert "处置中" in page.locator("h1 .badge").first.inner_text()
    shots.take(page, "validation-message")


def test_a_form_without_this_browsers_csrf_token_is_refused(
    browse: Browse, shots: Shots, world: World
) -> None:
    page = browse.signed_in("dispatcher")
    forged = page.request.post("/logout", form={"csrf_token": "forged"})
    assert forged.status == 403
    assert "表单已过期" in forged.text()
    missing = page.request.post("/logout", form={})
    assert missing.status == 403
    page.goto("/work")
    assert "/login" not in page.url  # still signed in: the forged logout did nothing
    page.set_content(forged.text())
    shots.take(page, "csrf-refused")
    # A fresh browser's sign-in form carries its own token and works.
    other = browse.page()
    other.goto("/login")
    assert other.locator("input[name=csrf_token]").get_attribute("value")


def test_the_language_switches_to_english_and_back(browse: Browse, shots: Shots) -> None:
    page = browse.signed_in("dispatcher")
    assert page.locator("nav.menu").get_by_text("工作台").count() == 1
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("nav.menu").get_by_text("Workbench").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    shots.take(page, "english-workbench")
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("nav.menu").get_by_text("工作台").count() == 1


def test_dashboard_numbers_link_to_the_cases_behind_them(
    browse: Browse, shots: Shots, world: World, clock: FixedClock
) -> None:
    spread(world)
    page = browse.signed_in("leader")
    assert page.url.endswith("/dashboard")
    shots.take(page, "dashboard")
    open_count = int(page.locator("[data-figure=open] .big").inner_text())
    assert open_count == 4
    assert int(page.locator("[data-figure=intake] .big").inner_text()) == 5
    page.locator("[data-figure=open]").click()
    page.wait_for_url("**/cases?open=1")
    assert page.locator("[data-total]").inner_text() == "共 4 件"
    page.go_back()
    unit_row = page.locator("tr[data-unit=SZGC]")
    unit_row.locator("td").nth(1).locator("a").click()
    page.wait_for_url("**/cases?open=1&unit=SZGC")
    assert page.locator("tbody tr").count() == 2
    shots.take(page, "dashboard-drilldown")


def test_the_operator_is_offered_the_open_case_nearby_before_a_duplicate(
    browse: Browse, shots: Shots, world: World
) -> None:
    existing = world.case_in(CaseStatus.DISPATCHED)
    page = browse.signed_in("operator")
    page.goto("/report")
    page.locator("details:has(input[name=lat])").evaluate("d => { d.open = true; }")
    page.fill("input[name=lat]", str(LAT + 0.0005))
    page.fill("input[name=lon]", str(LON))
    page.fill("input[name=name]", "王女士")
    page.fill("input[name=phone]", "13900002222")
    page.fill("input[name=q]", "暴露垃圾")
    page.locator("#category-results input[value=E0102]").check()
    page.fill("textarea[name=description]", "来电反映小区门口垃圾堆积")
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_load_state()
    offer = page.locator("#nearby-offer")
    assert existing.code in offer.inner_text()
    shots.take(page, "intake-duplicate-offer")
    offer.get_by_role("button", name="仍然提交我的上报").click()
    page.wait_for_url("**/cases/*")
    assert "已上报" in page.locator("h1 .badge").first.inner_text()
    assert "13900002222" in page.content()  # staff see the caller's number


def test_a_citizen_says_not_fixed_and_the_supervisor_sees_it(
    browse: Browse, shots: Shots, world: World
) -> None:
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN, category_code="E0102", lat=LAT, lon=LON, description="垃圾"
        ),
    )
    case = receipt.case
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    for action, by, params in [
        (Action.VERIFY, "collector", {}),
        (Action.FILE, "shift_lead", {}),
        (Action.DISPATCH, "dispatcher", {"unit": "SZGC"}),
        (Action.ACCEPT, "handler", {}),
        (Action.FEEDBACK, "handler", {"photo_ids": [world.photo()]}),
    ]:
        world.act(case, action, by, **params)
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=True)
    world.act(case, Action.CLOSE, "shift_lead")

    citizen = browse.page(phone=True)
    citizen.goto(f"/track/{receipt.tracking_code.lower()}")  # typed in lower case
    citizen.locator("#not-fixed details").evaluate("d => { d.open = true; }")
    citizen.locator("#not-fixed button[type=submit]").click()
    citizen.wait_for_load_state()
    assert citizen.locator("#not-fixed [data-field=reason]").inner_text() == "请填写原因。"
    citizen.fill("#not-fixed textarea[name=reason]", "垃圾又堆起来了")
    citizen.locator("#not-fixed button[type=submit]").click()
    citizen.wait_for_load_state()
    assert "已转监督指挥中心" in citizen.locator(".notice").inner_text()
    shots.take(citizen, "citizen-not-fixed")

    supervisor = browse.signed_in("supervisor")
    row = supervisor.locator(f"#queue-not_fixed tr[data-case='{case.code}']")
    assert row.count() == 1
    shots.take(supervisor, "supervisor-workbench")


def test_admin_keeps_units_users_limits_and_the_calendar(
    browse: Browse, shots: Shots, world: World
) -> None:
    page = browse.signed_in("admin")
    assert page.url.endswith("/admin")
    shots.take(page, "admin-home")

    page.goto("/admin/units")
    page.fill("form[action='/admin/units'] input[name=code]", "SZGC")
    page.fill("form[action='/admin/units'] input[name=name]", "重复")
    page.locator("form[action='/admin/units'] button").click()
    page.wait_for_load_state()
    assert "已存在" in page.locator("[data-field=code]").inner_text()
    page.fill("form[action='/admin/units'] input[name=code]", "YLC")
    page.fill("form[action='/admin/units'] input[name=name]", "园林绿化管理处")
    page.locator("form[action='/admin/units'] button").click()
    page.wait_for_load_state()
    assert "园林绿化管理处" in page.locator("table").inner_text()
    shots.take(page, "admin-units")

    page.goto("/admin/users")
    form = page.locator("form[action='/admin/users']")
    form.locator("input[name=username]").fill("handler_ylc")
    form.locator("input[name=password]").fill("a-long-password")
    form.locator("select[name=role]").select_option("handler")
    form.locator("select[name=unit]").select_option("YLC")
    form.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-user=handler_ylc]").count() == 1
    shots.take(page, "admin-users")

    page.goto("/admin/taxonomy?q=暴露垃圾")
    row = page.locator("tr[data-condition=E010201]")
    row.locator("input[name=amount]").fill("6")
    row.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-condition=E010201] input[name=amount]").input_value() == "6"
    shots.take(page, "admin-taxonomy")

    page.goto("/admin/calendar")
    # The page says 2027's holidays are provisional (until chinesecalendar ships them),
    # and stops saying so once the State Council's schedule is pasted.
    if not national_calendar_covers(2027):
        assert "2027" in page.locator("#calendar-provisional").inner_text()
        page.fill("input[name=year]", "2027")
        page.fill(
            "textarea[name=schedule]", "2027-01-01 休\n2027-02-05..2027-02-13 休\n2027-02-14 班"
        )
        page.locator("#paste-schedule button").click()
        page.wait_for_load_state()
        assert page.locator("#calendar-provisional").count() == 0
    page.fill("input[name=day]", "2026-12-31")
    page.locator("select[name=kind]").select_option("holiday")
    page.locator("form[action='/admin/calendar'] button").click()
    page.wait_for_load_state()
    assert "2026-12-31" in page.locator("#holidays").inner_text()
    shots.take(page, "admin-calendar")

    unit = world.session.scalars(select(Unit).where(Unit.code == "YLC")).first()
    assert unit is not None


def _district(code: str, name: str, ring: list[list[float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"adcode": code, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_admin_imports_regions_with_a_validation_report_and_adds_a_routing_rule(
    browse: Browse, shots: Shots, tmp_path: Any
) -> None:
    square = [[113.70, 33.90], [113.80, 33.90], [113.80, 34.00], [113.70, 34.00], [113.70, 33.90]]
    bowtie = [[113.90, 33.90], [114.00, 34.00], [114.00, 33.90], [113.90, 34.00], [113.90, 33.90]]
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    _district("411098", "甲区", square),
                    _district("411098", "乙区", bowtie),
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    good = tmp_path / "good.geojson"
    good.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [_district("411098", "甲区", square)]},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    page = browse.signed_in("admin")
    page.goto("/admin/regions")

    def upload(path: Any) -> None:
        page.set_input_files("#import-form input[name=file]", str(path))
        page.fill("#import-form input[name=code_field]", "adcode")
        page.fill("#import-form input[name=name_field]", "name")
        page.locator("#import-form button").click()
        page.wait_for_load_state()

    upload(bad)
    report = page.locator("#import-report")
    assert "未写入任何内容" in report.locator("[data-summary]").inner_text()
    assert report.locator("tr[data-problem]").count() >= 2
    # The problems in Chinese: the kind as a label, the level by its name.
    duplicate = report.locator("tr[data-problem=duplicate_code]").inner_text()
    assert "编码重复" in duplicate
    assert "区县编码 411098 被使用了 2 次（乙区、甲区）" in duplicate
    crossing = report.locator("tr[data-problem=self_intersection]").inner_text()
    assert "边界自相交" in crossing
    assert "区县“乙区”（411098）：边界在" in crossing
    shots.take(page, "admin-import-refused")
    upload(good)
    assert "新增 1 个" in page.locator("#import-report [data-summary]").inner_text()
    assert "区 1" in page.locator("section.card p.muted").first.inner_text()
    shots.take(page, "admin-import-written")

    page.goto("/admin/routing")
    form = page.locator("form[action='/admin/routing']")
    form.locator("input[name=category]").fill("E01")
    form.locator("select[name=place_level]").select_option("district")
    form.locator("input[name=place_code]").fill("411098")
    form.locator("select[name=unit]").select_option("HWC")
    form.locator("button").click()
    page.wait_for_load_state()
    rules = page.locator("tr[data-rule]")
    assert rules.count() == 1
    assert "环境卫生管理处" in rules.first.inner_text()  # the unit's name, not HWC
    shots.take(page, "admin-routing")
