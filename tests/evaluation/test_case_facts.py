"""The case facts kept by the event writer equal a recomputation from the event log."""

from __future__ import annotations

import random

from sqlalchemy import select

from duban.cases import CaseFact, case_facts, rebuild_facts
from duban.cases.factrules import fact_bits, local_month, parse_facts
from duban.cases.workflow import Source
from tests.evaluation.conftest import DISPATCH, FIX, INTAKE, Step, run
from tests.factories.world import World
from tests.fakes import local

PATHS: list[list[Step]] = [
    [*INTAKE, ("void", "shift_lead", {"reason": "重复上报"})],
    [*INTAKE, *DISPATCH, *FIX],
    [*INTAKE, *DISPATCH, *FIX[:2], ("check", "collector", {"passed": False, "reason": "未清理"})],
    [
        *INTAKE,
        ("dispatch", "dispatcher", {"unit": "SZGC"}),
        ("return", "handler", {"reason": "非本单位"}),
    ],
    [
        *INTAKE,
        *DISPATCH,
        ("request_extension", "handler", {"reason": "材料未到", "amount": 5}),
        ("approve_extension", "dispatcher", {}),
        *FIX,
    ],
    [
        *INTAKE,
        *DISPATCH,
        ("request_park", "handler", {"reason": "需要协调"}),
        ("approve_park", "dispatcher", {}),
    ],
    [
        *INTAKE,
        *DISPATCH,
        *FIX,
        ("reopen", "shift_lead", {"reason": "市民反映未解决"}),
        DISPATCH[1],
        *FIX,
    ],
]


def stored(world: World) -> dict[tuple[int, int, str, int], int]:
    rows = world.session.execute(select(CaseFact)).scalars()
    return {(r.case_id, r.month, r.actor_role, r.actor_id): r.flags for r in rows}


def test_the_facts_written_with_the_events_equal_a_rebuild(world: World) -> None:
    rng = random.Random(14)
    for n in range(10):
        # from late October into November: the months split some cases
        world.clock.set(local(2026, 10, 28 + rng.randrange(4), 9 + rng.randrange(6), 0))
        source = Source.PATROL if n % 3 == 0 else Source.HOTLINE
        by = "collector" if source == Source.PATROL else "operator"
        case = world.report(by=by, source=source)
        steps = rng.choice(PATHS)
        if source == Source.PATROL:
            steps = [s for s in steps if s[0] not in ("assign", "verify")][:]
            if steps and steps[0][0] == "check":
                continue
        for step in steps:
            world.clock.advance(hours=rng.choice([1, 5, 30]))
            case = run(world, case, [step])
    world.session.commit()
    kept = stored(world)
    assert kept
    assert {m for _, m, _, _ in kept} == {202610, 202611}
    rebuild_facts(world.session)
    world.session.commit()
    assert stored(world) == kept


def test_rebuilding_some_cases_leaves_the_others(world: World) -> None:
    world.clock.set(local(2026, 11, 2, 9, 0))
    a = run(world, world.report(), INTAKE)
    b = run(world, world.report(), INTAKE)
    world.session.commit()
    kept = stored(world)
    rebuild_facts(world.session, [a.id])
    world.session.commit()
    assert stored(world) == kept
    assert {k[0] for k in kept} == {a.id, b.id}


def test_an_event_sets_the_bits_of_its_facts() -> None:
    facts = list(case_facts().values())
    bits = fact_bits(facts, "check", "awaiting_check", "handling", {"passed": False})
    named = {f.name for f in facts if bits & f.mask}
    assert named == {"checked", "check_failed"}
    # a 0 is not a false, nor a string "false"
    assert fact_bits(facts, "check", None, "x", {"passed": 0}) == case_facts()["checked"].mask
    assert local_month(local(2026, 11, 1, 0, 0), local(2026, 1, 1).tzinfo) == 202611
    assert parse_facts({"facts": [{"a": {"action": "x"}}]})["a"].bit == 0


def test_a_range_of_whole_months_and_the_events_agree(november, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from duban.evaluation import indicators
    from duban.evaluation.definitions import OBJECTS, definitions

    session = november.world.session
    for start, end in [
        (local(2026, 11, 1), local(2026, 12, 1)),
        (local(2026, 10, 1), local(2026, 12, 1)),
    ]:
        from_facts = indicators.compute(session, definitions(), list(OBJECTS), start, end)
        monkeypatch.setattr(indicators, "months_of", lambda *a: None)
        from_events = indicators.compute(session, definitions(), list(OBJECTS), start, end)
        monkeypatch.undo()
        assert from_facts == from_events
        assert from_facts["street"]  # not vacuous


def test_a_range_inside_a_month_is_counted_from_the_events(november) -> None:  # type: ignore[no-untyped-def]
    from duban.evaluation.definitions import definitions
    from duban.evaluation.indicators import compute, months_of

    start, end = local(2026, 11, 23), local(2026, 11, 24)
    assert months_of(start, end, start.tzinfo) is None
    s1 = compute(november.world.session, definitions(), ["street"], start, end)["street"]["S1"]
    assert s1["filed_count"].numerator == 3  # B, E and G
    assert s1["close_rate"].numerator == 2  # B, E (A closed on 2 November)
    s1 = compute(
        november.world.session, definitions(), ["street"], local(2026, 11, 2), local(2026, 11, 3)
    )["street"]["S1"]
    assert (s1["close_rate"].numerator, s1["on_time_close_rate"].numerator) == (1, 0)
