"""Territory scope (issue 15 item 1) on supervision orders: a district's staff see only the
orders and problems of their territory; city staff see all; another district's order is
not found."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from duban.kernel.errors import NotFound, PermissionDenied
from duban.places.models import RegionUnit
from duban.supervision.models import SupervisionOrder
from duban.supervision.orders import (
    OrderInput,
    create_order,
    get_order,
    list_orders,
    visible_problems,
)
from tests.factories.campaigns import EAST as CITY_EAST
from tests.factories.campaigns import WEST as CITY_WEST
from tests.factories.campaigns import make_regions, place
from tests.factories.cases import dispatched_case
from tests.factories.supervision import order
from tests.factories.world import World
from tests.http import API, Api, assert_error

EAST, WEST = "410102", "410103"


def test_a_district_sees_only_its_orders_and_problems(world: World) -> None:
    world.session.add_all(
        [
            RegionUnit(region_code=EAST, unit_id=world.units["SZGC"].id),
            RegionUnit(region_code=WEST, unit_id=world.units["HWC"].id),
        ]
    )
    world.session.commit()
    east_case = dispatched_case(world)
    west_case = dispatched_case(world, unit="HWC")
    both = order(world, [east_case, west_case])
    west_only = order(world, [west_case])
    east = replace(world.actor("supervisor"), region_code=EAST)
    west = replace(world.actor("supervisor"), region_code=WEST)
    city = world.actor("leader")
    assert {o.id for o in list_orders(world.session, actor=city)[0]} == {both.id, west_only.id}
    assert [o.id for o in list_orders(world.session, actor=east)[0]] == [both.id]
    assert [p.case_id for p in visible_problems(both, east)] == [east_case.id]
    assert [p.case_id for p in visible_problems(both, west)] == [west_case.id]
    assert len(visible_problems(both, city)) == 2
    with pytest.raises(NotFound):
        get_order(world.session, actor=east, order_id=west_only.id)
    assert get_order(world.session, actor=west, order_id=west_only.id).id == west_only.id
    # a case filed in the east, handled by the west's unit, is the east's to see too
    west_case.district_code = EAST
    world.session.commit()
    assert get_order(world.session, actor=east, order_id=west_only.id).id == west_only.id
    # a handler of a district sees its own unit's problems of that district only
    handler = replace(world.actor("handler"), region_code=WEST)
    assert list_orders(world.session, actor=handler)[0] == []


def test_a_territory_supervisor_orders_only_their_territory(world: World, api: Api) -> None:
    make_regions(world.session)
    east_case = place(world.session, dispatched_case(world), CITY_EAST)
    west_case = place(world.session, dispatched_case(world, unit="HWC"), CITY_WEST)
    east = replace(world.actor("supervisor"), region_code=CITY_EAST)
    made = create_order(
        world.session,
        actor=east,
        clock=world.clock,
        data=OrderInput(title="东大街督办", case_ids=[east_case.id]),
    )
    assert [p.case_id for p in made.problems] == [east_case.id]
    orders = world.session.scalar(select(func.count()).select_from(SupervisionOrder))
    with pytest.raises(PermissionDenied, match="only the cases of their territory") as refused:
        create_order(
            world.session,
            actor=east,
            clock=world.clock,
            data=OrderInput(title="越界督办", case_ids=[east_case.id, west_case.id]),
        )
    assert refused.value.detail["case_ids"] == [west_case.id]
    world.session.rollback()
    assert world.session.scalar(select(func.count()).select_from(SupervisionOrder)) == orders
    # The API answers 403 with the catalogue's message, in the reader's language.
    user = world.user("supervisor")
    user.region_code = CITY_EAST
    world.session.commit()
    response = api.client.post(
        f"{API}/supervision-orders",
        json={"title": "越界督办", "case_ids": [west_case.id]},
        headers={**api.headers("supervisor"), "Accept-Language": "zh-CN"},
    )
    error = assert_error(response, 403)
    assert error["message"] == "辖区督察人员只能对本辖区的案件发督办单"
    # City-wide supervisors (no territory) order any case.
    user.region_code = None
    world.session.commit()
    ok = api.client.post(
        f"{API}/supervision-orders",
        json={"title": "全市督办", "case_ids": [east_case.id, west_case.id]},
        headers=api.headers("supervisor"),
    )
    assert ok.status_code == 201, ok.text
