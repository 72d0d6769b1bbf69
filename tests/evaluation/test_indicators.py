"""Indicators counted from the event log, against the hand-counted November of
``conftest.py``: every number, and the cases behind it."""

from __future__ import annotations

from datetime import datetime

from duban.evaluation.definitions import definitions
from duban.evaluation.indicators import cases_behind, compute
from duban.evaluation.scoring import Value
from tests.evaluation.conftest import November
from tests.fakes import local

NOV = (local(2026, 11, 1), local(2026, 12, 1))
OCT = (local(2026, 10, 1), local(2026, 11, 1))


def table(nov: November, objects: list[str], period: tuple[datetime, datetime] = NOV) -> dict:
    return compute(nov.world.session, definitions(), objects, *period)


def behind(nov: November, obj: str, key: str, indicator: str, part: str, period=NOV) -> set[str]:
    defs = definitions()
    ids = cases_behind(nov.world.session, defs, obj, key, defs.indicators[indicator], part, *period)
    names = {c.id: n for n, c in nov.cases.items()}
    return {names[i] for i, _ in ids}


def test_streets_in_november(november: November) -> None:
    streets = table(november, ["street", "district"])["street"]
    s1, s2 = streets["S1"], streets["S2"]
    # S1: A (closed 2 Nov, filed in October), B, E (extended: on time), G (voided)
    assert s1["filed_count"] == Value(3.0, 3, None)
    assert s1["close_rate"] == Value(1.0, 3, 3)
    assert s1["on_time_close_rate"] == Value(round(2 / 3, 6), 2, 3)  # A closed late
    assert s1["rework_rate"] == Value(0.0, 0, 3)
    assert s1["public_report_rate"] == Value(round(2 / 3, 6), 2, 3)  # E, G of B, E, G
    # S2: C (rework), D (overdue, then parked), F (reopened, closed late)
    assert s2["close_rate"] == Value(round(2 / 3, 6), 2, 3)
    assert s2["on_time_close_rate"] == Value(0.5, 1, 2)  # D parked: out; F late
    assert s2["rework_rate"] == Value(0.5, 1, 2)
    assert s2["rework_count"] == Value(1.0, 1, None)
    district = table(november, ["district"])["district"]["D1"]
    assert district["close_rate"] == Value(round(5 / 6, 6), 5, 6)


def test_every_number_lists_its_cases(november: November) -> None:
    assert behind(november, "street", "S2", "close_rate", "denominator") == {"C", "D", "F"}
    assert behind(november, "street", "S2", "close_rate", "numerator") == {"C", "F"}
    assert behind(november, "street", "S2", "on_time_close_rate", "denominator") == {"C", "F"}
    assert behind(november, "street", "S2", "on_time_close_rate", "numerator") == {"C"}
    assert behind(november, "street", "S1", "filed_count", "numerator") == {"B", "E", "G"}
    # A's deadline (a few working hours from 30 Oct) had passed when it closed on 2 Nov.
    assert november.cases["A"].due_at < local(2026, 11, 2, 10, 0)
    assert behind(november, "street", "S1", "on_time_close_rate", "numerator") == {"B", "E"}


def test_a_case_across_the_month_boundary_counts_where_its_events_are(
    november: November,
) -> None:
    october = table(november, ["street"], OCT)["street"]
    # A was filed in October and closed in November; F was closed in October.
    assert october["S1"]["filed_count"] == Value(1.0, 1, None)
    assert october["S1"]["close_rate"] == Value(None, 0, 0)  # nothing to close: no rate
    assert october["S2"]["close_rate"] == Value(1.0, 1, 1)
    assert october["S2"]["on_time_close_rate"] == Value(1.0, 1, 1)
    assert behind(november, "street", "S1", "close_rate", "numerator", OCT) == set()


def test_the_unit_in_november(november: November) -> None:
    unit = table(november, ["unit"])["unit"][str(november.world.unit.id)]
    assert unit["close_rate"] == Value(round(5 / 6, 6), 5, 6)
    assert unit["extension_rate"] == Value(0.25, 1, 4)  # E of B, C, D, E dispatched
    assert unit["return_rate"] == Value(0.0, 0, 4)


def test_positions_in_november(november: November) -> None:
    users = {n: str(u.id) for n, u in november.world.users.items()}
    got = table(november, ["collector", "operator", "shift_lead", "dispatcher"])
    collector = got["collector"][users["collector"]]
    assert collector["valid_report_rate"] == Value(1.0, 1, 1)  # B, the one patrol report
    assert collector["on_time_verify_rate"] == Value(1.0, 4, 4)  # C, D, E, G
    shift_lead = got["shift_lead"][users["shift_lead"]]
    assert shift_lead["accurate_file_rate"] == Value(0.8, 4, 5)  # G voided of B C D E G
    dispatcher = got["dispatcher"][users["dispatcher"]]
    assert dispatcher["on_time_dispatch_rate"] == Value(0.75, 3, 4)  # E late
    assert got["operator"][users["operator"]]["intake_count"] == Value(4.0, 4, None)
    assert behind(
        november, "dispatcher", users["dispatcher"], "on_time_dispatch_rate", "denominator"
    ) == {"B", "C", "D", "E"}
    assert behind(november, "collector", users["collector"], "valid_report_rate", "numerator") == {
        "B"
    }
