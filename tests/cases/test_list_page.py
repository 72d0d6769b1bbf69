"""The case list page: names, the 超时 light and time left, search, sorting, export."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from duban.cases import pages as case_pages
from duban.cases.workflow import CaseStatus
from tests.factories.world import World
from tests.web.test_server import sign_in

ZH = {"Accept-Language": "zh-CN"}


def workbook_rows(content: bytes) -> list[tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_the_list_shows_names_lights_and_time_left(
    client: TestClient, app: FastAPI, world: World
) -> None:
    dispatched = world.case_in(CaseStatus.DISPATCHED, address="人民路128号")
    world.report(description="井盖破损")
    sign_in(client, app, world, "dispatcher")
    html = client.get("/cases", headers=ZH).text
    assert f'data-case="{dispatched.code}"' in html
    assert "市政工程" in html or "市政" in html  # the unit's name, not its code
    assert 'title="E0102"' in html  # the category's code only as a tooltip
    assert 'data-light="green"' in html
    assert "暴露垃圾" in html  # the category name of E0102
    world.clock.advance(days=3)
    sign_in(client, app, world, "dispatcher")  # a new session after the days
    html = client.get("/cases", headers=ZH).text
    assert 'data-light="red"' in html
    assert "已超时" in html


def test_search_and_sort_links_keep_the_filters(
    client: TestClient, app: FastAPI, world: World
) -> None:
    manhole = world.report(description="人民路口井盖破损")
    world.report(description="暴露垃圾")
    sign_in(client, app, world, "dispatcher")
    html = client.get("/cases", params={"q": "井盖", "status": "reported"}, headers=ZH).text
    assert f'data-case="{manhole.code}"' in html
    assert html.count("data-case=") == 1
    assert 'href="/cases?q=%E4%BA%95%E7%9B%96&amp;status=reported&amp;sort=unit"' in html
    html = client.get("/cases", params={"q": "井盖", "sort": "unit"}, headers=ZH).text
    assert 'data-sort="unit">' in html
    assert "sort=-unit" in html
    assert 'aria-sort="ascending"' in html
    assert "/cases/export.xlsx?q=%E4%BA%95%E7%9B%96&amp;sort=unit" in html
    assert client.get("/cases", params={"sort": "nonsense"}).status_code == 200


def test_export_is_the_filtered_list_with_names_and_local_times(
    client: TestClient, app: FastAPI, world: World
) -> None:
    dispatched = world.case_in(CaseStatus.DISPATCHED, address="人民路128号")
    world.report(description="违规悬挂横幅")
    sign_in(client, app, world, "dispatcher")
    response = client.get("/cases/export.xlsx", headers=ZH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows = workbook_rows(response.content)
    assert rows[0][:3] == ("案卷号", "状态", "类别")
    assert len(rows) == 3
    line = next(r for r in rows if r[0] == dispatched.code)
    assert line[1] == "已派遣"
    assert line[3] == "人民路128号"
    assert line[5]
    assert line[5] != "SZGC"  # the unit's name
    local = dispatched.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert line[7] == local
    only = workbook_rows(client.get("/cases/export.xlsx", params={"q": "横幅"}).content)
    assert len(only) == 2
    client.get("/lang/en", params={"next": "/cases"})
    english = workbook_rows(client.get("/cases/export.xlsx").content)
    assert english[0][0] == "Case number"
    line = next(r for r in english if r[0] == dispatched.code)
    assert dispatched.unit is not None
    assert line[5] == dispatched.unit.name_en  # the unit's English name
    assert line[2]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in str(line[2]))


def test_an_export_over_the_cap_is_refused_with_a_message(
    client: TestClient, app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.report()
    world.report()
    monkeypatch.setattr(case_pages, "EXPORT_CAP", 1)
    sign_in(client, app, world, "dispatcher")
    response = client.get("/cases/export.xlsx", params={"q": "垃圾"}, headers=ZH)
    assert response.status_code == 200
    assert "无法导出" in response.text
    assert response.url.path == "/cases"


def test_saved_filters_are_the_viewers_own(client: TestClient, app: FastAPI, world: World) -> None:
    world.report(description="人民路口井盖破损")
    csrf = sign_in(client, app, world, "dispatcher")
    saved = client.post(
        "/cases/filters",
        data={"csrf_token": csrf, "name": "井盖", "query": "q=%E4%BA%95%E7%9B%96&sort=unit"},
    )
    assert saved.status_code == 200
    assert "筛选已保存" in saved.text
    html = client.get("/cases", headers=ZH).text
    assert 'data-saved="井盖"' in html
    assert 'href="/cases?q=%E4%BA%95%E7%9B%96&amp;sort=unit"' in html
    # The same name replaces the query; no name is refused with a message.
    client.post("/cases/filters", data={"csrf_token": csrf, "name": "井盖", "query": "q=x"})
    assert 'href="/cases?q=x"' in client.get("/cases").text
    refused = client.post("/cases/filters", data={"csrf_token": csrf, "name": " ", "query": ""})
    assert "请为筛选起个名字" in refused.text
    # Someone else neither sees nor deletes it.
    client.cookies.clear()
    other = sign_in(client, app, world, "operator")
    assert 'data-saved="井盖"' not in client.get("/cases").text
    from duban.cases.models import SavedFilter

    kept = world.session.query(SavedFilter).one()
    world.session.commit()  # end the test's read before the app writes
    client.post(f"/cases/filters/{kept.id}/delete", data={"csrf_token": other})
    world.session.commit()
    assert world.session.query(SavedFilter).count() == 1
    client.cookies.clear()
    csrf = sign_in(client, app, world, "dispatcher")
    deleted = client.post(f"/cases/filters/{kept.id}/delete", data={"csrf_token": csrf})
    assert "筛选已删除" in deleted.text
    world.session.commit()
    assert world.session.query(SavedFilter).count() == 0
