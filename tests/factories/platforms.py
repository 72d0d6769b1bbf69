"""二级派遣 (issue 15 item 2): a district with two streets around the demo point, each
running its own platform with its own dispatcher and units, and a policy of two levels.

The demo point (:data:`~tests.factories.places.LAT`, :data:`~tests.factories.places.LON`)
lies in the west street. Everything goes through the real use cases: regions through
the region import, units through ``create_unit``, the policy through ``save_policy``.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import box

from duban.accounts.users import create_unit
from duban.kernel.roles import Role
from duban.places.index import forget_places_index
from duban.places.region_import import import_region_items
from duban.places.regions import RegionInput
from duban.reference import policy as policy_module
from duban.reference.policy import save_policy, shipped_policy_data
from tests.factories.accounts import make_user
from tests.factories.places import LAT, LON
from tests.factories.world import World

DISTRICT = "411002"
WEST, EAST = "411002001", "411002002"
#: The platforms' units: code → (name, region).
PLATFORM_UNITS = {
    "JD001": ("西区街道城管中队", WEST),
    "JD002": ("东区街道城管中队", EAST),
    "QCG": ("区市政所", DISTRICT),
}
#: The platforms' staff: username → (role, region, unit code).
PLATFORM_STAFF: dict[str, tuple[Role, str, str | None]] = {
    "west_dispatcher": (Role.DISPATCHER, WEST, None),
    "east_dispatcher": (Role.DISPATCHER, EAST, None),
    "district_dispatcher": (Role.DISPATCHER, DISTRICT, None),
    "west_handler": (Role.HANDLER, WEST, "JD001"),
}


def _rect(x0: float, x1: float) -> Any:
    return box(LON + x0, LAT - 0.02, LON + x1, LAT + 0.02)


def set_dispatch_policy(world: World, *, levels: int = 2, **steps: Any) -> None:
    """The shipped policy with ``dispatch: {levels, platforms}`` and step limits changed."""
    data = shipped_policy_data()
    data["dispatch"] = {"levels": levels, "platforms": [WEST, EAST, DISTRICT]}
    data["steps"] = {**data["steps"], **steps}
    world.clock.advance(seconds=1)  # a new stamp, so every cache sees the change
    save_policy(world.session, data, now=world.clock.now())
    world.session.commit()
    policy_module._cache.clear()


def two_level_city(world: World, *, levels: int = 2, **steps: Any) -> World:
    """The world with the district, its two streets, their platforms' units and staff."""
    now = world.clock.now()
    for level, items in (
        ("district", [RegionInput(DISTRICT, "魏都区", "411000", _rect(-0.02, 0.02))]),
        (
            "street",
            [
                RegionInput(WEST, "西区街道", DISTRICT, _rect(-0.02, 0.005)),
                RegionInput(EAST, "东区街道", DISTRICT, _rect(0.005, 0.02)),
            ],
        ),
    ):
        report = import_region_items(world.session, items, level=level, now=now, source="test")
        assert report.written, report.problems
    world.session.commit()
    forget_places_index()
    for code, (name, region) in PLATFORM_UNITS.items():
        world.units[code] = create_unit(world.session, code=code, name=name, region_code=region)
    world.session.commit()
    for username, (role, region, unit) in PLATFORM_STAFF.items():
        user = make_user(world.session, username, role, unit=world.units[unit] if unit else None)
        user.region_code = region
        world.users[username] = user
    world.session.commit()
    set_dispatch_policy(world, levels=levels, **steps)
    return world
