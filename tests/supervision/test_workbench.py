"""The supervisor's workbench (督办工作台): each queue counts what waits and links to it;
a territory supervisor counts their territory's only; other roles are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.kernel.errors import PermissionDenied
from duban.ledgers.models import LedgerNode
from duban.ledgers.rectify import EvidenceFile, request_signoff
from duban.supervision.joint import DecisionInput
from duban.supervision.workbench import workbench
from tests.factories.campaigns import EAST, campaign, make_regions, place
from tests.factories.cases import dispatched_case
from tests.factories.evidence import jpeg
from tests.factories.ledgers import imported
from tests.factories.supervision import answer, joint, order
from tests.factories.world import World
from tests.web.test_server import sign_in


def _counts(world: World, by: str = "supervisor", **actor: object) -> dict[str, int]:
    who = replace(world.actor(by), **actor)  # type: ignore[arg-type]
    return {q.key: q.count for q in workbench(world.session, actor=who, clock=world.clock)}


def _seed(world: World) -> None:
    make_regions(world.session)
    east = place(world.session, dispatched_case(world), EAST)
    other = dispatched_case(world)
    made = order(world, [east, other], reply_work_days=1)
    answer(world, made.id, made.problems[0].id)
    joint(world, [east], decisions=[DecisionInput(text="联合清理", unit="SZGC", due_work_days=1)])
    campaign(world)
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = world.session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger.id, LedgerNode.kind == "measure")
        .where(LedgerNode.lead_unit_id == world.units["SZGC"].id)
        .order_by(LedgerNode.id)
    ).first()
    assert measure is not None
    assert world.store is not None
    request_signoff(
        world.session,
        actor=world.actor("handler"),
        clock=world.clock,
        node_id=measure.id,
        files=[EvidenceFile("现场.jpg", jpeg((1, 2, 3)))],
        store=world.store,
    )


def test_each_queue_counts_what_waits(world: World) -> None:
    _seed(world)
    now = _counts(world)
    assert now["problems_to_review"] == 1
    assert now["signoffs_to_review"] == 1
    assert now["active_campaigns"] == 1
    assert now["overdue_orders"] == 0
    assert now["overdue_decisions"] == 0
    world.clock.advance(days=10)
    later = _counts(world)
    assert later["overdue_orders"] == 1
    assert later["overdue_decisions"] == 1
    assert _counts(world, "leader") == later
    # A supervisor of another territory does not see the east's answered problem.
    assert _counts(world, region_code="411002002")["problems_to_review"] == 0
    assert _counts(world, region_code=EAST)["problems_to_review"] == 1
    for role in ("handler", "collector", "dispatcher"):
        with pytest.raises(PermissionDenied):
            workbench(world.session, actor=world.actor(role), clock=world.clock)


def test_the_page_groups_supervision_in_the_menu_in_both_languages(
    client: TestClient, app: FastAPI, world: World
) -> None:
    _seed(world)
    world.session.commit()
    sign_in(client, app, world, "supervisor")
    zh = client.get("/oversight", headers={"Accept-Language": "zh-CN"}).text
    assert "督办工作台" in zh
    assert 'data-queue="problems_to_review" data-count="1"' in zh
    assert 'data-queue="signoffs_to_review" data-count="1"' in zh
    menu = zh.split('<nav class="menu">')[1].split("</nav>")[0]
    assert menu.count("<a href=") <= 7  # 督办 groups orders, ledgers, campaigns, sessions…
    assert 'href="/oversight"' in menu
    assert 'href="/ledgers"' not in menu
    ledgers = client.get("/ledgers").text
    current = ledgers.split('<nav class="menu">')[1].split("</nav>")[0]
    assert '<a href="/oversight" aria-current="page">' in current
    client.get("/lang/en?next=/oversight")
    en = client.get("/oversight").text
    assert "Supervision workbench" in en
    assert "Sign-off requests awaiting review" in en
    client.cookies.clear()
    sign_in(client, app, world, "handler")
    assert client.get("/oversight").status_code == 403
