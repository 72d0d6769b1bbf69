"""Territory scope (issue 15 item 1) on supervision orders: a district's staff see only the
orders and problems of their territory; city staff see all; another district's order is
not found."""

from __future__ import annotations

from dataclasses import replace

import pytest

from duban.kernel.errors import NotFound
from duban.places.models import RegionUnit
from duban.supervision.orders import get_order, list_orders, visible_problems
from tests.factories.cases import dispatched_case
from tests.factories.supervision import order
from tests.factories.world import World

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
