"""One case through the whole closed loop in the browser, each step as the person who
takes it: a citizen's 随手拍 on a phone, the operator, the collector's verify, the shift
lead, the dispatcher, the unit (with an after-photo), the collector's check, the close
and the citizen's rating."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories.evidence import jpeg
from tests.factories.places import LAT, LON
from tests.fakes import FixedClock
from tests.web.conftest import Browse, Shots

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow


def status_of(page: Any) -> str:
    return str(page.locator("h1 .badge").first.inner_text()).strip()


def photo(name: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg(colour, (320, 240))}


def open_case_from_work(page: Any, code: str) -> None:
    page.goto("/work")
    page.locator(f"tr[data-case='{code}'] a.mono").click()
    page.wait_for_url("**/cases/*")


def open_action(page: Any, action: str) -> None:
    """Unfold an action's form on the case page."""
    page.locator(f"#action-{action}").evaluate("d => { d.open = true; }")


def quick(page: Any, code: str) -> None:
    """The one-click action of a queue row (file, dispatch, close, assign, accept...)."""
    page.locator(f"tr[data-case='{code}'] td.quick button[type=submit]").click()
    page.wait_for_load_state()


def test_a_citizen_report_goes_round_the_loop_and_gets_rated(
    browse: Browse, shots: Shots, clock: FixedClock
) -> None:
    # 1. A citizen without an account, on a phone with GPS, reports exposed rubbish.
    citizen_ctx = browse.context(
        phone=True, geolocation={"latitude": LAT, "longitude": LON}, permissions=["geolocation"]
    )
    citizen = citizen_ctx.new_page()
    citizen.goto("/")
    shots.take(citizen, "citizen-home")
    citizen.get_by_role("link", name="随手拍").first.click()
    citizen.set_input_files("input[name=photos]", [photo("problem.jpg", (150, 110, 60))])
    citizen.get_by_role("button", name="使用我的位置").click()
    expect(citizen.locator("input[name=lat]")).not_to_have_value("")
    citizen.fill("input[name=q]", "垃圾")
    citizen.locator("#category-results input[value=E0102]").check()
    citizen.fill("textarea[name=description]", f"小区北门暴露垃圾两天无人清理 {XSS}")
    citizen.fill("input[name=phone]", "13800001111")
    shots.take(citizen, "citizen-report-form")
    citizen.get_by_role("button", name="提交").click()
    citizen.wait_for_url("**/track/*?new=1")
    code = citizen.locator("[data-tracking-code]").inner_text().strip()
    assert len(code) == 11
    assert "已上报" in status_of(citizen)
    # The description is shown as text, never run; the phone number is never public.
    assert "<script>" in citizen.locator(".description").inner_text()
    assert citizen.evaluate("window.__pwned") is None
    assert "13800001111" not in citizen.content()
    shots.take(citizen, "citizen-tracking-code")
    case_code = citizen.locator("[data-case-code]").inner_text().strip()

    # 2. The operator sends a verify task to the collector whose beat covers the place.
    operator = browse.signed_in("operator", via_form=True)
    operator.goto("/work")
    shots.take(operator, "operator-workbench")
    quick(operator, case_code)
    assert operator.locator("#queue-tasks_out tr[data-case]").count() == 1

    # 3. The collector verifies on site, on a phone.
    collector = browse.signed_in("collector", phone=True)
    assert collector.url.endswith("/tasks")  # a collector's home
    shots.take(collector, "collector-tasks")
    collector.locator(f"li[data-case='{case_code}'] a").click()
    open_action(collector, "verify")
    collector.locator("#action-verify textarea[name=note]").fill("现场核实属实")
    # The description is escaped on the staff page too.
    assert "<script>" in collector.locator("[data-description]").inner_text()
    assert collector.evaluate("window.__pwned") is None
    shots.take(collector, "collector-verify-form")
    collector.locator("#action-verify button[type=submit]").click()
    collector.wait_for_url("**/tasks")
    assert "已完成：核实" in collector.locator(".notice").inner_text()

    # 4. The shift lead files it with one click.
    clock.advance(minutes=20)
    lead = browse.signed_in("shift_lead")
    lead.goto("/work")
    shots.take(lead, "shift-lead-workbench")
    quick(lead, case_code)
    assert lead.locator("#queue-to_file tr[data-case]").count() == 0

    # 5. The dispatcher sends it to the unit.
    dispatcher = browse.signed_in("dispatcher")
    dispatcher.goto("/work")
    row = dispatcher.locator(f"tr[data-case='{case_code}']")
    row.locator("select[name=unit]").select_option("SZGC")
    shots.take(dispatcher, "dispatcher-workbench")
    quick(dispatcher, case_code)
    open_case_from_work_or_list(dispatcher, case_code)
    assert "已派遣" in status_of(dispatcher)
    assert dispatcher.locator("[data-time-left] .light").count() == 1
    shots.take(dispatcher, "dispatcher-case-page")

    # 6. The unit's handler accepts it and reports the fix with an after-photo (phone).
    clock.advance(hours=2)
    handler = browse.signed_in("handler", phone=True)
    handler.goto("/work")
    shots.take(handler, "handler-inbox")
    quick(handler, case_code)
    open_case_from_work(handler, case_code)
    assert "处置中" in status_of(handler)
    open_action(handler, "feedback")
    handler.set_input_files(
        "#action-feedback input[name=photos]", [photo("fixed.jpg", (60, 160, 90))]
    )
    handler.locator("#action-feedback textarea[name=note]").fill("已清运完毕")
    shots.take(handler, "handler-feedback-form")
    handler.locator("#action-feedback button[type=submit]").click()
    handler.wait_for_load_state()
    assert "待核查" in status_of(handler)
    assert handler.locator(".compare figure").nth(1).locator("img").count() == 1

    # 7. The operator sends the check task.
    operator.goto("/work")
    quick(operator, case_code)

    # 8. The collector checks on site, comparing before and after side by side.
    collector.goto("/tasks")
    collector.locator(f"li[data-case='{case_code}'] a").click()
    compare = collector.locator(".compare figure")
    assert compare.nth(0).locator("img").count() == 1
    assert compare.nth(1).locator("img").count() == 1
    open_action(collector, "check")
    collector.locator("#action-check input[name=passed][value=yes]").check()
    shots.take(collector, "collector-check-compare")
    collector.locator("#action-check button[type=submit]").click()
    collector.wait_for_url("**/tasks")
    assert "已完成：核查" in collector.locator(".notice").inner_text()

    # 9. The shift lead closes it.
    lead.goto("/work")
    quick(lead, case_code)
    open_case_from_work_or_list(lead, case_code)
    assert "已结案" in status_of(lead)
    timeline = lead.locator("ol.timeline li")
    assert timeline.count() == 10  # report, assign, verify, file, dispatch, accept,
    #                                feedback, assign, check, close — each with its actor
    assert "受理员" in timeline.nth(1).inner_text()
    shots.take(lead, "closed-case-page")

    # 10. The citizen comes back with the tracking code and rates the result.
    citizen.goto("/")
    citizen.locator(f"a[href='/track/{code}']").click()
    assert "已结案" in status_of(citizen)
    citizen.locator("#rate input[value=satisfied]").check()
    citizen.fill("#rate textarea[name=note]", "处理很及时")
    shots.take(citizen, "citizen-rating")
    citizen.get_by_role("button", name="提交评价").click()
    citizen.wait_for_load_state()
    assert "感谢您的评价" in citizen.content()
    assert "满意" in citizen.locator("#rate, section").filter(has_text="您的评价").inner_text()
    shots.take(citizen, "citizen-rated")


def open_case_from_work_or_list(page: Any, code: str) -> None:
    page.goto("/cases?category=E0102")
    page.locator(f"a.mono:text-is('{code}')").click()
    page.wait_for_url("**/cases/*")
