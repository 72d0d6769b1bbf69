"""The evaluation pages: the ranked table with its filters and chart data, the cases behind
a number, and the bulletin archive (list, make, download), in zh-CN and English."""

from __future__ import annotations

import html as markup
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from duban.accounts import User
from duban.cases.dashboard import PERIOD_DAYS
from duban.evaluation import evaluate
from tests.evaluation.conftest import November
from tests.web.test_server import sign_in

NOVEMBER = "object=street&from=2026-11-01&to=2026-12-01"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def test_the_ranking_matches_the_evaluation_and_each_number_opens_its_cases(
    browser: TestClient, app: FastAPI, november: November
) -> None:
    sign_in(browser, app, november.world, "leader")
    page = browser.get(f"/evaluation?{NOVEMBER}")
    assert page.status_code == 200, page.text
    html = page.text
    # 东街街道 80 points first (↓ 10 on October), 西街街道 50 second (↓ 40).
    rows = re.findall(r'<tr data-code="(S\d)">', html)
    assert rows == ["S1", "S2"]
    assert "80.00" in html
    assert "↓ 10.00" in html
    assert "↓ 40.00" in html
    assert "/static/vendor/echarts/echarts.min.js" in html
    chart = json.loads(re.search(r'id="eval-chart-data">(.*?)</script>', html, re.S)[1])
    assert chart["names"] == ["东街街道", "西街街道"]
    assert chart["scores"] == [80.0, 50.0]
    assert chart["changes"] == [-10.0, -40.0]
    # S2's rework count (C was sent back once) opens case C.
    link = re.search(
        r'<tr data-code="S2">.*?data-indicator="rework_count">\s*<a href="([^"]+)"', html, re.S
    )
    assert link is not None
    cases = browser.get(link[1].replace("&amp;", "&"))
    assert cases.status_code == 200, cases.text
    assert f'data-case="{november.cases["C"].code}"' in cases.text
    assert cases.text.count("data-case=") == 1


def test_bad_filters_say_what_is_wrong_and_others_are_turned_away(
    browser: TestClient, app: FastAPI, november: November
) -> None:
    sign_in(browser, app, november.world, "supervisor")
    bad = browser.get("/evaluation?object=street&from=2026-12-01&to=2026-11-01")
    assert bad.status_code == 200
    assert "'from' 必须早于 'to'" in markup.unescape(bad.text)
    assert browser.get("/evaluation").status_code == 200  # last month by default
    browser.get("/lang/en", params={"next": "/evaluation"})
    english = browser.get(f"/evaluation?{NOVEMBER}")
    assert "Ranking" in english.text
    assert "Cases sent back after a failed check" in english.text
    browser.cookies.clear()
    sign_in(browser, app, november.world, "handler")
    assert browser.get("/evaluation").status_code == 403
    assert browser.get("/evaluation/bulletins").status_code == 403


def test_the_bulletin_archive_page_makes_lists_and_downloads(
    browser: TestClient, app: FastAPI, november: November
) -> None:
    csrf = sign_in(browser, app, november.world, "leader")
    empty = browser.get("/evaluation/bulletins")
    assert "尚未生成通报" in empty.text
    made = browser.post(
        "/evaluation/bulletins",
        data={"csrf_token": csrf, "period": "2026-11", "object": "street", "scheme": "national"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    listed = browser.get("/evaluation/bulletins").text
    ids = re.findall(r'data-bulletin="(\d+)"', listed)
    assert len(ids) == 1
    assert "2026-11" in listed
    for fmt in ("docx", "pdf", "xlsx"):
        assert f"/evaluation/bulletins/{ids[0]}/{fmt}" in listed
        got = browser.get(f"/evaluation/bulletins/{ids[0]}/{fmt}")
        assert got.status_code == 200
        assert f"bulletin-2026-11-street-v1.{fmt}" in got.headers["content-disposition"]
    bad = browser.post("/evaluation/bulletins", data={"csrf_token": csrf, "period": "2026-13"})
    assert bad.status_code == 422
    assert "YYYY-MM" in bad.text


def test_the_dashboard_shows_the_evaluations_numbers(
    browser: TestClient, app: FastAPI, november: November
) -> None:
    """One path: the dashboard's unit rates and district ranking are the evaluation's."""
    world = november.world
    leader = world.actor("leader")
    today = world.clock.now().astimezone(SHANGHAI).date()  # 2026-12-01
    start = (today - timedelta(days=PERIOD_DAYS - 1)).isoformat()
    end = (today + timedelta(days=1)).isoformat()
    _, _, units = evaluate(world.session, actor=leader, obj="unit", start=start, end=end)
    _, _, districts = evaluate(
        world.session, actor=leader, obj="district", start="2026-11-01", end="2026-12-01"
    )
    sign_in(browser, app, world, "leader")
    html = browser.get("/dashboard").text
    for row in units:
        for code in ("on_time_close_rate", "rework_rate"):
            value = row.indicators[code]
            cell = re.search(
                rf'<tr data-unit="{row.code}">.*?data-rate="{code}">(.*?)</td>', html, re.S
            )
            assert cell is not None, (row.code, code)
            if value.value is None:
                assert "—" in cell[1]
            else:
                assert f"{value.value * 100:.1f}%" in cell[1]
                assert f"({value.numerator}/{value.denominator})" in cell[1]
                assert "/evaluation/cases?object=unit" in cell[1]
    assert [d.code for d in districts] == ["D1"]
    ranked = re.search(r'<tr data-ranked="D1">(.*?)</tr>', html, re.S)
    assert ranked is not None
    assert f"{districts[0].score:.2f}" in ranked[1]
    # A dispatcher sees the rates without the links into the evaluation.
    browser.cookies.clear()
    sign_in(browser, app, world, "dispatcher")
    plain = browser.get("/dashboard").text
    assert 'data-rate="rework_rate"' in plain
    assert "/evaluation/cases" not in plain


def test_territory_staff_see_their_territorys_rows_on_the_dashboard(
    browser: TestClient, app: FastAPI, november: November
) -> None:
    """A district leader sees D1's row and its streets' (ranked among all streets), a
    street's user only their street's; no unit rates (a unit's rate is not the
    territory's). The numbers are the evaluation's."""
    world = november.world
    leader = world.actor("leader")
    _, _, streets = evaluate(
        world.session, actor=leader, obj="street", start="2026-11-01", end="2026-12-01"
    )
    user = world.users["leader"]
    world.session.execute(update(User).where(User.id == user.id).values(region_code="D1"))
    world.session.commit()
    sign_in(browser, app, world, "leader")
    html = browser.get("/dashboard").text
    assert "辖区排名" in html or "Territory ranking" in html
    assert re.findall(r'<tr data-ranked="(\w+)">', html) == ["D1", "S1", "S2"]
    for row in streets:
        ranked = re.search(rf'<tr data-ranked="{row.code}">(.*?)</tr>', html, re.S)
        assert ranked is not None
        assert f"{row.score:.2f}" in ranked[1]
    assert 'data-rate="rework_rate"' not in html
    world.session.execute(update(User).where(User.id == user.id).values(region_code="S2"))
    world.session.commit()
    html = browser.get("/dashboard").text
    assert re.findall(r'<tr data-ranked="(\w+)">', html) == ["S2"]
    assert "50.00" in html
