"""Names, not codes, in the browser: timelines and lists show 环境卫生管理处 and 李明,
never HWC or collector2; the citizen sees the unit and its reply; an approved extension
shows its new deadline; the dispatcher sees why a case came back; phone numbers are
checked on the report form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from duban.cases.actions import NewCase
from duban.cases.public import report_as_citizen
from duban.cases.workflow import Action, Source
from tests.factories.evidence import jpeg
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


def photo(name: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg(colour, (320, 240))}


def test_timelines_name_units_and_people_and_show_the_new_deadline(
    browse: Browse, shots: Shots, world: World
) -> None:
    world.user("collector").display_name = "李明"
    world.session.commit()
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN, category_code="E0102", lat=LAT, lon=LON, description="垃圾"
        ),
    )
    case = receipt.case
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.VERIFY, "collector")
    world.act(case, Action.FILE, "shift_lead")
    world.act(case, Action.DISPATCH, "dispatcher", unit="HWC")
    world.act(case, Action.RETURN, "handler2", reason="不属于环卫职责，应为市政")
    # The dispatcher sees who sent it back and why.
    dispatcher = browse.signed_in("dispatcher")
    dispatcher.goto("/work")
    came_back = dispatcher.locator(f"tr[data-case='{case.code}'] [data-came-back]")
    expect(came_back).to_contain_text("被 环境卫生管理处 退回")
    expect(came_back).to_contain_text("不属于环卫职责，应为市政")
    shots.take(dispatcher, "workbench-came-back")

    world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    world.act(case, Action.ACCEPT, "handler")
    assert case.due_at is not None
    until = case.due_at + timedelta(days=3)
    world.act(case, Action.REQUEST_EXTENSION, "handler", until=until, reason="需调运大型设备")
    world.act(case, Action.APPROVE_EXTENSION, "dispatcher")

    dispatcher.goto(f"/cases/{case.id}")
    timeline = dispatcher.locator("ol.timeline")
    text = timeline.inner_text()
    assert "环境卫生管理处" in text
    assert "市政工程管理处" in text
    assert "李明" in text
    for code in ("HWC", "SZGC", "collector"):
        assert code not in text, code
    new_deadline = timeline.locator("li[data-action=approve_extension] [data-new-deadline]")
    expect(new_deadline).to_contain_text(until.astimezone(world_tz()).strftime("%Y-%m-%d %H:%M"))
    shots.take(dispatcher, "timeline-names")

    # The unit reports the fix with a public reply; the citizen sees the unit and it.
    handler = browse.signed_in("handler")
    handler.goto(f"/cases/{case.id}")
    handler.locator("#action-feedback").evaluate("d => { d.open = true; }")
    handler.set_input_files("#action-feedback input[name=photos]", [photo("ok.jpg", (5, 90, 9))])
    handler.locator("#action-feedback textarea[name=note]").fill("内部：已派两人清运")
    handler.locator("#action-feedback textarea[name=public_reply]").fill("垃圾已清运，感谢您的反映")
    handler.locator("#action-feedback button[type=submit]").click()
    handler.wait_for_load_state()
    assert "待核查" in handler.locator("h1 .badge").first.inner_text()

    citizen = browse.page(phone=True)
    citizen.goto(f"/track/{receipt.tracking_code}")
    progress = citizen.locator("ol.timeline")
    expect(progress.locator("[data-unit]").last).to_contain_text("市政工程管理处")
    expect(progress.locator("[data-reply]")).to_contain_text("垃圾已清运，感谢您的反映")
    expect(progress.locator("[data-new-deadline]")).to_have_count(1)
    assert "内部：已派两人清运" not in progress.inner_text()
    assert "SZGC" not in progress.inner_text()
    shots.take(citizen, "citizen-progress")


def world_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def test_the_report_form_refuses_a_wrong_phone_number_in_chinese(
    browse: Browse, shots: Shots, world: World
) -> None:
    page = browse.context(
        phone=True, geolocation={"latitude": LAT, "longitude": LON}, permissions=["geolocation"]
    ).new_page()
    page.goto("/report")
    page.get_by_role("button", name="使用我的位置").click()
    expect(page.locator("input[name=lat]")).not_to_have_value("")
    page.fill("input[name=q]", "垃圾")
    page.locator("#category-results input[value=E0102]").check()
    page.fill("textarea[name=description]", "垃圾没人清")
    page.fill("input[name=phone]", "12345")
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    error = page.locator("[data-field=phone]")
    expect(error).to_contain_text("请填写11位手机号码，或带区号的固定电话")
    expect(page.locator("textarea[name=description]")).to_have_value("垃圾没人清")
    shots.take(page, "phone-refused")
    page.fill("input[name=phone]", "0371-6123 4567")
    page.locator(
        "#category-results input[value=E0102], #category-tree input[value=E0102]"
    ).first.check()
    page.get_by_role("button", name="提交").click()
    page.wait_for_url("**/track/*")
    world.session.expire_all()
    from sqlalchemy import select

    from duban.cases.models import Case

    assert world.session.scalars(select(Case.reporter_phone)).all() == ["0371-61234567"]
