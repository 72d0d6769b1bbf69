"""A November of hand-made cases whose indicators are counted by hand in the tests.

Streets S1 and S2 of district D1 (the place codes are set on the cases directly: they are
not sealed columns). Times are Asia/Shanghai; steps have their policy.yaml limits
(file and dispatch: 1 working hour).

- A (S1): reported, filed and dispatched on Fri 30 Oct; checked and closed Mon 2 Nov.
- B (S1): a collector's patrol report, filed, dispatched and closed on Mon 23 Nov.
- C (S2): 23 Nov; the first check fails (返工), the second passes; closed.
- D (S2): 23 Nov, dispatched; runs past its deadline (督办 overdue) and is then parked.
- E (S1): 23 Nov; filed at 09:00, dispatched at 14:00 (late); an extension approved,
  fixed and closed after the first deadline but before the extended one (on time).
- F (S2): closed on time on 20 Oct; reopened on 24 Nov and closed after its new deadline.
- G (S1): 23 Nov, filed, then voided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from shapely import Polygon
from sqlalchemy import update

from duban.cases.models import Case
from duban.cases.workflow import Action, Source
from duban.kernel.context import SYSTEM_ACTOR
from duban.places import Region
from tests.factories import cases as case_factory
from tests.factories.world import World
from tests.fakes import local

Step = tuple[str, str, dict[str, Any]]


def run(world: World, case: Case, steps: Sequence[Step]) -> Case:
    for action, by, params in steps:
        if params.get("photo_ids") == "PHOTO":
            params = {"photo_ids": [world.photo()]}
        if by == "system":
            case = case_factory.act(
                world.session, case, action, actor=SYSTEM_ACTOR, clock=world.clock, **params
            )
        else:
            case = world.act(case, Action(action), by, **params)
    return case


INTAKE: list[Step] = [
    ("assign", "operator", {"collector": "collector"}),
    ("verify", "collector", {}),
    ("file", "shift_lead", {}),
]
DISPATCH: list[Step] = [("dispatch", "dispatcher", {"unit": "SZGC"}), ("accept", "handler", {})]
FIX: list[Step] = [
    ("feedback", "handler", {"photo_ids": "PHOTO"}),
    ("assign", "operator", {"collector": "collector"}),
    ("check", "collector", {"passed": True}),
    ("close", "shift_lead", {}),
]


STREETS = {"S1": "东街街道", "S2": "西街街道"}


def regions(world: World) -> None:
    """District D1 and its streets S1, S2: named, each a speck far from the cases (their
    place codes are set by :func:`place`)."""
    speck = Polygon([(0, 0), (0, 0.001), (0.001, 0.001)]).wkb
    for code, level, name, parent in [
        ("D1", "district", "中心区", None),
        *[(c, "street", n, "D1") for c, n in STREETS.items()],
    ]:
        world.session.add(
            Region(
                code=code,
                level=level,
                name=name,
                parent_code=parent,
                geometry=speck,
                min_lon=0.0,
                min_lat=0.0,
                max_lon=0.0,
                max_lat=0.0,
                area_m2=0.0,
                attributes={},
                source="test",
                valid_from=local(2020, 1, 1),
            )
        )
    world.session.commit()


def place(world: World, case: Case, street: str) -> None:
    world.session.execute(
        update(Case).where(Case.id == case.id).values(street_code=street, district_code="D1")
    )
    world.session.commit()


@dataclass
class November:
    world: World
    cases: dict[str, Case]

    def id(self, name: str) -> int:
        return self.cases[name].id


def build(world: World) -> November:
    clock = world.clock
    made: dict[str, Case] = {}
    regions(world)

    clock.set(local(2026, 10, 30, 10, 0))
    a = run(world, world.report(), [*INTAKE, *DISPATCH, FIX[0]])
    clock.set(local(2026, 11, 2, 10, 0))
    made["A"] = run(world, a, FIX[1:])
    place(world, a, "S1")

    clock.set(local(2026, 11, 23, 9, 0))
    b = world.report(by="collector", source=Source.PATROL)
    made["B"] = run(world, b, [INTAKE[2], *DISPATCH, *FIX])
    place(world, b, "S1")

    c = run(world, world.report(), [*INTAKE, *DISPATCH, *FIX[:2]])
    c = run(world, c, [("check", "collector", {"passed": False, "reason": "未清理干净"})])
    made["C"] = run(world, c, FIX)
    place(world, c, "S2")

    d = run(world, world.report(), [*INTAKE, *DISPATCH])
    assert d.due_at is not None
    clock.set(d.due_at.astimezone(clock.at.tzinfo))
    clock.advance(minutes=1)
    d = run(world, d, [("supervise", "system", {"note": "超期", "extra": {"overdue": True}})])
    made["D"] = run(
        world,
        d,
        [
            ("request_park", "handler", {"reason": "需要协调"}),
            ("approve_park", "dispatcher", {}),
        ],
    )
    place(world, d, "S2")

    clock.set(local(2026, 11, 23, 9, 0))
    e = run(world, world.report(), INTAKE)
    clock.set(local(2026, 11, 23, 14, 0))
    e = run(world, e, DISPATCH)
    assert e.due_at is not None
    first_due = e.due_at
    e = run(
        world,
        e,
        [
            ("request_extension", "handler", {"reason": "材料未到", "amount": 5}),
            ("approve_extension", "dispatcher", {}),
        ],
    )
    assert e.due_at is not None
    assert e.due_at > first_due
    clock.set(first_due)
    clock.advance(minutes=30)
    assert clock.now() < e.due_at
    made["E"] = run(world, e, FIX)
    place(world, e, "S1")

    clock.set(local(2026, 10, 20, 9, 0))
    f = run(world, world.report(), [*INTAKE, *DISPATCH, *FIX])
    clock.set(local(2026, 11, 24, 9, 0))
    f = run(world, f, [("reopen", "shift_lead", {"reason": "市民反映未解决"}), DISPATCH[1]])
    assert f.due_at is not None
    clock.set(f.due_at)
    clock.advance(hours=1)
    made["F"] = run(world, f, FIX)
    place(world, f, "S2")

    clock.set(local(2026, 11, 23, 9, 0))
    g = run(world, world.report(), INTAKE)
    made["G"] = run(world, g, [("void", "shift_lead", {"reason": "重复上报"})])
    place(world, g, "S1")

    clock.set(local(2026, 12, 1, 9, 0))
    return November(world, made)


@pytest.fixture
def november(world: World) -> November:
    return build(world)
