"""Territory scope (issue 15 item 1) on ledgers: a district's staff see and change only the
items of their territory — by the lead unit's territory or the linked case's district —
and city staff see everything; an entry of another district is not found."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from duban.kernel.context import Actor
from duban.kernel.errors import NotFound
from duban.ledgers.exports import export_workbook
from duban.ledgers.models import LedgerNode
from duban.ledgers.queries import ledger_signoffs, ledger_tree, list_ledgers, progress
from duban.ledgers.rectify import EvidenceFile, request_signoff, set_milestones, set_status
from duban.places.models import RegionUnit
from tests.factories.evidence import jpeg
from tests.factories.ledgers import imported
from tests.factories.world import World
from tests.http import API, Api, assert_error

EAST, WEST = "410102", "410103"


def _districts(world: World) -> None:
    world.session.add_all(
        [
            RegionUnit(region_code=EAST, unit_id=world.units["SZGC"].id),
            RegionUnit(region_code=WEST, unit_id=world.units["HWC"].id),
        ]
    )
    world.session.commit()


def _in(world: World, name: str, region: str) -> Actor:
    return replace(world.actor(name), region_code=region)


def _items(tree: dict[str, object]) -> list[dict[str, object]]:
    return [
        i
        for a in tree["aspects"]  # type: ignore[attr-defined]
        for c in a["children"]
        for p in c["children"]
        for i in p["children"]
    ]


def _measure(world: World, ledger_id: int, unit: str) -> LedgerNode:
    """A measure of ``unit`` not started, under an item that ``unit`` leads too."""
    unit_id = world.units[unit].id
    for node in world.session.scalars(
        select(LedgerNode)
        .where(
            LedgerNode.ledger_id == ledger_id,
            LedgerNode.kind == "measure",
            LedgerNode.lead_unit_id == unit_id,
            LedgerNode.status == "未开始",
        )
        .order_by(LedgerNode.id)
    ):
        item = world.session.get(LedgerNode, node.parent_id)
        if item is not None and item.lead_unit_id == unit_id:
            return node
    raise AssertionError(f"no measure of {unit}")


def test_a_district_sees_only_its_territorys_items(world: World) -> None:
    _districts(world)
    ledger_id = imported(
        world.session, actor=world.actor("supervisor"), clock=world.clock
    ).ledger.id
    city = world.actor("leader")
    east = _in(world, "supervisor", EAST)
    whole = ledger_tree(world.session, actor=city, ledger_id=ledger_id)
    part = ledger_tree(world.session, actor=east, ledger_id=ledger_id)
    szgc = world.units["SZGC"].id
    assert 0 < len(_items(part)) < len(_items(whole)) == 79
    for item in _items(part):  # the east's item, or only the east's measures of another's
        measures = item["children"]
        assert item["lead_unit_id"] == szgc or all(
            m["lead_unit_id"] == szgc
            for m in measures  # type: ignore[attr-defined]
        )
    figures = progress(world.session, actor=east, clock=world.clock, ledger_id=ledger_id)
    assert figures["items"] == len(_items(part))
    assert figures["measures"] == sum(len(i["children"]) for i in _items(part))  # type: ignore[arg-type]
    assert (
        progress(world.session, actor=city, clock=world.clock, ledger_id=ledger_id)["items"] == 79
    )
    [listed] = list_ledgers(world.session, actor=east)
    assert listed["measures"] == figures["measures"]
    assert list_ledgers(world.session, actor=_in(world, "supervisor", "999999")) == []
    exported = export_workbook(world.session, actor=east, ledger_id=ledger_id)
    assert exported  # only the territory's rows (checked through the tree above)


def test_another_districts_entry_is_not_found(world: World) -> None:
    _districts(world)
    ledger_id = imported(
        world.session, actor=world.actor("supervisor"), clock=world.clock
    ).ledger.id
    west_measure = _measure(world, ledger_id, "HWC")
    east = _in(world, "supervisor", EAST)
    with pytest.raises(NotFound):
        set_status(
            world.session, actor=east, clock=world.clock, node_id=west_measure.id, status="推进中"
        )
    with pytest.raises(NotFound):
        set_milestones(
            world.session, actor=east, clock=world.clock, node_id=west_measure.id, milestones=[]
        )
    assert world.store is not None
    with pytest.raises(NotFound):
        request_signoff(
            world.session,
            actor=east,
            clock=world.clock,
            store=world.store,
            node_id=west_measure.id,
            files=[EvidenceFile("a.jpg", jpeg())],
        )
    # the west's own supervisor may, and its request stays out of the east's queue
    west = _in(world, "supervisor", WEST)
    request_signoff(
        world.session,
        actor=west,
        clock=world.clock,
        store=world.store,
        node_id=west_measure.id,
        files=[EvidenceFile("a.jpg", jpeg())],
    )
    assert ledger_signoffs(world.session, actor=east, ledger_id=ledger_id, state="pending") == []
    assert len(ledger_signoffs(world.session, actor=west, ledger_id=ledger_id)) == 1
    assert (
        len(ledger_signoffs(world.session, actor=world.actor("leader"), ledger_id=ledger_id)) == 1
    )


def test_an_item_linked_to_a_case_of_the_district_is_seen(world: World) -> None:
    from duban.ledgers.rectify import link_case
    from tests.factories.cases import dispatched_case

    _districts(world)
    ledger_id = imported(
        world.session, actor=world.actor("supervisor"), clock=world.clock
    ).ledger.id
    west_measure = _measure(world, ledger_id, "HWC")
    item_id = west_measure.parent_id
    assert item_id is not None
    case = dispatched_case(world)
    case.district_code = EAST
    world.session.commit()
    east = _in(world, "supervisor", EAST)
    assert item_id not in {
        i["id"]
        for i in _items(ledger_tree(world.session, actor=east, ledger_id=ledger_id))
        if i["lead_unit_id"] != world.units["SZGC"].id
    }
    link_case(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        node_id=item_id,
        case_id=case.id,
    )
    seen = {i["id"] for i in _items(ledger_tree(world.session, actor=east, ledger_id=ledger_id))}
    assert item_id in seen


def test_across_districts_through_the_api(world: World, api: Api) -> None:
    _districts(world)
    ledger_id = imported(
        world.session, actor=world.actor("supervisor"), clock=world.clock
    ).ledger.id
    west_measure = _measure(world, ledger_id, "HWC")
    east_measure = _measure(world, ledger_id, "SZGC")
    world.users["supervisor"].region_code = EAST
    world.session.commit()
    # the east's supervisor: the west's measure is not found, by every path
    for method, path, body in (
        ("post", f"/ledgers/measures/{west_measure.id}/status", {"status": "推进中"}),
        ("post", f"/ledgers/measures/{west_measure.id}/notes", {"text": "x"}),
        ("put", f"/ledgers/nodes/{west_measure.id}/milestones", {"milestones": []}),
    ):
        response = getattr(api.client, method)(
            f"{API}{path}", json=body, headers=api.headers("supervisor")
        )
        assert_error(response, 404)
    ok = api.client.post(
        f"{API}/ledgers/measures/{east_measure.id}/status",
        json={"status": "推进中"},
        headers=api.headers("supervisor"),
    )
    assert ok.status_code == 200, ok.text
    east = api.get(f"/ledgers/{ledger_id}/progress", "supervisor").json()
    city = api.get(f"/ledgers/{ledger_id}/progress", "leader").json()
    assert east["items"] < city["items"] == 79
    tree = api.get(f"/ledgers/{ledger_id}", "supervisor").json()
    assert west_measure.id not in {
        m["id"]
        for i in _items(tree)
        for m in i["children"]  # type: ignore[attr-defined]
    }


def test_a_unit_sees_only_its_own_part(world: World) -> None:
    ledger_id = imported(
        world.session, actor=world.actor("supervisor"), clock=world.clock
    ).ledger.id
    handler = world.actor("handler")  # of SZGC
    szgc = world.units["SZGC"].id
    part = ledger_tree(world.session, actor=handler, ledger_id=ledger_id)
    items = _items(part)
    assert 0 < len(items) < 79
    for item in items:
        measures = item["children"]
        assert item["lead_unit_id"] == szgc or all(
            m["lead_unit_id"] == szgc
            for m in measures  # type: ignore[attr-defined]
        )
    figures = progress(world.session, actor=handler, clock=world.clock, ledger_id=ledger_id)
    assert figures["items"] == len(items)
    # another unit's measure stays forbidden to change (403), as before
    from duban.kernel.errors import PermissionDenied

    theirs = _measure(world, ledger_id, "HWC")
    with pytest.raises(PermissionDenied):
        set_status(
            world.session, actor=handler, clock=world.clock, node_id=theirs.id, status="推进中"
        )
