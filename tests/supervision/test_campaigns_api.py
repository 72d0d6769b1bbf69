"""The campaigns API and pages: create, read with figures, the cases, edit, close and
the report over HTTP; bad input refused with the catalogue's message in zh and en;
the pages in both languages, and the case page naming its campaigns."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.cases.models import Case
from duban.supervision.models import Campaign
from tests.factories.campaigns import EAST, WEST, make_regions, place
from tests.factories.world import World
from tests.http import API, Api, assert_error
from tests.supervision.test_pages import _sign_in

BODY = {
    "name": "市容环境专项整治",
    "kind": "rectification",
    "starts_on": "2026-11-20",
    "ends_on": "2026-11-30",
    "categories": ["E01"],
    "regions": [EAST],
}


@pytest.fixture
def city(api: Api) -> Api:
    make_regions(api.world.session)
    return api


def _case(api: Api, street: str = EAST, **kw: object) -> int:
    made = api.report(**kw)
    api.world.session.rollback()  # see what the app committed
    case = api.world.session.get(Case, made["id"])
    assert case is not None
    place(api.world.session, case, street)
    return case.id


def test_a_supervisor_starts_reads_edits_and_closes_a_campaign(city: Api) -> None:
    east = _case(city, address="人民路88号")
    west = _case(city, WEST)
    created = city.client.post(f"{API}/campaigns", json=BODY, headers=city.headers("supervisor"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["kind_label"] == "专项整治"
    assert body["status"] == "active"
    assert body["stats"]["found"] == 1
    assert body["stats"]["by_unit"][0]["label"] == "未派遣"
    assert body["stats"]["by_day"] == [{"day": "2026-11-23", "found": 1}]
    cid = body["id"]
    listed = city.get("/campaigns", "leader").json()
    assert [c["id"] for c in listed] == [cid]
    read = city.get(f"/campaigns/{cid}", "leader").json()
    assert read["stats"]["open"] == 1
    assert read["report_url"].endswith("report.docx")
    cases = city.get(f"/campaigns/{cid}/cases", "leader").json()
    assert [c["id"] for c in cases["items"]] == [east]
    assert cases["items"][0]["address"] == "人民路88号"
    edited = city.client.put(
        f"{API}/campaigns/{cid}",
        json={**BODY, "regions": [EAST, WEST]},
        headers=city.headers("supervisor"),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["stats"]["found"] == 2
    assert {c["id"] for c in city.get(f"/campaigns/{cid}/cases", "leader").json()["items"]} == {
        east,
        west,
    }
    street = city.world.user("dispatcher")
    street.region_code = WEST
    city.world.session.commit()
    mine = city.get(f"/campaigns/{cid}/cases", "dispatcher").json()
    assert [c["id"] for c in mine["items"]] == [west]
    assert city.get(f"/campaigns/{cid}", "dispatcher").json()["stats"]["found"] == 1
    west_report = city.get(f"/campaigns/{cid}/report.docx", "dispatcher")
    west_text = "\n".join(p.text for p in Document(io.BytesIO(west_report.content)).paragraphs)
    assert "共发现问题1个" in west_text
    closed = city.client.post(
        f"{API}/campaigns/{cid}/close",
        json={"note": "圆满完成"},
        headers=city.headers("supervisor"),
    )
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    again = city.client.post(f"{API}/campaigns/{cid}/close", headers=city.headers("supervisor"))
    assert_error(again, 409)
    report = city.get(f"/campaigns/{cid}/report.docx", "leader")
    assert report.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(report.content)).paragraphs)
    assert "关于市容环境专项整治情况的报告" in text


def test_bad_input_is_refused_in_the_callers_language(city: Api) -> None:
    headers = city.headers("supervisor")
    zh = {**headers, "Accept-Language": "zh-CN"}
    bad = city.client.post(f"{API}/campaigns", json={**BODY, "regions": ["999999"]}, headers=zh)
    error = assert_error(bad, 422)
    assert error["message"] == "没有此编码的区域"
    en = city.client.post(
        f"{API}/campaigns", json={**BODY, "ends_on": "2026-11-01"}, headers=headers
    )
    assert assert_error(en, 422)["message"] == "the campaign ends before it starts"
    assert_error(
        city.client.post(f"{API}/campaigns", json={**BODY, "starts_on": "11/20"}, headers=headers),
        422,
    )
    assert_error(
        city.client.post(f"{API}/campaigns", json=BODY, headers=city.headers("handler")), 403
    )
    assert_error(city.get("/campaigns", "citizen"), 403)
    assert_error(city.get("/campaigns/99", "leader"), 404)
    assert city.world.session.scalars(select(Campaign)).all() == []


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    ("lang", "heading", "found"), [("zh", "专项行动", "发现"), ("en", "Campaigns", "found")]
)
def test_the_pages_start_show_and_close_a_campaign(
    browser: TestClient, app: FastAPI, world: World, lang: str, heading: str, found: str
) -> None:
    make_regions(world.session)
    case = place(world.session, world.report(address="人民路88号"), EAST)
    _sign_in(browser, app, world, "supervisor", lang)
    page = browser.get("/campaigns")
    assert page.status_code == 200
    assert heading in page.text
    form = {
        "csrf_token": _csrf(page.text),
        "name": "东大街攻坚月",
        "kind": "assault_month",
        "starts_on": "2026-11-01",
        "ends_on": "2026-11-30",
        "categories": ["E01"],
        "regions": [EAST],
    }
    bad = browser.post(
        "/campaigns", data={**form, "categories": [], "regions": []}, follow_redirects=False
    )
    assert bad.status_code == 422
    assert (
        "请指定专项行动涵盖的问题类别或区域" if lang == "zh" else "name the categories"
    ) in bad.text
    made = browser.post("/campaigns", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    view = browser.get(url)
    assert view.status_code == 200
    assert "东大街攻坚月" in view.text
    assert found in view.text
    assert f'href="/cases/{case.id}"' in view.text
    # The region in the reader's language (its English name on the English page).
    assert ("东大街街道" if lang == "zh" else "Dongdajie Subdistrict") in view.text
    points = browser.get(f"{url}/map.json").json()
    assert points["total"] == 1
    assert points["points"][0][0] == case.id
    assert browser.get(f"{url}/report.docx").status_code == 200
    case_page = browser.get(f"/cases/{case.id}")
    assert "data-campaigns" in case_page.text
    assert "东大街攻坚月" in case_page.text
    assert 'id="campaign-edit"' in view.text
    wrong = browser.post(f"{url}/edit", data={**form, "ends_on": "2026-10-01"})
    assert wrong.status_code == 422
    assert ("结束日期早于开始日期" if lang == "zh" else "ends before it starts") in wrong.text
    renamed = browser.post(
        f"{url}/edit", data={**form, "name": "东大街攻坚月（延长）", "ends_on": "2026-12-31"}
    )
    assert renamed.status_code == 200
    assert "东大街攻坚月（延长）" in renamed.text
    assert "2026-12-31" in renamed.text
    closed = browser.post(f"{url}/close", data={"csrf_token": _csrf(view.text)})
    assert closed.status_code == 200
    assert ("已结束" if lang == "zh" else "Closed") in closed.text
    _sign_in(browser, app, world, "citizen", lang)
    assert browser.get(url).status_code in (403, 404)
