"""A hand-over in the browser: the dispatcher hands a pavement-parking case to 交警 as the
responsibility list says; the traffic police answer on a phone through the signed link,
without an account — accept, then done with a photo; the dispatcher sees the answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from duban.handover.policy import shipped_data
from duban.handover.service import load_list
from tests.factories.cases import filed_case
from tests.factories.evidence import jpeg
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


def test_a_body_answers_a_hand_over_on_a_phone(
    browse: Browse, shots: Shots, world: World, session: Session, clock: FixedClock
) -> None:
    load_list(session, shipped_data(), now=clock.now())
    case = filed_case(
        world, category="E0505", condition_code="E050502", description="轿车停在人行道上"
    )
    dispatcher = browse.signed_in("dispatcher")
    dispatcher.goto(f"/cases/{case.id}")
    expect(dispatcher.locator("#handover [data-listed]")).to_have_attribute("data-listed", "JJDD")
    dispatcher.locator("#action-transfer").evaluate("d => { d.open = true; }")
    expect(dispatcher.locator("#action-transfer select[name=unit]")).to_have_value("JJDD")
    dispatcher.locator("#action-transfer textarea[name=note]").fill("请交警依法处理")
    dispatcher.locator("#action-transfer button[type=submit]").click()
    dispatcher.wait_for_load_state()
    link = dispatcher.locator("[data-answer-link]").input_value()
    assert link.startswith("/handover/")
    shots.take(dispatcher, "dispatcher-handed-over")

    # The traffic police, on a phone, with no account.
    body = browse.page(phone=True)
    body.goto(link)
    expect(body.locator("[data-case-code]")).to_have_text(case.code)
    expect(body.locator("[data-state]")).to_have_attribute("data-state", "open")
    width = body.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the answer page scrolls sideways on a phone ({width}px)"
    shots.take(body, "body-opens-link")
    body.locator("form[data-answer=accept] button").click()
    body.wait_for_load_state()
    expect(body.locator("[data-state]")).to_have_attribute("data-state", "accepted")
    expect(body.locator("form[data-answer=accept]")).to_have_count(0)
    body.set_input_files(
        "form[data-answer=done] input[name=photos]",
        [{"name": "done.jpg", "mimeType": "image/jpeg", "buffer": jpeg((90, 90, 200), (320, 240))}],
    )
    body.locator("form[data-answer=done] textarea[name=note]").fill("车辆已拖移")
    body.locator("form[data-answer=done] button").click()
    body.wait_for_load_state()
    expect(body.locator("[data-handover-message]")).to_contain_text("答复已登记")
    shots.take(body, "body-done")
    # The link is used now: a clear page, not an error trace.
    response = body.goto(link)
    assert response is not None
    assert response.status == 409
    expect(body.locator("[data-handover-message]")).to_contain_text("已答复")

    dispatcher.goto(f"/cases/{case.id}")
    expect(dispatcher.locator("#handover [data-transfer]")).to_have_attribute("data-state", "done")
    expect(dispatcher.locator("#handover [data-answer-note]")).to_have_text("车辆已拖移")
    shots.take(dispatcher, "dispatcher-sees-answer")
