"""The scoring rules: plain tests, no database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from duban.evaluation.definitions import OBJECTS, definitions, parse_definitions
from duban.evaluation.scoring import (
    Item,
    Tier,
    Value,
    change,
    competition_ranks,
    deduction,
    grade,
    map_value,
    parse_schemes,
    score,
)
from duban.evaluation.service import schemes
from duban.kernel.errors import PolicyError


def item(**kw: Any) -> Item:
    base: dict[str, Any] = {"code": "x", "label": "x", "kind": "indicator", "points": 10.0}
    return Item(**{**base, **kw})


def test_linear_between_zero_and_full() -> None:
    it = item(zero_at=0.5, full_at=0.9)
    assert map_value(it, 0.4) == 0
    assert map_value(it, 0.5) == 0
    assert map_value(it, 0.7) == pytest.approx(5.0)
    assert map_value(it, 0.9) == 10
    assert map_value(it, 1.0) == 10  # the cap


def test_linear_per_point_below_full_with_floor() -> None:
    # 金华: ≥ 70 % earns all 50 points, one point off per percentage point below.
    it = item(points=50.0, full_at=0.7, per_point=1.0)
    assert map_value(it, 0.75) == 50
    assert map_value(it, 0.65) == pytest.approx(45.0)
    assert map_value(it, 0.0) == 0  # the floor: never below zero


def test_inverse_scores_one_minus_the_rate() -> None:
    assert map_value(item(inverse=True), 0.25) == pytest.approx(7.5)


def test_tiers_are_tried_in_order() -> None:
    volume = item(
        points=100.0,
        tiers=(Tier("min", 2001, 1.0), Tier("min", 1201, 0.9), Tier("min", 101, 0.4)),
    )
    assert map_value(volume, 2500) == 100
    assert map_value(volume, 2001) == 100
    assert map_value(volume, 2000) == 90
    assert map_value(volume, 100) == 0
    fewer = item(points=10.0, tiers=(Tier("below", 1, 1.0), Tier("below", 3, 0.9)))
    assert map_value(fewer, 0) == 10
    assert map_value(fewer, 2) == 9
    assert map_value(fewer, 3) == 0


def test_zero_denominator_gives_full_or_zero_as_the_item_says() -> None:
    assert map_value(item(), None) == 10
    assert map_value(item(if_empty="zero"), None) == 0


def test_deductions_per_case_with_a_cap() -> None:
    rework = item(kind="deduction", each=0.2, cap=1.0)
    assert deduction(rework, 3) == pytest.approx(0.6)
    assert deduction(rework, 20) == 1.0
    assert deduction(item(kind="deduction", each=0.5), 4) == 2.0


def test_competition_ranking_shares_ranks_and_skips() -> None:
    assert competition_ranks([90.0, 95.0, 90.0, 80.0]) == [2, 1, 2, 4]
    assert competition_ranks([70.0, 70.0, 60.0]) == [1, 1, 3]
    assert competition_ranks([]) == []


def test_change_against_the_period_before() -> None:
    assert change(80.5, 78.0) == 2.5
    assert change(80.0, None) is None


def _scheme(extra: dict[str, Any] | None = None) -> Any:
    data = {
        "schemes": {
            "s": {
                "versions": [
                    {
                        "from": date(2026, 1, 1),
                        "objects": {
                            "street": [
                                {
                                    "major": "投诉处置",
                                    "points": 10,
                                    "items": [
                                        {
                                            "code": "close",
                                            "kind": "indicator",
                                            "indicator": "close_rate",
                                            "points": 10,
                                        },
                                        {
                                            "code": "rework",
                                            "kind": "deduction",
                                            "indicator": "rework_count",
                                            "each": 0.2,
                                        },
                                    ],
                                },
                                {
                                    "major": "第三方检查",
                                    "points": 18.5,
                                    "items": [{"code": "tp", "kind": "manual", "points": 18.5}],
                                },
                                {
                                    "major": "加分",
                                    "items": [{"code": "b", "kind": "bonus", "points": 1}],
                                },
                            ]
                        },
                        **(extra or {}),
                    },
                    {"from": date(2026, 7, 1), "objects": {"street": []}},
                ]
            }
        }
    }
    known = {o: list(definitions().indicators) for o in OBJECTS}
    return parse_schemes(data, known, OBJECTS)["s"]


def test_composite_caps_majors_adds_bonuses_and_grades_on_percent() -> None:
    version = _scheme().version_on(date(2026, 3, 1))
    values = {"close_rate": Value(0.8, 8, 10), "rework_count": Value(3.0, 3, None)}
    result = score(version, "street", values, {"tp": 16.0, "b": 5.0})
    # 8 − 0.6 = 7.4 of 10; 16 of 18.5; a bonus of at most 1
    assert result.items == {"close": 8.0, "rework": -0.6, "tp": 16.0, "b": 1.0}
    assert result.score == pytest.approx(24.4)
    assert result.full_marks == 28.5
    assert result.percent == pytest.approx(85.61)
    assert grade(version, result.percent) == "B"
    missing = score(version, "street", {}, {})
    assert missing.items["tp"] == 0  # nothing entered: zero unless the item says full
    assert missing.items["close"] == 10  # no denominator: full marks by default
    assert grade(version, missing.percent) == "E"


def test_a_major_of_deductions_only_starts_full() -> None:
    # 扣分制 (the collectors' 漏报 in the national scheme): 20 points less 2 a case
    known = {o: ["missed_report_count"] for o in OBJECTS}
    deducted = {
        "major": "漏报",
        "points": 20,
        "items": [
            {
                "code": "missed",
                "kind": "deduction",
                "indicator": "missed_report_count",
                "each": 2,
                "cap": 20,
            }
        ],
    }
    data = {
        "schemes": {
            "s": {"versions": [{"from": date(2026, 1, 1), "objects": {"collector": [deducted]}}]}
        }
    }
    version = parse_schemes(data, known, OBJECTS)["s"].version_on(date(2026, 3, 1))
    assert version is not None
    for missed, points in ((0, 20.0), (3, 14.0), (15, 0.0)):
        result = score(
            version, "collector", {"missed_report_count": Value(missed, missed, None)}, {}
        )
        assert (result.score, result.full_marks) == (points, 20.0)


def test_grade_bands() -> None:
    version = _scheme().version_on(date(2026, 3, 1))
    assert [grade(version, p) for p in (95, 90, 89.99, 75, 60, 40, 39.9)] == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "D",
        "E",
    ]


def test_the_version_in_effect_changes_mid_year() -> None:
    scheme = _scheme()
    assert scheme.version_on(date(2025, 12, 31)) is None
    assert scheme.version_on(date(2026, 6, 30)).effective_from == date(2026, 1, 1)
    assert scheme.version_on(date(2026, 7, 1)).effective_from == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("change_to", "message"),
    [
        ({"from": "July"}, "must be a date"),
        ({"grades": {"A": "ninety"}}, "expected a number"),
    ],
)
def test_bad_schemes_are_refused(change_to: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        _scheme(change_to)


def test_an_item_of_an_unknown_indicator_is_refused() -> None:
    data = {
        "schemes": {
            "s": {
                "versions": [
                    {
                        "from": date(2026, 1, 1),
                        "objects": {
                            "street": [
                                {"major": "m", "items": [{"code": "c", "kind": "indicator"}]}
                            ]
                        },
                    }
                ]
            }
        }
    }
    with pytest.raises(PolicyError, match="unknown indicator"):
        parse_schemes(data, {"street": ["close_rate"]}, OBJECTS)


def test_the_shipped_definitions_and_schemes_load() -> None:
    defs = definitions()
    assert {"close_rate", "on_time_close_rate", "valid_report_rate"} <= set(defs.indicators)
    for obj in OBJECTS:
        assert defs.for_object(obj), obj
    shipped = schemes()
    national = shipped["national"].version_on(date(2026, 11, 1))
    assert national is not None
    assert all(national.full_marks(obj) == 100 for obj in OBJECTS)
    city = shipped["city_streets"]
    assert city.version_on(date(2026, 6, 1)).full_marks("street") == 37.5
    assert city.version_on(date(2026, 7, 1)).full_marks("street") == 41.5


def test_definitions_refuse_unknown_conditions_and_objects() -> None:
    with pytest.raises(PolicyError, match="unknown condition"):
        parse_definitions(
            {
                "conditions": {},
                "indicators": {
                    "x": {"objects": ["unit"], "numerator": {"any": ["nope"]}, "kind": "count"}
                },
            }
        )
    with pytest.raises(PolicyError, match="unknown object"):
        parse_definitions(
            {
                "conditions": {"c": {"fact": "closed"}},
                "indicators": {
                    "x": {"objects": ["planet"], "kind": "count", "numerator": {"any": ["c"]}}
                },
            }
        )
    with pytest.raises(PolicyError, match="unknown case fact"):
        parse_definitions({"conditions": {"c": {"fact": "landed"}}, "indicators": {}})
    with pytest.raises(PolicyError, match="expected fact"):
        parse_definitions({"conditions": {"c": {"action": "close"}}, "indicators": {}})
