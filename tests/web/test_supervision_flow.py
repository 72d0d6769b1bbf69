"""督办 in the browser, each step as the person who takes it: a unit answers a problem of
a supervision order and the supervisor accepts it (desktop and phone); a unit asks for a
ledger measure to be signed off with evidence files and the reviewer approves it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.ledgers.models import LedgerNode, LedgerSignoff
from tests.factories.cases import dispatched_case
from tests.factories.evidence import jpeg
from tests.factories.ledgers import imported
from tests.factories.supervision import order
from tests.factories.world import World
from tests.web.conftest import Browse, Shots

#: A real browser on a real server: seconds per test.
pytestmark = pytest.mark.slow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _unfold(page: Any, node_id: int) -> None:
    """Unfold the ledger levels around a measure's row, and its request form (the whole
    tree unfolded is too tall to screenshot quickly)."""
    page.locator(f"tr[data-node='{node_id}']").evaluate(
        """row => {
            for (let d = row.closest('details'); d; d = d.parentElement.closest('details')) {
                d.open = true;
            }
            row.querySelectorAll('details').forEach(d => { d.open = true; });
        }"""
    )


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_unit_answers_an_order_and_the_supervisor_accepts(
    browse: Browse, shots: Shots, world: World, phone: bool
) -> None:
    made = order(world, [dispatched_case(world, address="人民路88号")])
    problem = made.problems[0]
    number = made.number

    # The unit's handler answers its problem on the order page.
    unit = browse.signed_in("handler", phone=phone)
    unit.goto(f"/supervision/{made.id}")
    assert number in unit.locator("h1").inner_text()
    row = unit.locator(f"tr[data-problem='{problem.id}']")
    assert "待答复" in row.inner_text()
    form = unit.locator(f"form[data-reply='{problem.id}']")
    form.locator("textarea[name=measures]").fill("已清理完毕，安排专人每日巡查")
    form.locator("input[name=done]").check()
    shots.take(unit, "unit-answers")
    form.get_by_role("button", name="答复").click()
    unit.wait_for_load_state()
    assert "已保存" in unit.content()
    assert "待审核" in row.inner_text()
    assert "已清理完毕，安排专人每日巡查" in row.inner_text()
    assert unit.locator(f"form[data-reply='{problem.id}']").count() == 0
    assert unit.locator("[data-status]").inner_text() == "办理中"

    # The supervisor accepts the answer; the order closes.
    boss = browse.signed_in("supervisor", phone=phone)
    boss.goto("/supervision")
    boss.get_by_role("link", name=number).click()
    boss.wait_for_url(f"**/supervision/{made.id}")
    review = boss.locator(f"form[data-review='{problem.id}']")
    shots.take(boss, "supervisor-reviews")
    review.get_by_role("button", name="通过").click()
    boss.wait_for_load_state()
    assert "已通过" in boss.locator(f"tr[data-problem='{problem.id}']").inner_text()
    assert boss.locator("[data-status]").inner_text() == "已办结"
    assert boss.locator(f"form[data-review='{problem.id}']").count() == 0
    shots.take(boss, "order-closed")


def test_a_unit_asks_to_sign_a_measure_off_and_the_reviewer_approves(
    browse: Browse,
    shots: Shots,
    world: World,
    fresh_session: sessionmaker[Session],
) -> None:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = world.session.scalars(
        select(LedgerNode)
        .where(
            LedgerNode.ledger_id == ledger.id,
            LedgerNode.kind == "measure",
            LedgerNode.lead_unit_id == world.units["SZGC"].id,
        )
        .order_by(LedgerNode.id)
    ).first()
    other = world.session.scalars(
        select(LedgerNode).where(
            LedgerNode.ledger_id == ledger.id,
            LedgerNode.kind == "measure",
            LedgerNode.lead_unit_id != world.units["SZGC"].id,
        )
    ).first()
    assert measure is not None
    assert other is not None

    # The unit's handler asks for its measure to be signed off, with a photo and a PDF.
    unit = browse.signed_in("handler")
    unit.goto(f"/ledgers/{ledger.id}")
    _unfold(unit, measure.id)
    assert unit.locator(f"form[data-signoff-form='{other.id}']").count() == 0  # not its own
    assert unit.locator("#review-queue").count() == 0  # a unit reviews nothing
    form = unit.locator(f"form[data-signoff-form='{measure.id}']")
    form.locator("input[name=files]").set_input_files(
        [
            {"name": "现场照片.jpg", "mimeType": "image/jpeg", "buffer": jpeg((90, 140, 90))},
            {"name": "整改报告.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )
    form.locator("textarea[name=note]").fill("已建立用油登记台账，附照片和报告")
    shots.take(unit, "unit-requests-signoff")
    form.get_by_role("button", name="申请销号").click()
    unit.wait_for_load_state()
    assert "已保存" in unit.content()
    row = unit.locator(f"tr[data-node='{measure.id}']")
    assert row.locator("[data-signoff=pending]").count() == 1
    assert unit.locator(f"form[data-signoff-form='{measure.id}']").count() == 0

    # The reviewer finds it in the queue, opens the evidence and approves (销号).
    boss = browse.signed_in("supervisor")
    boss.goto(f"/ledgers/{ledger.id}")
    queue = boss.locator("#review-queue")
    waiting = queue.locator("tr[data-signoff]")
    assert waiting.count() == 1
    assert measure.text in waiting.inner_text()
    assert "已建立用油登记台账" in waiting.inner_text()
    link = waiting.get_by_role("link", name="整改报告.pdf")
    got = boss.request.get(str(link.get_attribute("href")))
    assert got.ok
    assert got.body().startswith(b"%PDF")
    shots.take(boss, "review-queue")
    waiting.get_by_role("button", name="同意销号").click()
    boss.wait_for_load_state()
    assert "已保存" in boss.content()
    assert boss.locator("#review-queue tr[data-signoff]").count() == 0
    assert "暂无待办" in boss.locator("#review-queue").inner_text()
    assert boss.locator(f"tr[data-node='{measure.id}']").get_attribute("data-status") == "已整改"
    _unfold(boss, measure.id)
    shots.take(boss, "signed-off")

    with fresh_session() as db:
        node = db.get(LedgerNode, measure.id)
        assert node is not None
        assert node.status == "已整改"
        signoff = db.scalars(select(LedgerSignoff).where(LedgerSignoff.node_id == measure.id)).one()
        assert signoff.state == "approved"


def test_a_refusal_needs_a_reason_and_is_shown_to_the_unit(
    browse: Browse, world: World, shots: Shots
) -> None:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = world.session.scalars(
        select(LedgerNode)
        .where(
            LedgerNode.ledger_id == ledger.id,
            LedgerNode.kind == "measure",
            LedgerNode.lead_unit_id == world.units["SZGC"].id,
        )
        .order_by(LedgerNode.id)
    ).first()
    assert measure is not None
    unit = browse.signed_in("handler")
    unit.goto(f"/ledgers/{ledger.id}")
    _unfold(unit, measure.id)
    form = unit.locator(f"form[data-signoff-form='{measure.id}']")
    form.locator("input[name=files]").set_input_files(
        [{"name": "报告.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    form.get_by_role("button", name="申请销号").click()
    unit.wait_for_load_state()

    boss = browse.signed_in("supervisor")
    boss.goto(f"/ledgers/{ledger.id}")
    waiting = boss.locator("#review-queue tr[data-signoff]")
    waiting.get_by_role("button", name="不予销号").click()  # no reason given
    boss.wait_for_load_state()
    assert "不予销号须说明理由" in boss.content()  # in Chinese
    boss.goto(f"/ledgers/{ledger.id}")
    waiting = boss.locator("#review-queue tr[data-signoff]")
    waiting.locator("input[name=reason]").fill("照片看不出整改效果")
    waiting.get_by_role("button", name="不予销号").click()
    boss.wait_for_load_state()
    assert boss.locator("#review-queue tr[data-signoff]").count() == 0

    unit.goto(f"/ledgers/{ledger.id}")
    _unfold(unit, measure.id)
    row = unit.locator(f"tr[data-node='{measure.id}']")
    assert "照片看不出整改效果" in row.inner_text()
    assert row.locator("[data-signoff=refused]").count() == 1
    # refused, so the unit may ask again
    assert unit.locator(f"form[data-signoff-form='{measure.id}']").count() == 1
    shots.take(unit, "refused")


def test_a_unit_answers_with_a_photo_and_the_supervisor_finds_it_on_the_workbench(
    browse: Browse, shots: Shots, world: World, tmp_path: Any
) -> None:
    made = order(world, [dispatched_case(world, address="人民路88号")])
    problem = made.problems[0]
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(jpeg((30, 120, 60), size=(320, 240)))

    unit = browse.signed_in("handler")
    unit.goto(f"/supervision/{made.id}")
    form = unit.locator(f"form[data-reply='{problem.id}']")
    form.locator("textarea[name=measures]").fill("已清理完毕，附整改后照片")
    form.locator("input[name=done]").check()
    form.locator("input[name=photos]").set_input_files(str(photo))
    shots.take(unit, "unit-answers-with-photo")
    form.get_by_role("button", name="答复").click()
    unit.wait_for_load_state()
    assert "已保存" in unit.content()
    assert unit.locator(f"tr[data-problem='{problem.id}'] [data-reply-photo]").count() == 1

    # The supervisor starts from the menu's 督办 entry: the workbench lists the answer.
    boss = browse.signed_in("supervisor")
    boss.goto("/work")
    boss.locator("nav.menu").get_by_role("link", name="督办", exact=True).click()
    boss.wait_for_url("**/oversight")
    queue = boss.locator("[data-queue='problems_to_review']")
    assert queue.get_attribute("data-count") == "1"
    shots.take(boss, "supervision-workbench")
    queue.get_by_role("link").first.click()
    boss.wait_for_url(f"**/supervision/{made.id}")
    selector = f"tr[data-problem='{problem.id}'] img.thumb"
    boss.locator(selector).scroll_into_view_if_needed()
    # The thumbnail loads lazily after the page: wait until it has decoded (a broken
    # image never does, and the wait fails).
    boss.wait_for_function(
        "sel => { const img = document.querySelector(sel);"
        " return img !== null && img.complete && img.naturalWidth > 0; }",
        arg=selector,
    )
    boss.locator(f"form[data-review='{problem.id}']").get_by_role("button", name="通过").click()
    boss.wait_for_load_state()
    assert "已通过" in boss.locator(f"tr[data-problem='{problem.id}']").inner_text()
    boss.goto("/oversight")
    assert boss.locator("[data-queue='problems_to_review']").get_attribute("data-count") == "0"
