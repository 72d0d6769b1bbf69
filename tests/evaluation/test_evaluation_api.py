"""GET /api/v1/evaluation, its drill-down and scores entered by hand, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.evaluation.conftest import November, regions
from tests.factories.world import World
from tests.http import API, Api, assert_error

NOV = {"from": "2026-11-01", "to": "2026-12-01"}


def get(api: Api, by: str, path: str = "/evaluation", **params: Any) -> httpx.Response:
    return api.get(path, by, **params)


def rows(api: Api, by: str = "leader", **params: Any) -> list[dict[str, Any]]:
    response = get(api, by, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"scheme", "rows"}
    result: list[dict[str, Any]] = body["rows"]
    return result


def enter(api: Api, by: str = "leader", **body: Any) -> httpx.Response:
    payload = {
        "scheme": "city_streets",
        "item": "third_party",
        "object": "street",
        "code": "S2",
        "from": "2026-11-01",
        "to": "2026-12-01",
        "score": 4,
        "note": "第三方检查11月报告第3页",
    }
    payload.update(body)
    return api.client.post(f"{API}/evaluation/manual-scores", json=payload, headers=api.headers(by))


def test_streets_ranked_with_scores_grades_and_change(api: Api, november: November) -> None:
    got = rows(api, object="street", **NOV)
    assert [(r["code"], r["name"], r["rank"], r["grade"]) for r in got] == [
        ("S1", "东街街道", 1, "B"),
        ("S2", "西街街道", 2, "D"),
    ]
    s1, s2 = got
    # national: 监督举报 10 × (1 − 2/3) + 结案 30 + 按期 40 × 2/3 + 返工 20 = 80
    assert s1["score"] == pytest.approx(80.0)
    # 10 × 0 + 30 × 2/3 + 40 × 1/2 + 20 × 1/2 = 50
    assert s2["score"] == pytest.approx(50.0)
    # the 30 days before: S1 only A (filed, a hotline case): 0 + 30 + 40 + 20; S2 F: 90
    assert s1["change"] == pytest.approx(-10.0)
    assert s2["change"] == pytest.approx(-40.0)
    assert s2["indicators"]["on_time_close_rate"] == {
        "value": 0.5,
        "numerator": 1,
        "denominator": 2,
    }
    assert s2["indicators"]["rework_count"] == {"value": 1.0, "numerator": 1, "denominator": None}


def test_iso_times_with_an_offset_are_accepted(api: Api, november: November) -> None:
    iso = rows(
        api,
        object="street",
        **{"from": "2026-11-01T00:00:00+08:00", "to": "2026-12-01T00:00+08:00"},
    )
    assert iso == rows(api, object="street", **NOV)


def test_drill_down_lists_the_cases(api: Api, november: November) -> None:
    response = get(
        api,
        "leader",
        "/evaluation/cases",
        object="street",
        code="S2",
        indicator="close_rate",
        part="denominator",
        **NOV,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3
    assert {c["id"] for c in body["cases"]} == {november.id(n) for n in "CDF"}
    assert {c["code"] for c in body["cases"]} == {november.cases[n].code for n in "CDF"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"object": "planet", **NOV}, "object"),
        ({**NOV}, "object"),
        ({"object": "street", "from": "2026-11-01"}, "to"),
        ({"object": "street", "from": "November", "to": "2026-12-01"}, "from"),
        ({"object": "street", "from": "2026-12-01", "to": "2026-11-01"}, "to"),
        ({"object": "street", "from": "2020-01-01", "to": "2026-01-01"}, "to"),
        ({"object": "street", "scheme": "nope", **NOV}, "scheme"),
        (
            {
                "object": "street",
                "scheme": "city_streets",
                "from": "2025-11-01",
                "to": "2025-12-01",
            },
            "scheme",
        ),
    ],
)
def test_bad_parameters_are_422(api: Api, world: World, params: dict[str, str], field: str) -> None:
    error = assert_error(get(api, "leader", **params), 422, "invalid_input")
    assert error["detail"]["field"] == field


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"indicator": "nope", "part": "numerator", "code": "S1"}, 422),
        ({"indicator": "close_rate", "part": "half", "code": "S1"}, 422),
        ({"indicator": "filed_count", "part": "denominator", "code": "S1"}, 422),
        ({"indicator": "close_rate", "part": "numerator", "code": "S9"}, 404),
    ],
)
def test_bad_drill_downs(api: Api, world: World, params: dict[str, str], status: int) -> None:
    regions(world)
    assert_error(get(api, "leader", "/evaluation/cases", object="street", **params, **NOV), status)


def test_who_sees_what(api: Api, november: November) -> None:
    assert len(rows(api, "admin", object="unit", **NOV)) == 2
    mine = rows(api, "handler", object="unit", **NOV)
    assert [r["code"] for r in mine] == ["SZGC"]
    assert mine[0]["rank"] == 2  # its rank among all units: HWC had nothing to fail
    assert_error(get(api, "handler", object="street", **NOV), 403, "forbidden")
    for role in ("operator", "dispatcher", "collector", "citizen"):
        assert_error(get(api, role, object="unit", **NOV), 403, "forbidden")
    other = get(
        api,
        "handler2",
        "/evaluation/cases",
        object="unit",
        code="SZGC",
        indicator="close_rate",
        part="numerator",
        **NOV,
    )
    assert_error(other, 403, "forbidden")
    own = get(
        api,
        "handler",
        "/evaluation/cases",
        object="unit",
        code="SZGC",
        indicator="close_rate",
        part="numerator",
        **NOV,
    )
    assert own.status_code == 200
    assert own.json()["count"] == 5
    assert api.client.get(f"{API}/evaluation", params={"object": "unit", **NOV}).status_code == 401


def test_manual_scores_and_ties(api: Api, november: November) -> None:
    city = {"object": "street", "scheme": "city_streets", **NOV}
    before = {r["code"]: r for r in rows(api, **city)}
    # S1: 按期 2/3 → 0 of 6, 复核整改 1 − 0 → 4; S2: 0 + 0 − 0.2 rework, floored at 0
    assert (before["S1"]["score"], before["S2"]["score"]) == (4.0, 0.0)
    assert (before["S1"]["rank"], before["S2"]["rank"]) == (1, 2)
    created = enter(api)
    assert created.status_code == 201, created.text
    assert created.json()["score"] == 4
    after = {r["code"]: r for r in rows(api, **city)}
    assert (after["S1"]["score"], after["S2"]["score"]) == (4.0, 4.0)
    assert (after["S1"]["rank"], after["S2"]["rank"]) == (1, 1)  # a tie shares the rank
    again = enter(api, score=5)  # the same item and period again replaces the entry
    assert again.status_code == 201
    assert {r["code"]: r["rank"] for r in rows(api, **city)} == {"S2": 1, "S1": 2}


def test_the_scheme_in_effect_changes_mid_year(api: Api, world: World) -> None:
    regions(world)
    for month in ("06", "07"):
        start, end = f"2026-{month}-01", f"2026-{int(month) + 1:02d}-01"
        assert (
            enter(
                api, item="road_chief", code="S1", score=4, **{"from": start, "to": end}
            ).status_code
            == 201
        )
    city = {"object": "street", "scheme": "city_streets"}
    june = {
        r["code"]: r["score"]
        for r in rows(api, **city, **{"from": "2026-06-01", "to": "2026-07-01"})
    }
    july = {
        r["code"]: r["score"]
        for r in rows(api, **city, **{"from": "2026-07-01", "to": "2026-08-01"})
    }
    # nothing happened: the rates are full marks (10 of the complaints item) in both
    # versions; 路长制 exists only from July
    assert june == {"S1": 10.0, "S2": 10.0}
    assert july == {"S1": 14.0, "S2": 10.0}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"score": 19}, 422),
        ({"score": -1}, 422),
        ({"note": "  "}, 422),
        ({"item": "on_time_close"}, 422),
        ({"code": "S9"}, 404),
        ({"from": "2026-12-01"}, 422),
        ({"surprise": 1}, 422),
    ],
)
def test_bad_manual_scores(api: Api, world: World, change: dict[str, Any], status: int) -> None:
    regions(world)
    assert_error(enter(api, **change), status)


def test_only_leaders_and_admins_enter_scores(api: Api, world: World) -> None:
    regions(world)
    for role in ("handler", "operator", "shift_lead"):
        assert_error(enter(api, role), 403, "forbidden")
    assert enter(api, "admin").status_code == 201


def test_year_on_year_change_is_given_beside_change(api: Api, november: November) -> None:
    got = {r["code"]: r for r in rows(api, object="street", **NOV)}
    year_ago = {
        r["code"]: r
        for r in rows(api, object="street", **{"from": "2025-11-01", "to": "2025-12-01"})
    }
    for code in ("S1", "S2"):
        assert got[code]["change"] is not None  # 环比 as before
        assert got[code]["change_yoy"] == pytest.approx(
            got[code]["score"] - year_ago[code]["score"]
        )
