"""Routing reasons are stored as a template and codes and named in the reader's language
when read (issue 17, item 2): the Chinese page reads Chinese, the English page and the API
asked in English read English names, a renamed unit shows its new name, and migration 0035
converts the English text older versions stored."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update

from duban.accounts.models import Unit
from duban.cases.models import Case
from duban.kernel.db.migrate import alembic_config, upgrade
from duban.kernel.db.session import make_session_factory
from duban.places.models import Region
from duban.places.reasons import case_reason, dump, load
from duban.places.routing import add_rule
from duban.web import sessions
from duban.web.i18n import translate
from tests.factories.accounts import make_unit
from tests.places.conftest import NW, WEST, Api, City, lonlat

NW_POINT = lonlat(-950, 950)
REASON = re.compile(r'<span class="muted" data-routing-reason>(.*?)</span>', re.S)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _sign_in(client: TestClient, app: FastAPI, city: City, username: str, lang: str) -> None:
    client.cookies.clear()
    user = city.users[username]
    now = int(city.clock.now().timestamp())
    session = sessions.WebSession.fresh(lang=lang, now=now).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))


def _filed_case(city: City, api: Api) -> int:
    """A case reported in the north-west grid and filed (routing runs when it is filed)."""
    lon, lat = NW_POINT
    case_id: int = api.report(lat=lat, lon=lon).json()["id"]
    assert api.act(case_id, "assign", "operator", collector="collector").status_code == 200
    assert api.act(case_id, "verify", "collector").status_code == 200
    assert api.act(case_id, "file", "shift_lead").status_code == 200
    return case_id


def _named_city(city: City) -> None:
    city.build()
    hwc = city.session.scalars(select(Unit).where(Unit.code == "HWC")).one()
    hwc.name_en = "Sanitation Office"
    make_unit(city.session, "SZ", "市政处")
    city.session.execute(
        update(Region).where(Region.code == WEST).values(name_en="Xiqu Subdistrict")
    )
    city.session.commit()


def _page_reason(browser: TestClient, case_id: int) -> str:
    page = browser.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text[:500]
    found = REASON.search(page.text)
    assert found, page.text[:3000]
    return html.unescape(found.group(1)).strip()


def test_a_rules_reason_reads_in_the_language_of_each_face(
    city: City, api: Api, browser: TestClient, app: FastAPI
) -> None:
    _named_city(city)
    add_rule(
        city.session,
        unit_code="HWC",
        category_code="E0102",
        place_level="street",
        place_code=WEST,
        now=city.clock.now(),
    )
    city.session.commit()
    case_id = _filed_case(city, api)
    with city.factory() as other:
        case = other.get(Case, case_id)
        assert case is not None
        stored = case.routing_reason_data
        assert stored is not None
        # Codes, not names, are stored: the names are the data's when read.
        assert stored["p"]["unit"] == {"ref": "unit", "code": "HWC"}
        assert stored["p"]["what"] == {"ref": "category", "code": "E0102"}
        assert stored["p"]["where"] == {"ref": "region", "code": WEST}
        assert dump(load(stored)) == stored

    _sign_in(browser, app, city, "dispatcher", "zh")
    chinese = _page_reason(browser, case_id)
    assert chinese.startswith("规则 #"), chinese
    assert "暴露垃圾 · 西区街道 → 环境卫生管理处" in chinese
    assert not re.search(r"[A-Za-z]{3,}", chinese), chinese

    _sign_in(browser, app, city, "dispatcher", "en")
    english = _page_reason(browser, case_id)
    assert english.startswith("rule #"), english
    assert "Exposed garbage · Xiqu Subdistrict → Sanitation Office" in english
    assert not re.search(r"[\u4e00-\u9fff]", english), english

    def api_reason(language: str) -> str:
        headers = {**api.headers("dispatcher"), "Accept-Language": language}
        answer = browser.get(f"/api/v1/cases/{case_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        reason: str = answer.json()["routing"]["reason"]
        return reason

    assert api_reason("en") == english
    assert api_reason("zh-CN,zh;q=0.9") == chinese
    listed = browser.get(
        "/api/v1/cases", headers={**api.headers("dispatcher"), "Accept-Language": "zh-CN"}
    ).json()["items"]
    assert [c["routing"]["reason"] for c in listed if c["id"] == case_id] == [chinese]

    # A unit renamed after routing: the reason names it as it is called now.
    city.session.execute(update(Unit).where(Unit.code == "HWC").values(name="环卫中心"))
    city.session.commit()
    _sign_in(browser, app, city, "dispatcher", "zh")
    assert "→ 环卫中心" in _page_reason(browser, case_id)

    # The override refusal names the suggestion and its reason in the reader's language.
    error = api.act(case_id, "dispatch", "dispatcher", unit="SZ")
    assert error.status_code == 422
    message = error.json()["error"]["message"]
    assert "→ 环卫中心 (" in message or "→ Sanitation Office" in message, message
    assert "{" not in message


def test_the_territorial_reason_reads_in_english_on_the_english_page(
    city: City, api: Api, browser: TestClient, app: FastAPI
) -> None:
    _named_city(city)
    jd = city.territorial[WEST]
    jd.name_en = "Xiqu Subdistrict Office"
    city.session.commit()
    case_id = _filed_case(city, api)
    _sign_in(browser, app, city, "dispatcher", "en")
    english = _page_reason(browser, case_id)
    assert english == (
        "no routing rule matches Exposed garbage here; the territorial unit of "
        "Xiqu Subdistrict takes it: Xiqu Subdistrict Office"
    )
    _sign_in(browser, app, city, "dispatcher", "zh")
    assert _page_reason(browser, case_id) == (
        "没有匹配“暴露垃圾”的派遣规则，按属地兜底由西区街道的属地单位办理：西区街道办事处"
    )


def test_migration_0037_converts_the_reasons_stored_as_text(
    city: City, api: Api, engine: Engine
) -> None:
    _named_city(city)
    add_rule(city.session, unit_code="SZ", category_code="E0102", now=city.clock.now())
    add_rule(
        city.session,
        unit_code="HWC",
        category_code="E0102",
        place_level="community",
        place_code=NW,
        helper_units=["SZGC"],
        priority=2,
        now=city.clock.now(),
    )
    city.session.commit()
    by_rule = _filed_case(city, api)
    city.session.execute(text("UPDATE routing_rules SET is_active = false"))
    city.session.commit()
    territorial = _filed_case(city, api)
    unreadable = _filed_case(city, api)
    expected = {}
    with city.factory() as other:
        for case_id in (by_rule, territorial):
            case = other.get(Case, case_id)
            assert case is not None
            assert case.routing_reason_data
            expected[case_id] = case.routing_reason_data
        assert expected[by_rule]["t"] == "{rule}; the most specific of {count} matching rules"
        assert expected[territorial]["p"]["place"] == {"ref": "region", "code": WEST}
    city.session.close()
    url = engine.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), "0036_search")
    with make_session_factory(engine)() as session:
        session.execute(
            text("UPDATE cases SET routing_reason = 'an older wording' WHERE id = :id"),
            {"id": unreadable},
        )
        session.commit()
    upgrade(engine)
    with make_session_factory(engine)() as session:
        for case_id, data in expected.items():
            case = session.get(Case, case_id)
            assert case is not None
            assert case.routing_reason_data == data, case.routing_reason
        kept = session.get(Case, unreadable)
        assert kept is not None
        assert kept.routing_reason_data is None
        assert kept.routing_reason == "an older wording"  # the fallback the faces show
        assert case_reason(session, kept) is None
        converted = session.get(Case, by_rule)
        assert converted is not None
        reason = case_reason(session, converted)
        assert reason is not None
        assert translate(reason, "en").endswith(
            "→ Sanitation Office, helped by Municipal Engineering Administration Office "
            "(priority 2); "
            "the most specific of 2 matching rules"
        )


CONDITION_ZH = "道路、广场等公共区域可见暴露垃圾"
CONDITION_EN = "Exposed rubbish visible on roads, squares or other public areas"
CONDITION_ROW = re.compile(r'<dd data-condition="E010201">(.*?)</dd>', re.S)


def test_a_rule_on_a_filing_condition_reads_in_english_on_the_english_page(
    city: City, api: Api, browser: TestClient, app: FastAPI
) -> None:
    _named_city(city)
    add_rule(city.session, unit_code="HWC", condition_code="E010201", now=city.clock.now())
    city.session.commit()
    case_id = _filed_case(city, api)

    _sign_in(browser, app, city, "dispatcher", "en")
    english = _page_reason(browser, case_id)
    assert f"{CONDITION_EN} · anywhere → Sanitation Office" in english, english
    assert not re.search(r"[\u4e00-\u9fff]", english), english
    # The case page's filing-condition row names it in English too.
    row = CONDITION_ROW.search(browser.get(f"/cases/{case_id}").text)
    assert row, "no filing condition row"
    assert html.unescape(row.group(1)).startswith(CONDITION_EN + " · "), row.group(1)
    assert CONDITION_ZH not in browser.get(f"/cases/{case_id}").text

    _sign_in(browser, app, city, "dispatcher", "zh")
    chinese = _page_reason(browser, case_id)
    assert CONDITION_ZH[:30] in chinese, chinese
    row = CONDITION_ROW.search(browser.get(f"/cases/{case_id}").text)
    assert row
    assert html.unescape(row.group(1)).startswith(CONDITION_ZH + " · ")

    # A condition without an English name (a city's own taxonomy): the Chinese shows.
    # Put back by hand: PostgreSQL's reset keeps reference rows whose stamps are unchanged.
    blank = "UPDATE filing_conditions SET name_en = :en WHERE code = 'E010201'"
    city.session.execute(text(blank), {"en": ""})
    city.session.commit()
    try:
        _sign_in(browser, app, city, "dispatcher", "en")
        assert CONDITION_ZH[:30] in _page_reason(browser, case_id)
    finally:
        city.session.execute(text(blank), {"en": CONDITION_EN})
        city.session.commit()
