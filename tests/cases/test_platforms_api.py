"""Second-level dispatch (二级派遣, issue 15 item 2) through the API, on both stores.

The city's dispatcher sends a filed case down to a street's platform (下派); the street's
own dispatcher sends it on to a unit of the street; the unit's 回退 goes back one level,
to that platform; the platform's 退回上级 goes back to the city with its reason. Each
level has its own step limit, the events record the level, and each dispatcher is
counted for their own level only. A city that runs one level (the default) is as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from duban.cases.factrules import case_facts
from duban.cases.models import CaseEvent, CaseFact
from duban.places.index import forget_places_index
from duban.reference import LimitUnit, TimeLimit, load_policy
from duban.reference import policy as policy_module
from tests.factories.cases import filed_case
from tests.factories.places import LAT, LON
from tests.factories.platforms import DISTRICT, EAST, WEST, set_dispatch_policy, two_level_city
from tests.factories.world import World
from tests.http import Api


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # PostgreSQL tests reuse one URL; the policy and places caches are keyed by it.
    policy_module._cache.clear()
    forget_places_index()
    yield
    policy_module._cache.clear()
    forget_places_index()


@pytest.fixture
def city(world: World) -> World:
    return two_level_city(world)


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    return {**error, **error.get("detail", {})}


def payloads(world: World, case_id: int, action: str) -> list[dict[str, Any]]:
    with world.session_factory() as s:
        rows = s.scalars(
            select(CaseEvent.payload)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == action)
            .order_by(CaseEvent.seq)
        )
        return [json.loads(p) for p in rows]


def test_a_case_goes_down_two_levels_and_returns_come_back_one_level(city: World, api: Api) -> None:
    case = filed_case(city)
    assert (case.district_code, case.street_code) == (DISTRICT, WEST)

    # 下派: without a platform named, the case's street (it runs one).
    sent = api.act(case.id, "dispatch_to_platform", "dispatcher", note="请西区处置")
    assert (sent["status"], sent["platform"]) == ("at_platform", WEST)
    assert sent["step"] == "sub_dispatch"
    assert payloads(city, case.id, "dispatch_to_platform") == [{"level": "city", "platform": WEST}]
    # Each dispatcher is offered the actions of their own level.
    assert "dispatch" not in api.case(case.id, "dispatcher")["allowed_actions"]
    offered = api.case(case.id, "west_dispatcher")["allowed_actions"]
    assert {"dispatch", "platform_return"} <= set(offered)
    # The street's own dispatcher sends it on to a unit of the street.
    done = api.act(case.id, "dispatch", "west_dispatcher", unit="JD001")
    assert (done["status"], done["unit"], done["platform"]) == ("dispatched", "JD001", WEST)
    assert payloads(city, case.id, "dispatch")[-1]["level"] == "platform"
    assert payloads(city, case.id, "dispatch")[-1]["platform"] == WEST

    # The unit says it is not theirs: back to the platform, not to the city.
    back = api.act(case.id, "return", "west_handler", reason="不属于本中队")
    assert (back["status"], back["platform"], back["unit"]) == ("at_platform", WEST, None)
    assert payloads(city, case.id, "return")[-1] == {
        "level": "platform",
        "platform": WEST,
        "reason": "不属于本中队",
        "unit": "JD001",
    }
    # The platform sends it back up with its reason (a reason is required).
    assert error_of(api.act_raw(case.id, "platform_return", "west_dispatcher"), 422)
    up = api.act(case.id, "platform_return", "west_dispatcher", reason="属市级专业部门")
    assert (up["status"], up["platform"], up["step"]) == ("returned", None, "dispatch")
    assert payloads(city, case.id, "platform_return") == [
        {"level": "platform", "platform": WEST, "reason": "属市级专业部门"}
    ]
    # The city dispatches it to a unit of its own; the unit's 回退 now goes to the city.
    again = api.act(case.id, "dispatch", "dispatcher", unit="SZGC", reason="市政设施")
    assert again["status"] == "dispatched"
    assert payloads(city, case.id, "dispatch")[-1]["level"] == "city"
    assert api.act(case.id, "return", "handler", reason="不是我们的")["status"] == "returned"
    # The whole chain of events still verifies.
    timeline = api.case(case.id)["events"]
    assert [e["action"] for e in timeline][-6:] == [
        "dispatch_to_platform",
        "dispatch",
        "return",
        "platform_return",
        "dispatch",
        "return",
    ]


def test_the_district_platform_takes_cases_of_its_streets(city: World, api: Api) -> None:
    case = filed_case(city)
    sent = api.act(case.id, "dispatch_to_platform", "dispatcher", platform=DISTRICT)
    assert sent["platform"] == DISTRICT
    # The street's dispatcher sees the case (their territory) but it is not theirs.
    assert error_of(api.act_raw(case.id, "dispatch", "west_dispatcher", unit="JD001"), 403)
    done = api.act(case.id, "dispatch", "district_dispatcher", unit="QCG")
    assert (done["status"], done["unit"]) == ("dispatched", "QCG")


def test_forbidden_paths_across_platforms(city: World, api: Api) -> None:
    west = filed_case(city)
    east = filed_case(city, lon=LON + 0.01, lat=LAT, description="东区：垃圾满溢")
    assert east.street_code == EAST

    # Only the city sends down, and only to a platform whose territory holds the case.
    assert error_of(api.act_raw(west.id, "dispatch_to_platform", "west_dispatcher"), 403)
    wrong = api.act_raw(west.id, "dispatch_to_platform", "dispatcher", platform=EAST)
    assert error_of(wrong, 422)["field"] == "platform"
    unknown = api.act_raw(west.id, "dispatch_to_platform", "dispatcher", platform="999999")
    assert error_of(unknown, 422)["field"] == "platform"
    # A platform's dispatcher does not dispatch what the city holds.
    assert error_of(api.act_raw(west.id, "dispatch", "west_dispatcher", unit="JD001"), 403)
    # The city does not dispatch straight to a platform's unit.
    straight = api.act_raw(west.id, "dispatch", "dispatcher", unit="JD001", reason="属地")
    assert error_of(straight, 422)["field"] == "unit"

    api.act(west.id, "dispatch_to_platform", "dispatcher")
    api.act(east.id, "dispatch_to_platform", "dispatcher")
    # Another street's dispatcher: the case does not exist for them.
    assert error_of(api.act_raw(west.id, "dispatch", "east_dispatcher", unit="JD002"), 404)
    assert error_of(api.act_raw(west.id, "platform_return", "east_dispatcher", reason="x"), 404)
    # Their own case, but another street's unit or the city's: refused, nothing written.
    other = api.act_raw(east.id, "dispatch", "east_dispatcher", unit="JD001")
    assert error_of(other, 422)["field"] == "unit"
    city_unit = api.act_raw(east.id, "dispatch", "east_dispatcher", unit="SZGC", reason="x")
    assert error_of(city_unit, 422)["field"] == "unit"
    helper = api.act_raw(
        east.id, "dispatch", "east_dispatcher", unit="JD002", helper_units=["JD001"]
    )
    assert error_of(helper, 422)["field"] == "helper_units"
    # The city's dispatcher does not take over what a platform holds.
    assert error_of(api.act_raw(west.id, "dispatch", "dispatcher", unit="SZGC", reason="x"), 403)
    assert error_of(api.act_raw(west.id, "platform_return", "dispatcher", reason="x"), 403)
    assert api.case(west.id)["status"] == "at_platform"
    assert api.case(east.id)["status"] == "at_platform"


def test_one_level_stays_the_default(world: World, api: Api) -> None:
    two_level_city(world, levels=1)
    case = filed_case(world)
    assert "dispatch_to_platform" not in api.case(case.id)["allowed_actions"]
    refused = api.act_raw(case.id, "dispatch_to_platform", "dispatcher", platform=WEST)
    assert error_of(refused, 422)["field"] == "platform"
    assert api.case(case.id)["status"] == "filed"
    # Any unit, the street's too, and the event says nothing of levels.
    done = api.act(case.id, "dispatch", "dispatcher", unit="JD001")
    assert done["status"] == "dispatched"
    assert "level" not in payloads(world, case.id, "dispatch")[-1]
    assert done["platform"] is None
    assert api.act(case.id, "return", "west_handler", reason="不是我们的")["status"] == "returned"
    # The platform dispatchers of item 1 keep working in their territory.
    back = api.act(case.id, "dispatch", "west_dispatcher", unit="JD001")
    assert back["status"] == "dispatched"


def test_each_level_has_its_own_step_limit_and_its_own_count(city: World, api: Api) -> None:
    set_dispatch_policy(
        city,
        dispatch={"amount": 1, "unit": "work_hours"},
        sub_dispatch={"amount": 3, "unit": "work_hours"},
    )
    case = filed_case(city)
    with city.session_factory() as s:
        calendar = load_policy(s).calendar
    filed_due = datetime.fromisoformat(api.case(case.id)["step_due_at"])
    assert filed_due == calendar.due_at(city.clock.now(), TimeLimit(1, LimitUnit.WORK_HOURS))
    sent = api.act(case.id, "dispatch_to_platform", "dispatcher")
    assert sent["step"] == "sub_dispatch"
    # The platform's own limit (three working hours), from when it got the case.
    due = datetime.fromisoformat(sent["step_due_at"])
    assert due == calendar.due_at(city.clock.now(), TimeLimit(3, LimitUnit.WORK_HOURS))
    # The platform dispatches late: its own step says so, the city's did not.
    city.clock.advance(hours=8)
    api.act(case.id, "dispatch", "west_dispatcher", unit="JD001")
    assert "step_late" not in payloads(city, case.id, "dispatch_to_platform")[0]
    assert payloads(city, case.id, "dispatch")[-1]["step_late"] is True

    page = api.case(case.id)
    assert page["status"] == "dispatched"
    # Each dispatcher is counted for their own level, and the case once.
    facts = case_facts()
    with city.session_factory() as s:
        rows = {
            (r.actor_role, r.actor_id): r.flags
            for r in s.scalars(select(CaseFact).where(CaseFact.case_id == case.id))
        }

    def has(flags: int, name: str) -> bool:
        return bool(flags & facts[name].mask)

    city_row = rows[("dispatcher", city.users["dispatcher"].id)]
    west_row = rows[("dispatcher", city.users["west_dispatcher"].id)]
    assert has(city_row, "sent_to_platform")
    assert not has(city_row, "dispatched")
    assert not has(city_row, "sent_to_platform_late")
    assert has(west_row, "dispatched")
    assert has(west_row, "dispatched_late")
    assert not has(west_row, "sent_to_platform")
    whole = rows[("", 0)]
    assert has(whole, "dispatched")
    assert has(whole, "sent_to_platform")
