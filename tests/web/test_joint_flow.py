"""会商 and 回头看 in the browser: a unit answers its decision of a joint session and the
supervisor accepts it; a collector records a revisit that failed, and the case reopens."""

from __future__ import annotations

import pytest

from duban.cases.workflow import CaseStatus
from duban.supervision.joint import DecisionInput
from duban.supervision.revisits import create_due_revisits
from tests.factories.cases import dispatched_case, fresh
from tests.factories.supervision import joint
from tests.factories.world import World
from tests.fakes import local
from tests.web.conftest import Browse, Shots

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow


def test_a_unit_answers_its_decision_and_the_supervisor_accepts(
    browse: Browse, shots: Shots, world: World
) -> None:
    meeting = joint(
        world,
        [dispatched_case(world, address="人民路88号")],
        decisions=[
            DecisionInput(text="市政工程处牵头清理占道摊点", unit="SZGC", due_work_days=3),
            DecisionInput(text="环卫处负责清运垃圾", unit="HWC", due_work_days=3),
        ],
    )
    mine, theirs = meeting.decisions

    unit = browse.signed_in("handler")
    unit.goto("/joint")
    unit.get_by_role("link", name=meeting.title).click()
    unit.wait_for_url(f"**/joint/{meeting.id}")
    assert unit.locator(f"tr[data-decision='{theirs.id}']").count() == 0  # not its own
    row = unit.locator(f"tr[data-decision='{mine.id}']")
    assert "待答复" in row.inner_text()
    form = unit.locator(f"form[data-reply='{mine.id}']")
    form.locator("textarea[name=measures]").fill("已组织联合执法，摊点全部清理")
    form.locator("input[name=done]").check()
    shots.take(unit, "unit-answers-decision")
    form.get_by_role("button", name="答复").click()
    unit.wait_for_load_state()
    assert "已保存" in unit.content()
    assert "待审核" in row.inner_text()

    boss = browse.signed_in("supervisor")
    boss.goto(f"/joint/{meeting.id}")
    boss.locator(f"form[data-review='{mine.id}']").get_by_role("button", name="通过").click()
    boss.wait_for_load_state()
    assert "已通过" in boss.locator(f"tr[data-decision='{mine.id}'] [data-status]").inner_text()
    shots.take(boss, "decision-accepted")

    # The case page shows the session and its decisions.
    boss.goto(f"/cases/{meeting.subjects[0].case_id}")
    assert meeting.title in boss.locator("[data-joint]").inner_text()


def test_a_collector_records_a_failed_revisit(browse: Browse, shots: Shots, world: World) -> None:
    case = world.case_in(CaseStatus.CLOSED)
    world.clock.set(local(2026, 12, 1, 9, 0))
    assert create_due_revisits(world.session, clock=world.clock) == [f"case:{case.code}"]

    collector = browse.signed_in("collector")
    collector.goto("/revisits")
    form = collector.locator("form[data-record]")
    form.locator("select[name=reason_code]").select_option("recurred")
    form.locator("input[name=reason]").fill("垃圾再次堆放")
    shots.take(collector, "collector-records-revisit")
    form.get_by_role("button", name="问题反弹（回潮）").click()
    collector.wait_for_load_state()
    assert "已保存" in collector.content()
    assert "回潮" in collector.locator("[data-status]").inner_text()
    assert fresh(world.session_factory, case.id).status == CaseStatus.DISPATCHED
