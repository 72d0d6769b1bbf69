"""People and quality indicators (issue 14 item 3) against hand-counted cases: 准确派遣率,
满意率 from callbacks, 复核整改率 and rework by reason code; zero denominators and the
month boundary (the November of ``conftest.py``, then a December of a few more events)."""

from __future__ import annotations

from duban.evaluation.definitions import definitions
from duban.evaluation.indicators import cases_behind, compute
from duban.evaluation.scoring import Value
from tests.evaluation.conftest import DISPATCH, INTAKE, November, place, run
from tests.fakes import local

NOV = (local(2026, 11, 1), local(2026, 12, 1))
DEC = (local(2026, 12, 1), local(2027, 1, 1))
REASONS = [
    "rework_not_fixed",
    "rework_wrong_angle",
    "rework_not_original",
    "rework_wrong_place",
    "rework_reused_photo",
    "rework_other",
]


def streets(nov: November, period: tuple) -> dict:  # type: ignore[type-arg]
    return compute(nov.world.session, definitions(), ["street", "unit"], *period)


def december(nov: November) -> None:
    """1 Dec: the callers of B (S1) and C (S2) are called back, satisfied and not; a new
    case R (S1) is dispatched, returned by the unit and dispatched again."""
    world = nov.world
    world.clock.set(local(2026, 12, 1, 10, 0))
    run(world, nov.cases["B"], [("callback", "operator", {"rating": "satisfied"})])
    run(world, nov.cases["C"], [("callback", "operator", {"rating": "unsatisfied"})])
    r = run(world, world.report(), INTAKE)
    r = run(world, r, [DISPATCH[0], ("return", "handler", {"reason": "非本单位职责"})])
    r = run(world, r, [DISPATCH[0]])
    place(world, r, "S1")
    nov.cases["R"] = r


def test_november(november: November) -> None:
    got = streets(november, NOV)
    s1, s2 = got["street"]["S1"], got["street"]["S2"]
    # dispatched in November: B, E (S1); C, D (S2); none returned
    assert s1["accurate_dispatch_rate"] == Value(1.0, 2, 2)
    assert s2["accurate_dispatch_rate"] == Value(1.0, 2, 2)
    # nobody rated in November: no rate, not a zero
    assert s1["satisfaction_rate"] == Value(None, 0, 0)
    # C failed its first check and passed the second; S1 had no failed check
    assert s2["recheck_fix_rate"] == Value(1.0, 1, 1)
    assert s1["recheck_fix_rate"] == Value(None, 0, 0)
    # C's send-back carries one coded reason (the photo checks' suggestion)
    assert sum(s2[r].numerator for r in REASONS) == 1
    assert sum(s1[r].numerator for r in REASONS) == 0
    unit = got["unit"][str(november.world.unit.id)]
    assert unit["accurate_dispatch_rate"] == Value(1.0, 4, 4)


def test_december_across_the_month_boundary(november: November) -> None:
    december(november)
    got = streets(november, DEC)
    s1, s2 = got["street"]["S1"], got["street"]["S2"]
    assert s1["satisfaction_rate"] == Value(1.0, 1, 1)  # B, closed in November
    assert s2["satisfaction_rate"] == Value(0.0, 0, 1)  # C
    assert s1["accurate_dispatch_rate"] == Value(0.0, 0, 1)  # R was returned
    # November's numbers do not move
    assert streets(november, NOV)["street"]["S1"]["satisfaction_rate"] == Value(None, 0, 0)
    defs = definitions()
    ids = cases_behind(
        november.world.session,
        defs,
        "street",
        "S1",
        defs.indicators["accurate_dispatch_rate"],
        "denominator",
        *DEC,
    )
    assert [i for i, _ in ids] == [november.cases["R"].id]


def test_year_on_year_change_beside_month_on_month(november: November) -> None:
    from duban.evaluation.service import Period
    from tests.http import API  # noqa: F401  (the API test below uses the same rows)

    tz = local(2026, 1, 1).tzinfo
    assert tz is not None
    leap = Period(local(2028, 2, 29), local(2028, 3, 1), tz).year_before()
    assert (leap.first_day.isoformat(), leap.last_day_exclusive.isoformat()) == (
        "2027-02-28",
        "2027-03-01",
    )


def test_accurate_dispatch_per_dispatcher(november: November) -> None:
    """R's return by the unit is charged to the dispatcher who sent it, whether the month
    is read from the summary or a range counted from the events."""
    dispatcher = str(november.world.users["dispatcher"].id)
    got = compute(november.world.session, definitions(), ["dispatcher"], *NOV)
    assert got["dispatcher"][dispatcher]["accurate_dispatch_rate_dispatcher"] == Value(1.0, 4, 4)
    december(november)
    session = november.world.session
    week = (local(2026, 12, 1), local(2026, 12, 8))
    for period in (DEC, week):
        row = compute(session, definitions(), ["dispatcher"], *period)["dispatcher"][dispatcher]
        assert row["accurate_dispatch_rate_dispatcher"] == Value(0.0, 0, 1)  # R returned
    defs = definitions()
    ind = defs.indicators["accurate_dispatch_rate_dispatcher"]
    for period in (DEC, week):
        ids = cases_behind(session, defs, "dispatcher", dispatcher, ind, "denominator", *period)
        assert [i for i, _ in ids] == [november.cases["R"].id]
        assert (
            cases_behind(session, defs, "dispatcher", dispatcher, ind, "numerator", *period) == []
        )
