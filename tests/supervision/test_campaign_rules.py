"""The pure rules of campaigns: the period's instants, the scope's checks and its
in-memory twin, the kinds from the policy."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from duban.kernel.errors import InvalidInput, PolicyError
from duban.supervision.campaign_rules import (
    DEFAULT_KINDS,
    Period,
    Scope,
    fixed_rate,
    in_scope,
    parse_kinds,
)
from duban.supervision.policy import supervision_policy
from tests.fakes import local

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_period_covers_local_days_from_midnight_to_midnight() -> None:
    period = Period.parse(date(2026, 11, 20), date(2026, 11, 30))
    start, end = period.bounds(SHANGHAI)
    assert start == local(2026, 11, 20, 0, 0)
    assert end == local(2026, 12, 1, 0, 0)
    assert start.utcoffset() is not None
    assert Period.parse(date(2026, 1, 1), date(2026, 1, 1)).bounds(SHANGHAI)[1] == local(
        2026, 1, 2, 0, 0
    )
    with pytest.raises(InvalidInput):
        Period.parse(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(InvalidInput):
        Period.parse(None, date(2026, 11, 1))
    with pytest.raises(InvalidInput):
        Period.parse(date(2026, 1, 1), date(2027, 1, 2))


def test_a_scope_is_checked_and_matched_like_the_sql() -> None:
    scope = Scope.parse(["E01", " E01 ", ""], ["411002001"], [], known_sources=["hotline"])
    assert scope.categories == ("E01",)
    assert Scope.from_rows(scope.as_rows()) == scope
    assert in_scope(scope, category="E0102", regions=["411002", "411002001"], source="hotline")
    assert not in_scope(scope, category="C0102", regions=["411002001"], source="hotline")
    assert not in_scope(scope, category="E0102", regions=["411002002", None], source="hotline")
    sourced = Scope.parse([], ["411002"], ["patrol"], known_sources=["patrol", "hotline"])
    assert not in_scope(sourced, category="E0102", regions=["411002"], source="hotline")
    with pytest.raises(InvalidInput):
        Scope.parse([], [], [], known_sources=[])
    with pytest.raises(InvalidInput):
        Scope.parse(["E01; DROP"], [], [], known_sources=[])
    with pytest.raises(InvalidInput):
        Scope.parse(["E01"], [], ["rumour"], known_sources=["hotline"])
    assert fixed_rate(1, 3) == 33.3
    assert fixed_rate(0, 0) is None


def test_the_kinds_are_policy_data() -> None:
    assert [k.code for k in supervision_policy().campaign_kinds] == [
        "rectification",
        "patrol",
        "assault_month",
    ]
    assert parse_kinds(None) == DEFAULT_KINDS
    assert parse_kinds([{"code": "x", "zh": "创城"}])[0].en == "创城"
    with pytest.raises(PolicyError):
        parse_kinds([{"code": "x"}])
    with pytest.raises(PolicyError):
        parse_kinds([{"code": "x", "zh": "a"}, {"code": "x", "zh": "b"}])
