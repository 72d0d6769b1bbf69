"""A measure (or an item) raises cases through the one intake of cases; the link shows
both ways — in the ledger's tree and entry page, and on the case's page and API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.cases import NewCase
from duban.cases.models import Case
from duban.cases.workflow import CaseStatus, Source
from duban.kernel.errors import InvalidInput, PermissionDenied
from duban.ledgers.models import LedgerEvent, LedgerNode, LedgerNodeCase
from duban.ledgers.queries import items_of_case, ledger_tree
from duban.ledgers.raising import raise_case
from tests.factories.cases import CATEGORY, LAT, LON
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.http import API, Api
from tests.web.test_server import sign_in


def _first(world: World, ledger_id: int, kind: str) -> LedgerNode:
    node = world.session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger_id, LedgerNode.kind == kind)
        .order_by(LedgerNode.id)
    ).first()
    assert node is not None
    return node


def _report(**kw: Any) -> NewCase:
    fields: dict[str, Any] = {
        "source": Source.SUPERVISION,
        "category_code": CATEGORY,
        "lat": LAT,
        "lon": LON,
        "description": "整改措施落实中发现：人行道井盖缺失",
    }
    return NewCase(**{**fields, **kw})


def _count(world: World, model: type[Any]) -> int:
    return int(world.session.scalar(select(func.count()).select_from(model)) or 0)


def _walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(_walk(node.get("children") or []))
    return out


def test_a_measure_raises_cases_and_both_sides_show_the_link(world: World) -> None:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = _first(world, ledger.id, "measure")
    item = _first(world, ledger.id, "item")
    supervisor = world.actor("supervisor")
    first = raise_case(
        world.session, actor=supervisor, clock=world.clock, node_id=measure.id, data=_report()
    )
    second = raise_case(
        world.session, actor=supervisor, clock=world.clock, node_id=measure.id, data=_report()
    )
    from_item = raise_case(
        world.session, actor=supervisor, clock=world.clock, node_id=item.id, data=_report()
    )
    # 督查组 reports are seen on site: they skip 核实 like any supervision report.
    assert first.status == CaseStatus.VERIFIED
    tree = ledger_tree(world.session, actor=world.actor("leader"), ledger_id=ledger.id)
    bodies = {n["id"]: n for n in _walk(tree["aspects"])}
    assert bodies[measure.id]["cases"] == [
        {"id": first.id, "code": first.code},
        {"id": second.id, "code": second.code},
    ]
    assert bodies[item.id]["cases"] == [{"id": from_item.id, "code": from_item.code}]
    assert [n.id for n in items_of_case(world.session, first.id, actor=world.actor("leader"))] == [
        measure.id
    ]
    raised = world.session.scalars(
        select(LedgerEvent).where(LedgerEvent.kind == "case_raised").order_by(LedgerEvent.seq)
    ).all()
    assert [e.payload["code"] for e in raised] == [first.code, second.code, from_item.code]


def test_what_raising_refuses_writes_nothing(world: World) -> None:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = _first(world, ledger.id, "measure")
    problem = _first(world, ledger.id, "problem")
    cases, links, events = (
        _count(world, Case),
        _count(world, LedgerNodeCase),
        _count(world, LedgerEvent),
    )
    with pytest.raises(InvalidInput):  # the intake's own refusal: no such category
        raise_case(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            node_id=measure.id,
            data=_report(category_code="Z9999"),
        )
    world.session.rollback()
    with pytest.raises(InvalidInput, match="only a measure or an item raises a case"):
        raise_case(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            node_id=problem.id,
            data=_report(),
        )
    world.session.rollback()
    with pytest.raises(PermissionDenied):
        raise_case(
            world.session,
            actor=world.actor("handler"),
            clock=world.clock,
            node_id=measure.id,
            data=_report(),
        )
    world.session.rollback()
    assert (_count(world, Case), _count(world, LedgerNodeCase), _count(world, LedgerEvent)) == (
        cases,
        links,
        events,
    )


def test_the_api_raises_a_case_and_lists_the_link_both_ways(api: Api, world: World) -> None:
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = _first(world, ledger.id, "measure")
    world.session.commit()
    response = api.client.post(
        f"{API}/ledgers/nodes/{measure.id}/cases",
        json={
            "category_code": CATEGORY,
            "lat": LAT,
            "lon": LON,
            "description": "整改措施落实中发现：人行道井盖缺失",
        },
        headers=api.headers("supervisor"),
    )
    assert response.status_code == 201, response.text
    raised = response.json()
    assert raised["node_id"] == measure.id
    assert raised["code"]
    items = api.get(f"/cases/{raised['id']}/ledger-items", "leader").json()
    assert [(i["id"], i["kind"]) for i in items] == [(measure.id, "measure")]
    tree = api.get(f"/ledgers/{ledger.id}", "leader").json()
    bodies = {n["id"]: n for n in _walk(tree["aspects"])}
    assert bodies[measure.id]["cases"] == [{"id": raised["id"], "code": raised["code"]}]
    refused = api.client.post(
        f"{API}/ledgers/nodes/{measure.id}/cases",
        json={"category_code": CATEGORY, "lat": LAT, "lon": LON, "description": "x"},
        headers=api.headers("handler"),
    )
    assert refused.status_code == 403


def test_the_pages_raise_a_case_and_show_the_link_both_ways(
    client: TestClient, app: FastAPI, world: World
) -> None:
    import re

    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    measure = _first(world, ledger.id, "measure")
    world.session.commit()
    sign_in(client, app, world, "supervisor")
    page = client.get(
        f"/ledgers/{ledger.id}/nodes/{measure.id}", headers={"Accept-Language": "zh-CN"}
    ).text
    assert f'data-raise-form="{measure.id}"' in page
    assert "发起案件" in page
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    done = client.post(
        f"/ledgers/{ledger.id}/nodes/{measure.id}/cases",
        data={
            "csrf_token": found.group(1),
            "category": CATEGORY,
            "description": "井盖缺失",
            "address": "人民路",
            "lat": str(LAT),
            "lon": str(LON),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    case_url = done.headers["location"]
    case_page = client.get(case_url, headers={"Accept-Language": "zh-CN"}).text
    assert "所属整改台账条目" in case_page
    assert f'href="/ledgers/{ledger.id}/nodes/{measure.id}"' in case_page
    case_id = int(case_url.rsplit("/", 1)[1])
    tree = client.get(f"/ledgers/{ledger.id}").text
    assert f'href="/cases/{case_id}"' in tree
    assert "已发起的案件" in tree
    bad = client.post(
        f"/ledgers/{ledger.id}/nodes/{measure.id}/cases",
        data={"csrf_token": found.group(1), "category": CATEGORY, "description": "x", "lat": "北"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert bad.status_code == 422
    assert "纬度和经度必须是数字" in bad.text
