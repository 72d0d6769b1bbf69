"""The photo checks' verdict in the browser (issue 16 item 3): on the operator's and the
shift lead's work lists, on the collector's check tasks and on the case page, at desktop
and phone widths."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus
from duban.evidence.photos import save_photo
from tests.factories.evidence import LIMITS
from tests.factories.photochecks import crop, light, perspective, phone_jpeg, scene
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import SHANGHAI
from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


def _upload(world: World, data: bytes, by: str) -> str:
    assert world.store is not None
    photo = save_photo(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        store=world.store,
        data=data,
        limits=LIMITS,
        tz=SHANGHAI,
    )
    return photo.id


def _fixed(world: World, after: bytes, lat: float) -> Case:
    before = _upload(world, phone_jpeg(scene("rocket"), gps=(lat, LON)), "operator")
    case = world.case_in(CaseStatus.HANDLING, photo_ids=[before], lat=lat, lon=LON)
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[_upload(world, after, "handler")])
    return case


def _fixes(world: World) -> tuple[Case, Case]:
    """Two fixes waiting for their check: a real one, and another scene 1 km away."""
    good = light(perspective(crop(scene("rocket"), 0.9, 0.05), 0.05), 1.2)
    passed = _fixed(world, phone_jpeg(good, gps=(LAT, LON)), LAT)
    failed = _fixed(world, phone_jpeg(scene("coffee"), gps=(LAT + 0.02, LON)), LAT + 0.01)
    return passed, failed


def _verdict_in_row(page: Any, case: Case, verdict: str) -> None:
    badge = page.locator(f"tr[data-case='{case.code}'] [data-verdict='{verdict}']").first
    expect(badge).to_be_visible()
    box = badge.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width + 1  # not cut off on a phone


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_verdict_is_on_the_check_tasks_and_the_case_page(
    browse: Browse, shots: Shots, world: World, phone: bool
) -> None:
    passed, failed = _fixes(world)
    operator = browse.signed_in("operator", phone=phone)
    operator.goto("/work")
    queue = operator.locator("#queue-to_assign_check")
    expect(queue.locator("[data-count]")).to_have_text("2")
    _verdict_in_row(operator, passed, "pass")
    _verdict_in_row(operator, failed, "fail")
    expect(queue.locator(f"tr[data-case='{failed.code}'] [data-verdict]")).to_contain_text(
        "照片核验: 不通过"
    )
    shots.take(operator, "operator-work")

    world.act(failed, Action.ASSIGN, "operator", collector="collector")
    collector = browse.signed_in("collector", phone=phone)
    collector.goto("/tasks")
    task = collector.locator(f"li[data-case='{failed.code}']")
    expect(task.locator("[data-verdict='fail']")).to_be_visible()
    shots.take(collector, "collector-tasks")
    task.locator("a.task-link").click()
    collector.wait_for_url(f"**/cases/{failed.id}#actions")
    expect(collector.locator(".case-title [data-verdict='fail']")).to_be_visible()
    expect(collector.locator(".photo-checks .finding.fail").first).to_be_visible()
    expect(collector.locator("select[name=rework_reason]")).to_be_visible()
    shots.take(collector, "case-page")

    # Passed with a reason (an override), the case waits for closing: still shown there.
    world.act(failed, Action.CHECK, "collector", passed=True, reason="现场核实已整改")
    lead = browse.signed_in("shift_lead", phone=phone)
    lead.goto("/work")
    _verdict_in_row(lead, failed, "fail")
    lead.goto(f"/cases/{failed.id}")
    expect(lead.locator("[data-override-verdict]")).to_contain_text("现场核实已整改")
    shots.take(lead, "shift-lead")


def test_the_api_gives_the_verdict_with_each_case(world: World, api: Any) -> None:
    passed, failed = _fixes(world)
    items = {c["code"]: c for c in api.get("/cases", "operator").json()["items"]}
    assert items[passed.code]["photo_verdict"] == "pass"
    assert items[failed.code]["photo_verdict"] == "fail"
    assert api.case(failed.id, "operator")["photo_verdict"] == "fail"
    assert api.get(f"/cases/{failed.id}/evidence", "operator").json()["verdict"] == "fail"
