"""``GET /api/v1/cases?q=…&sort=…``: search by 案卷号, address and text; sorted lists."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from duban.cases.models import Case
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import Api, assert_error


def found(api: Api, q: str, **params: Any) -> list[int]:
    response = api.get("/cases", "dispatcher", q=q, **params)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


@pytest.fixture
def corpus(api: Api, clock: FixedClock) -> dict[str, dict[str, Any]]:
    texts = {
        "manhole": ("人民路口井盖破损，车辆经过有响声", "许昌市魏都区人民路128号"),
        "garbage": ("小区门口暴露垃圾，无人清运", "许昌市魏都区建安大道66号"),
        "garbage2": ("暴露垃圾堆放在绿化带旁边", "许昌市东城区人民路9号"),
        "banner": ("违规悬挂横幅", "许昌市东城区莲城大道1号"),
    }
    made = {}
    for key, (description, address) in texts.items():
        made[key] = api.report(description=description, address=address)
        clock.advance(minutes=5)
    return made


def test_chinese_substrings_find_their_cases(api: Api, corpus: dict[str, dict[str, Any]]) -> None:
    ids = {k: c["id"] for k, c in corpus.items()}
    assert set(found(api, "井盖")) == {ids["manhole"]}  # two characters: LIKE
    assert set(found(api, "井盖破损")) == {ids["manhole"]}  # trigram index
    assert set(found(api, "暴露垃圾")) == {ids["garbage"], ids["garbage2"]}
    assert set(found(api, "横幅")) == {ids["banner"]}
    assert set(found(api, "下水道")) == set()


def test_address_fragments_and_several_words(api: Api, corpus: dict[str, dict[str, Any]]) -> None:
    ids = {k: c["id"] for k, c in corpus.items()}
    assert set(found(api, "人民路")) == {ids["manhole"], ids["garbage2"]}
    assert set(found(api, "建安大道66号")) == {ids["garbage"]}
    assert set(found(api, "东城区 垃圾")) == {ids["garbage2"]}  # every word must match
    assert set(found(api, "东城区 绿化带")) == {ids["garbage2"]}


def test_a_case_code_comes_first(api: Api, world: World, corpus: dict[str, dict[str, Any]]) -> None:
    banner = corpus["banner"]
    # Another case mentions the code in its text: the case with that code still leads.
    world.session.execute(
        update(Case)
        .where(Case.id == corpus["manhole"]["id"])
        .values(description=f"与{banner['code']}同一处")
    )
    world.session.commit()
    assert found(api, banner["code"]) == [banner["id"], corpus["manhole"]["id"]]
    assert found(api, f"  {banner['code']} ")[0] == banner["id"]


def test_search_text_is_not_sql(api: Api, corpus: dict[str, dict[str, Any]]) -> None:
    assert found(api, "%") == []
    assert found(api, "_") == []
    assert found(api, '"') == []
    assert found(api, "垃圾 OR 横幅") == []
    assert found(api, "NEAR(") == []


def test_quotes_percent_and_backslash_are_searched_as_text(api: Api) -> None:
    """PostgreSQL writes the LIKE patterns into the statement (so every plan sees them):
    quotes, ``%``, ``_`` and backslashes are text, and asking again and again (past
    psycopg's prepare threshold) finds the same."""
    made = api.report(description="O'Brien 反映 100%_占用 \\路口", address="许昌市")
    assert found(api, "O'Brien") == [made["id"]]
    assert found(api, "o'brien") == [made["id"]]  # ASCII: any case
    assert found(api, "100%_") == [made["id"]]
    assert found(api, "\\路口") == [made["id"]]
    assert found(api, "'; DROP TABLE cases; --") == []
    assert [found(api, "O'Brien 占用") for _ in range(7)] == [[made["id"]]] * 7
    assert found(api, "O'Brien") == [made["id"]]  # the table is still there


def test_search_combines_with_filters_and_visibility(
    api: Api, corpus: dict[str, dict[str, Any]]
) -> None:
    assert found(api, "暴露垃圾", status="closed") == []
    response = api.get("/cases", "handler", q="暴露垃圾")  # not dispatched to the unit
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_sorts_and_their_stable_tiebreak(
    api: Api, world: World, corpus: dict[str, dict[str, Any]]
) -> None:
    ids = [c["id"] for c in corpus.values()]  # reported in this order
    assert found(api, "", sort="reported") == ids
    assert found(api, "", sort="-reported") == ids[::-1]
    assert found(api, "") == ids[::-1]
    # Same category everywhere: the tie goes by id, both ways.
    assert found(api, "", sort="category") == sorted(ids)
    assert found(api, "", sort="-category") == sorted(ids, reverse=True)
    assert found(api, "", sort="status") == sorted(ids)
    assert found(api, "", sort="unit") == sorted(ids)  # no unit yet: ties
    # Pages of a tied sort neither repeat nor skip a case.
    pages = [
        c["id"]
        for page in (1, 2)
        for c in api.get("/cases", "dispatcher", sort="status", page=page, page_size=2).json()[
            "items"
        ]
    ]
    assert pages == sorted(ids)


def test_sort_by_due_puts_cases_without_deadline_last(api: Api) -> None:
    dispatched = api.given("dispatched")
    reported = api.report()
    items = found(api, "", sort="due")
    assert items.index(dispatched["id"]) < items.index(reported["id"])
    items = found(api, "", sort="-due")
    assert items.index(dispatched["id"]) < items.index(reported["id"])


def test_unknown_sort_is_422(api: Api) -> None:
    error = assert_error(api.get("/cases", "dispatcher", sort="colour"), 422, "invalid_input")
    assert error["detail"]["field"] == "sort"
    assert "reported" in error["message"]
