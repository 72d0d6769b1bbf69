"""Keyset pages of the case list (``after``/``before`` cursors) and its capped total."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.cases import pages as case_pages
from duban.cases import queries
from duban.cases.queries import CaseFilter, list_cases
from duban.cases.workflow import CaseStatus
from tests.factories.world import World
from tests.http import Api, assert_error
from tests.web.test_server import sign_in

ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def ten(world: World) -> list[int]:
    """Ten cases: six reported in the same instant (ties on every column but the id),
    then four a minute apart, two of them dispatched (a deadline and a unit)."""
    made = [world.report(description=f"井盖破损 {i}").id for i in range(6)]
    for i in range(4):
        world.clock.advance(minutes=1)
        if i < 2:
            made.append(world.case_in(CaseStatus.DISPATCHED, description=f"路灯 {i}").id)
        else:
            made.append(world.report(description=f"井盖破损 {i + 6}").id)
    return made


def listed(world: World, **kw: Any) -> Any:
    """``list_cases`` as the dispatcher, now, over every case unless ``filters`` says."""
    kw.setdefault("filters", CaseFilter())
    return list_cases(world.session, actor=world.actor("dispatcher"), now=world.clock.now(), **kw)


def walk(world: World, size: int, **kw: Any) -> tuple[list[int], list[int]]:
    """Every case, page by page forwards along ``after``, then back along ``before``
    from the last page."""
    forwards: list[list[int]] = []
    cursor: str | None = None
    while True:
        page = listed(world, page_size=size, after=cursor, **kw)
        forwards.append([c.id for c in page.rows])
        assert (page.before is None) == (cursor is None)  # page 1 has no page before
        if page.after is None:
            break
        cursor = page.after
    backwards: list[list[int]] = [forwards[-1]]
    back = page.before
    while back is not None:
        page = listed(world, page_size=size, before=back, **kw)
        backwards.insert(0, [c.id for c in page.rows])
        assert page.after is not None  # a page before always has one after it
        back = page.before
    assert backwards == forwards  # the same pages, read back
    assert all(len(p) == size for p in forwards[:-1])
    every = listed(world, page_size=100, **kw)
    return [i for p in forwards for i in p], [c.id for c in every.rows]


@pytest.mark.parametrize(
    "sort", [None, "reported", "-reported", "due", "-due", "unit", "-unit", "status"]
)
def test_keyset_pages_list_every_case_once_in_order(
    world: World, ten: list[int], sort: str | None
) -> None:
    paged, whole = walk(world, 3, filters=CaseFilter(), sort=sort)
    assert paged == whole
    assert sorted(paged) == sorted(ten)


def test_ties_go_by_id_newest_first(world: World, ten: list[int]) -> None:
    paged, _ = walk(world, 4, filters=CaseFilter())
    assert paged == ten[::-1]  # the six of one instant too, by id


@pytest.mark.parametrize(
    ("size", "filters"),
    [(3, CaseFilter(statuses=(CaseStatus.REPORTED,))), (2, CaseFilter(text="井盖破损"))],
    ids=["status", "search"],
)
def test_keyset_pages_keep_the_filters_and_the_search(
    world: World, ten: list[int], size: int, filters: CaseFilter
) -> None:
    paged, whole = walk(world, size, filters=filters)
    assert paged == whole
    assert len(paged) == 8


@pytest.mark.parametrize(
    ("text", "counted", "total", "exact", "rows"),
    [(None, 4, 4, False, 10), (None, 10, 10, True, 10), ("路灯", 4, 2, True, 2)],
    ids=["capped", "exact", "few_hits"],
)
def test_the_total_is_counted_up_to_a_cap(
    world: World, ten: list[int], text: str | None, counted: int, total: int, exact: bool, rows: int
) -> None:
    found = listed(world, filters=CaseFilter(text=text), counted=counted)
    assert (found.total, found.total_exact, len(found.rows)) == (total, exact, rows)


def test_the_api_pages_by_cursor_and_still_by_number(api: Api, world: World) -> None:
    made = []
    for _ in range(5):
        made.append(api.report()["id"])
        world.clock.advance(minutes=1)
    first = api.get("/cases", "dispatcher", page_size=2).json()
    assert (first["total"], first["total_exact"], first["before"]) == (5, True, None)
    second = api.get("/cases", "dispatcher", page_size=2, after=first["after"]).json()
    assert [c["id"] for c in second["items"]] == made[::-1][2:4]
    by_number = api.get("/cases", "dispatcher", page_size=2, page=2).json()
    assert [c["id"] for c in by_number["items"]] == made[::-1][2:4]
    back = api.get("/cases", "dispatcher", page_size=2, before=second["before"]).json()
    assert [c["id"] for c in back["items"]] == made[::-1][:2]
    assert back["before"] is None
    error = assert_error(api.get("/cases", "dispatcher", after="nonsense"), 422, "invalid_input")
    assert error["detail"]["field"] == "after"


def test_the_page_links_next_and_previous_and_says_10000_plus(
    client: TestClient,
    app: FastAPI,
    world: World,
    ten: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(case_pages, "PAGE_SIZE", 3)
    sign_in(client, app, world, "dispatcher")
    html = client.get("/cases", params={"q": "井盖破损", "sort": "-reported"}, headers=ZH).text
    assert 'rel="prev"' not in html
    link = re.search(r'<a rel="next" href="\?([^"]+)"', html)
    assert link, html
    query = link.group(1).replace("&amp;", "&")
    assert "q=%E4%BA%95%E7%9B%96%E7%A0%B4%E6%8D%9F" in query
    assert "sort=-reported" in query
    second = client.get("/cases?" + query, headers=ZH).text
    assert second.count("data-case=") == 3
    back = re.search(r'<a rel="prev" href="\?([^"]+)"', second)
    assert back
    again = client.get("/cases?" + back.group(1).replace("&amp;", "&"), headers=ZH).text
    codes = re.findall(r'data-case="([^"]+)"', html)
    assert re.findall(r'data-case="([^"]+)"', again) == codes
    assert "共 8 件" in html
    monkeypatch.setattr(queries, "COUNTED", 5)
    assert "共 5+ 件" in client.get("/cases", headers=ZH).text
    bad = client.get("/cases", params={"after": "nonsense"}, headers=ZH)
    assert bad.status_code in (400, 422)
    assert "此翻页链接已失效" in bad.text


def test_a_search_counts_its_hits_up_to_the_ranked_cap(
    client: TestClient,
    app: FastAPI,
    world: World,
    ten: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = listed(world, filters=CaseFilter(text="路灯"))
    assert (small.total, small.total_exact) == (2, True)  # few hits: exact
    monkeypatch.setattr(queries, "RANKED_HITS", 5)
    many = listed(world, filters=CaseFilter(text="井盖破损"))
    assert (many.total, many.total_exact, len(many.rows)) == (5, False, 8)
    sign_in(client, app, world, "dispatcher")
    assert "共 5+ 件" in client.get("/cases", params={"q": "井盖破损"}, headers=ZH).text
    unsearched = client.get("/cases", headers=ZH).text
    assert "共 10 件" in unsearched  # without a search the list's own cap holds


@pytest.mark.parametrize("query", ["井盖破损", "井盖", "破损 8"])
def test_many_hits_walk_the_order_and_find_the_same_pages(
    world: World, ten: list[int], monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    """Beyond RANKED_HITS the list walks newest first and checks each row (SQLite: in
    the FTS hits' list): the same cases in the same order as the gathered hits sorted."""
    gathered = listed(world, filters=CaseFilter(text=query), sort="-reported")
    monkeypatch.setattr(queries, "RANKED_HITS", 1)
    searched, whole = walk(world, 3, filters=CaseFilter(text=query))
    assert searched == whole == [c.id for c in gathered.rows]
    assert searched


def _holds(case: Any, query: str) -> bool:
    """Whether a search for ``query`` finds ``case``: its 案卷号, or every word in its
    description or address (ASCII case aside)."""
    text = f"{case.description}\n{case.address}".lower()
    return case.code == query.strip() or all(w.lower() in text for w in query.split())


@pytest.mark.parametrize("cap", [1, 2, 7, 1000])
def test_a_search_counts_exactly_up_to_its_cap(
    world: World, ten: list[int], monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    """The capped count (SQLite: driven by the FTS5 table, the 案卷号 beside) is the true
    count of hits up to the cap, and says "more" beyond; a case found both by its 案卷号
    and by its text counts once."""
    from duban.cases.models import Case

    session, actor, now = world.session, world.actor("dispatcher"), world.clock.now()
    first, second = session.get(Case, ten[0]), session.get(Case, ten[1])
    assert first is not None
    assert second is not None
    second.description = f"井盖破损 与{first.code}同一处，本案{second.code}"
    session.flush()
    monkeypatch.setattr(queries, "RANKED_HITS", cap)
    everything = list(session.scalars(select(Case)))
    for query, statuses in [
        ("井盖破损", ()),
        ("井盖破损", (CaseStatus.REPORTED,)),
        ("井盖破损", (CaseStatus.DISPATCHED,)),
        ("路灯", (CaseStatus.DISPATCHED,)),
        ("破损 8", ()),
        ("盖破损 同一处", ()),
        (first.code, ()),
        (second.code, ()),
        ("下水道反味", ()),
    ]:
        true = sum(
            1 for c in everything if _holds(c, query) and (not statuses or c.status in statuses)
        )
        listing = list_cases(
            session, actor=actor, filters=CaseFilter(text=query, statuses=statuses), now=now
        )
        assert (listing.total, listing.total_exact) == (min(true, cap), true <= cap), query


def test_an_operators_list_by_time_left_pages_in_order(world: World, ten: list[int]) -> None:
    """Open cases of a major class, least time left first (chosen on ids and keys, then
    read by id): the order the keys say, cases without a deadline last, paged by cursor."""
    from duban.cases.models import Case
    from duban.cases.workflow import OPEN

    session = world.session
    world.case_in(CaseStatus.CLOSED, description="已结案")
    everything = list(session.scalars(select(Case)))
    major = everything[0].category_code[:3]
    wanted = CaseFilter(categories=(major,), statuses=tuple(sorted(OPEN)))
    expected = sorted(
        (c for c in everything if c.status in OPEN and c.category_code.startswith(major)),
        key=lambda c: (c.due_at is None, c.due_at or c.created_at, c.id),
    )
    paged, whole = walk(world, 3, filters=wanted, sort="due")
    assert paged == whole == [c.id for c in expected]
    assert any(c.due_at for c in expected)
    assert len(expected) < len(everything)
