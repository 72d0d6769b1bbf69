"""Forms that must never fail silently, in the browser: a dispatch to a unit other than
the suggested one asks for the reason and says so in Chinese (case page and workbench
row); a 随手拍 sent twice makes one case; an expired session keeps the handler's input."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus
from duban.config import Settings
from duban.places.routing import add_rule
from tests.factories.accounts import PASSWORD
from tests.factories.evidence import jpeg
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow

OVERRIDE_ZH = "所选单位不是系统建议的单位，请填写改派原因。"


def photo(name: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg(colour, (320, 240))}


def routed_to_hwc(world: World) -> None:
    """Routing suggests 环卫处 (HWC) for every E01 case."""
    add_rule(world.session, unit_code="HWC", category_code="E01", now=world.clock.now())
    world.session.commit()


def test_dispatch_to_another_unit_asks_for_the_reason_on_the_case_page(
    browse: Browse, shots: Shots, world: World
) -> None:
    routed_to_hwc(world)
    case = world.case_in(CaseStatus.FILED)
    assert case.routing_unit is not None
    assert case.routing_unit.code == "HWC"
    page = browse.signed_in("dispatcher")
    page.goto(f"/cases/{case.id}")
    form = page.locator("#action-dispatch")
    form.evaluate("d => { d.open = true; }")
    reason = form.locator("textarea[name=reason]")
    # The suggestion is chosen: no reason needed, none asked.
    expect(form.locator("select[name=unit]")).to_have_value("HWC")
    expect(reason).to_be_hidden()
    form.locator("select[name=unit]").select_option("SZGC")
    expect(reason).to_be_visible()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    # Refused in place, in Chinese, the choice kept.
    error = page.locator("#action-dispatch [data-field=reason]")
    expect(error).to_have_text(OVERRIDE_ZH)
    expect(page.locator("#action-dispatch select[name=unit]")).to_have_value("SZGC")
    assert "override" not in page.locator("body").inner_text()
    shots.take(page, "dispatch-needs-reason")
    page.locator("#action-dispatch textarea[name=reason]").fill("井盖归市政，分类有误")
    page.locator("#action-dispatch button[type=submit]").click()
    page.wait_for_load_state()
    assert "已派遣" in page.locator("h1 .badge").first.inner_text()
    world.session.expire_all()
    world.session.refresh(case)
    assert case.unit is not None
    assert case.unit.code == "SZGC"


def test_dispatch_to_another_unit_from_the_workbench_row(
    browse: Browse, shots: Shots, world: World
) -> None:
    routed_to_hwc(world)
    case = world.case_in(CaseStatus.FILED)
    page = browse.signed_in("dispatcher")
    page.goto("/work")
    row = page.locator(f"tr[data-case='{case.code}']")
    expect(row.locator("input[name=reason]")).to_be_hidden()
    row.locator("select[name=unit]").select_option("SZGC")
    expect(row.locator("input[name=reason]")).to_be_visible()
    row.locator("td.quick button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("#queue-to_dispatch")).to_be_visible()  # the workbench, redrawn
    row = page.locator(f"tr[data-case='{case.code}']")
    expect(row.locator("[data-field=reason]")).to_have_text(OVERRIDE_ZH)
    expect(row.locator("select[name=unit]")).to_have_value("SZGC")
    shots.take(page, "workbench-dispatch-needs-reason")
    row.locator("input[name=reason]").fill("属市政管辖")
    row.locator("td.quick button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(f"#queue-to_dispatch tr[data-case='{case.code}']")).to_have_count(0)
    world.session.expire_all()
    world.session.refresh(case)
    assert case.status == CaseStatus.DISPATCHED
    assert case.unit is not None
    assert case.unit.code == "SZGC"


def test_a_report_form_sent_again_after_back_makes_no_second_case(
    browse: Browse, shots: Shots, world: World
) -> None:
    citizen = browse.context(
        phone=True, geolocation={"latitude": LAT, "longitude": LON}, permissions=["geolocation"]
    ).new_page()
    citizen.goto("/report")
    token = citizen.locator("input[name=form_token]").input_value()
    assert len(token) == 24
    citizen.set_input_files("input[name=photos]", [photo("problem.jpg", (150, 110, 60))])
    citizen.get_by_role("button", name="使用我的位置").click()
    expect(citizen.locator("input[name=lat]")).not_to_have_value("")
    citizen.fill("input[name=q]", "垃圾")
    citizen.locator("#category-results input[value=E0102]").check()
    citizen.fill("textarea[name=description]", "小区北门暴露垃圾两天无人清理")
    citizen.get_by_role("button", name="提交").click()
    citizen.wait_for_url("**/track/*?new=1")
    code = citizen.locator("[data-tracking-code]").inner_text().strip()
    assert world.session.scalar(select(func.count()).select_from(Case)) == 1

    # Back to the form, change the category, send it again.
    citizen.go_back()
    citizen.wait_for_url("**/report")
    expect(citizen.locator("input[name=form_token]")).to_have_value(token)
    citizen.set_input_files("input[name=photos]", [photo("again.jpg", (90, 110, 60))])
    citizen.get_by_role("button", name="使用我的位置").click()
    expect(citizen.locator("input[name=lat]")).not_to_have_value("")
    citizen.fill("input[name=q]", "垃圾")
    citizen.locator("#category-results input[value=E0103]").check()
    shots.take(citizen, "report-after-back")
    citizen.get_by_role("button", name="提交").click()
    citizen.wait_for_url(f"**/track/{code}")
    assert "该表单已提交过" in citizen.locator(".notice").inner_text()
    shots.take(citizen, "report-already-sent")
    world.session.expire_all()
    cases = world.session.scalars(select(Case)).all()
    assert len(cases) == 1
    assert cases[0].category_code == "E0102"
    assert len(cases[0].photos) == 1  # the second photo was not kept

    # A new form (not Back) is a new report.
    citizen.goto("/report")
    assert citizen.locator("input[name=form_token]").input_value() != token


def test_an_expired_sign_in_keeps_the_handlers_note_and_photo(
    browse: Browse, shots: Shots, world: World, clock: FixedClock, settings: Settings
) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    handler = browse.signed_in("handler", phone=True)
    handler.goto(f"/cases/{case.id}")
    handler.locator("#action-feedback").evaluate("d => { d.open = true; }")
    handler.set_input_files(
        "#action-feedback input[name=photos]", [photo("fixed.jpg", (60, 160, 90))]
    )
    handler.locator("#action-feedback textarea[name=note]").fill("已清运完毕，现场已冲洗")
    # The handler took their time: the sign-in expired before they sent it.
    clock.advance(minutes=settings.token_ttl_minutes + 1)
    handler.locator("#action-feedback button[type=submit]").click()
    handler.wait_for_url(lambda url: "/login?next=/resume/" in url)
    assert "内容已保存" in handler.locator(".notice").inner_text()
    shots.take(handler, "sign-in-again")
    handler.fill("input[name=username]", "handler")
    handler.fill("input[name=password]", PASSWORD)
    handler.click("form[action='/login'] button[type=submit]")
    handler.wait_for_url("**/resume/*")
    kept = handler.locator("#kept-form")
    expect(kept.locator("[data-kept=note]")).to_have_text("已清运完毕，现场已冲洗")
    expect(kept.locator("[data-kept=photos]")).to_have_text("fixed.jpg")
    shots.take(handler, "kept-form")
    kept.get_by_role("button", name="提交").click()
    handler.wait_for_url(f"**/cases/{case.id}")
    assert "待核查" in handler.locator("h1 .badge").first.inner_text()
    assert handler.locator(".compare figure").nth(1).locator("img").count() == 1
    assert "已清运完毕，现场已冲洗" in handler.locator("ol.timeline").inner_text()
    shots.take(handler, "sent-after-sign-in")
    world.session.expire_all()
    world.session.refresh(case)
    assert case.status == CaseStatus.AWAITING_CHECK


def test_a_kept_form_is_only_for_the_person_who_sent_it(
    browse: Browse, world: World, clock: FixedClock, settings: Settings
) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    handler = browse.signed_in("handler")
    handler.goto(f"/cases/{case.id}")
    handler.locator("#action-feedback").evaluate("d => { d.open = true; }")
    handler.set_input_files("#action-feedback input[name=photos]", [photo("f.jpg", (6, 16, 9))])
    handler.locator("#action-feedback textarea[name=note]").fill("已处理")
    clock.advance(minutes=settings.token_ttl_minutes + 1)
    handler.locator("#action-feedback button[type=submit]").click()
    handler.wait_for_url(lambda url: "/login?next=/resume/" in url)
    resume = handler.url.split("next=", 1)[1]
    other = browse.signed_in("dispatcher")
    other.goto(resume)
    assert "没有待提交的已保存表单" in other.locator(".notice").inner_text()


def test_the_report_form_finds_categories_by_everyday_words_or_offers_the_tree(
    browse: Browse, shots: Shots
) -> None:
    page = browse.page(phone=True)
    page.goto("/report")
    results = page.locator("#category-results")
    for words, first in [
        ("摆摊", "E0501"),
        ("井盖丢了", "C0114"),
        ("违章停车", "E0505"),
        ("ld", "C0118"),
    ]:
        page.fill("input[name=q]", words)
        expect(results.locator("input[name=category]").first).to_have_value(first)
    shots.take(page, "category-by-pinyin")
    page.fill("input[name=q]", "外星人降落")
    expect(results.locator("[data-no-match]")).to_contain_text("没有找到与“外星人降落”相符")
    tree = page.locator("#category-tree")
    expect(tree).not_to_have_attribute("open", "")
    results.locator("[data-open-tree]").click()
    expect(tree).to_have_attribute("open", "")
    tree.locator("details.indent summary").first.click()
    expect(tree.locator("input[name=category]").first).to_be_visible()
    shots.take(page, "category-no-match-tree")


def test_errors_people_meet_most_are_in_chinese_without_internals(
    browse: Browse, shots: Shots, world: World
) -> None:
    page = browse.context(
        phone=True, geolocation={"latitude": LAT, "longitude": LON}, permissions=["geolocation"]
    ).new_page()
    page.goto("/report")
    page.set_input_files(
        "input[name=photos]",
        [{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"this is not a picture"}],
    )
    page.get_by_role("button", name="使用我的位置").click()
    expect(page.locator("input[name=lat]")).not_to_have_value("")
    page.fill("input[name=q]", "垃圾")
    page.locator("#category-results input[value=E0102]").check()
    page.fill("textarea[name=description]", "垃圾没人清")
    page.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    error = page.locator("[data-field=photos]")
    expect(error).to_contain_text("无法识别该文件为照片")
    assert "BytesIO" not in page.content()
    assert "cannot identify" not in page.content()
    shots.take(page, "not-a-photo")

    routed_to_hwc(world)
    case = world.case_in(CaseStatus.FILED)
    handler = browse.signed_in("handler2")
    handler.goto(f"/cases/{case.id}")
    body = handler.locator("main").inner_text()
    assert "该案件不存在，或您无权查看" in body
    assert "does not exist" not in body
    browse.errors[:] = [e for e in browse.errors if "status of 404" not in e]  # expected
    dispatcher = browse.signed_in("dispatcher")
    dispatcher.goto(f"/cases/{case.id}")
    dispatcher.locator("#action-dispatch").evaluate("d => { d.open = true; }")
    suggestion = dispatcher.locator("#action-dispatch [data-suggestion]").inner_text()
    assert "环境卫生管理处" in suggestion
    # The reason in Chinese: the rule, what it covers and where, and the unit.
    assert "规则 #" in suggestion
    assert "市容环境 · 不限 → 环境卫生管理处" in suggestion
    assert "rule #" not in suggestion


def test_a_collector_answers_not_true_with_a_reason_on_a_phone(
    browse: Browse, shots: Shots, world: World
) -> None:
    case = world.case_in(CaseStatus.REPORTED)
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    page = browse.signed_in("collector", phone=True)
    page.goto(f"/cases/{case.id}")
    form = page.locator("#action-verify")
    form.evaluate("d => { d.open = true; }")
    form.get_by_label("不属实（请在下方填写原因）").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    # No reason: refused in place, in Chinese, the choice kept, nothing written.
    expect(page.locator("#action-verify [data-field=reason]")).to_have_text("请填写原因。")
    expect(page.locator("#action-verify input[name=passed][value=no]")).to_be_checked()
    world.session.commit()  # end the read snapshot; see what the server wrote
    world.session.refresh(case)
    assert case.status == CaseStatus.REPORTED
    page.locator("#action-verify textarea[name=note]").fill("现场无此问题")
    shots.take(page, "collector-not-true")
    page.locator("#action-verify button[type=submit]").click()
    page.wait_for_url("**/tasks")
    world.session.commit()  # end the read snapshot; see what the server wrote
    world.session.refresh(case)
    assert case.status == CaseStatus.REJECTED
