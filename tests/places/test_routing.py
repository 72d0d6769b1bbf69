"""Routing: the most specific rule wins, the street's territorial unit catches the rest, and
routing runs again when category or location change; the dispatcher may override with a
reason."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import shapely

from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus
from duban.kernel.errors import InvalidInput
from duban.places.index import locate
from duban.places.routing import add_rule, deactivate_rule, list_rules, suggest
from duban.places.territory import set_territorial_unit
from duban.reference.policy import load_policy
from duban.web.i18n import translate
from tests.factories.accounts import make_unit
from tests.places.conftest import DISTRICT, EAST, NE, NW, WEST, Api, City, error_of, lonlat

NW_POINT = lonlat(-950, 950)  # grid NW001
NE_POINT = lonlat(950, 950)


def rule(city: City, unit: str, **kw: Any) -> int:
    make_unit(city.session, unit, f"{unit} 单位")
    made = add_rule(city.session, unit_code=unit, now=city.clock.now(), **kw)
    city.session.commit()
    return made.id


def suggestion(
    city: City, point: tuple[float, float], category: str = "E0102", condition: str | None = None
) -> Any:
    return suggest(
        city.session,
        category_code=category,
        condition_code=condition,
        location=locate(city.session, *point),
        policy=load_policy(city.session).places,
    )


def last_payload(city: City, case: Case) -> dict[str, Any]:
    with city.factory() as other:
        row = (
            other.query(CaseEvent).filter_by(case_id=case.id).order_by(CaseEvent.seq.desc()).first()
        )
        assert row is not None
        data: dict[str, Any] = json.loads(row.payload)
        return data


# --------------------------------------------------------------------------- precedence


def test_what_the_rule_says_about_the_case_comes_first(city: City) -> None:
    city.build()
    rule(city, "ANY")
    assert suggestion(city, NW_POINT).unit.code == "ANY"
    rule(city, "MAJOR", category_code="E01")
    assert suggestion(city, NW_POINT).unit.code == "MAJOR"
    rule(city, "SUB", category_code="E0102")
    assert suggestion(city, NW_POINT).unit.code == "SUB"
    rule(city, "COND", condition_code="E010202")
    assert suggestion(city, NW_POINT, condition="E010202").unit.code == "COND"
    assert suggestion(city, NW_POINT, condition="E010201").unit.code == "SUB"
    # A subclass rule anywhere beats a major-class rule in the very grid.
    rule(city, "MAJOR-GRID", category_code="E01", place_level="grid", place_code=f"{NW}001")
    assert suggestion(city, NW_POINT).unit.code == "SUB"
    # Other categories are not touched by E01 rules.
    assert suggestion(city, NW_POINT, category="C0101").unit.code == "ANY"


def test_then_where_grid_zone_community_street_district_anywhere(city: City) -> None:
    city.build()
    city.zone("road_segment", "LZ-1", shapely.LineString([lonlat(-1000, 950), lonlat(0, 950)]))
    order = [
        ("U-ANY", {}),
        ("U-DISTRICT", {"place_level": "district", "place_code": DISTRICT}),
        ("U-STREET", {"place_level": "street", "place_code": WEST}),
        ("U-COMMUNITY", {"place_level": "community", "place_code": NW}),
        ("U-ZONE", {"place_level": "zone", "place_code": "LZ-1"}),
        ("U-GRID", {"place_level": "grid", "place_code": f"{NW}001"}),
    ]
    for unit, place in order:
        rule(city, unit, category_code="E0102", **place)
        found = suggestion(city, NW_POINT)
        assert found.unit.code == unit, found.reason
        assert found.basis == "rule"
    # Elsewhere in the street only the coarser rules match.
    assert suggestion(city, lonlat(-500, -500)).unit.code == "U-STREET"
    assert suggestion(city, NE_POINT).unit.code == "U-DISTRICT"
    assert suggestion(city, lonlat(-500, 950)).unit.code == "U-ZONE"  # on the road


def test_then_priority_then_the_older_rule(city: City) -> None:
    city.build()
    first = rule(city, "FIRST", category_code="E0102")
    rule(city, "SECOND", category_code="E0102")
    found = suggestion(city, NW_POINT)
    assert found.unit.code == "FIRST"
    assert found.rule_id == first
    assert "the most specific of 2 matching rules" in str(found.reason)
    assert "2 条匹配规则中最具体的一条" in translate(found.reason, "zh")
    rule(city, "URGENT", category_code="E0102", priority=5)
    assert suggestion(city, NW_POINT).unit.code == "URGENT"
    # list_rules shows them in the order they are tried.
    assert [r.unit.code for r in list_rules(city.session)] == ["URGENT", "FIRST", "SECOND"]


def test_the_reason_names_the_rule_category_and_place(city: City) -> None:
    city.build()
    rule(
        city,
        "HWX",
        category_code="E0102",
        place_level="street",
        place_code=WEST,
        helper_units=["SZGC"],
    )
    found = suggestion(city, NW_POINT)
    assert found.helper_units == ("SZGC",)
    # Names, not codes, in the reader's language (a name without English falls back).
    chinese = translate(found.reason, "zh")
    assert chinese.startswith("规则 #")
    assert "暴露垃圾 · 西区街道 → " in chinese
    assert "协办：" in chinese
    assert not re.search(r"[A-Za-z]{3,}", chinese.replace("HWX 单位", "")), chinese
    english = translate(found.reason, "en")
    assert english.startswith("rule #")
    assert ", helped by " in english
    assert "暴露垃圾" not in english  # the category's English name
    assert str(found.reason) == english


def test_without_a_rule_the_streets_territorial_unit_catches_the_case(city: City) -> None:
    city.build()
    found = suggestion(city, NW_POINT)
    assert found.unit.code == "JD001"
    assert found.basis == "territorial"
    assert found.rule_id is None
    assert translate(found.reason, "zh") == (
        "没有匹配“暴露垃圾”的派遣规则，按属地兜底由西区街道的属地单位办理：西区街道办事处"
    )
    assert translate(found.reason, "en").startswith("no routing rule matches ")
    assert suggestion(city, NE_POINT).unit.code == "JD002"


def test_the_district_is_the_last_territorial_fallback_then_nobody(city: City) -> None:
    city.build(territorial=False)
    none = suggestion(city, NW_POINT)
    assert none.unit is None
    assert none.basis == "none"
    assert "the dispatcher chooses" in str(none.reason)
    assert "由派遣员选择单位" in translate(none.reason, "zh")
    make_unit(city.session, "QCGJ", "区城管局")
    set_territorial_unit(city.session, DISTRICT, "QCGJ")
    city.session.commit()
    assert suggestion(city, NW_POINT).unit.code == "QCGJ"


def test_inactive_rules_and_units_do_not_route(city: City) -> None:
    city.build()
    rule_id = rule(city, "GONE", category_code="E0102")
    assert suggestion(city, NW_POINT).unit.code == "GONE"
    deactivate_rule(city.session, rule_id)
    city.session.commit()
    assert suggestion(city, NW_POINT).unit.code == "JD001"


def test_bad_rules_are_refused(city: City) -> None:
    city.build()
    now = city.clock.now()
    for kw, match in [
        ({"unit_code": "NOPE"}, "unknown unit"),
        ({"unit_code": "SZGC", "helper_units": ["SZGC"]}, "cannot also be a helper"),
        ({"unit_code": "SZGC", "category_code": "X99"}, "unknown category"),
        ({"unit_code": "SZGC", "condition_code": "E010201", "category_code": "C0101"}, "belongs"),
        ({"unit_code": "SZGC", "place_level": "street"}, "both the place level"),
        ({"unit_code": "SZGC", "place_level": "street", "place_code": "4110"}, "9 digits"),
        ({"unit_code": "SZGC", "place_level": "street", "place_code": "411002099"}, "import"),
        ({"unit_code": "SZGC", "place_level": "zone", "place_code": "LZ-404"}, "no zone"),
        ({"unit_code": "SZGC", "place_level": "planet", "place_code": "earth"}, "unknown place"),
    ]:
        with pytest.raises(InvalidInput, match=match):
            add_rule(city.session, now=now, **kw)
        city.session.rollback()


# --------------------------------------------------------------------------- in the workflow


def test_filing_routes_and_the_dispatcher_follows_without_naming_a_unit(city: City) -> None:
    city.build()
    rule(city, "HWC", category_code="E01", helper_units=["SZGC"])
    case = city.case_in(CaseStatus.FILED, lat=NW_POINT[1], lon=NW_POINT[0])
    assert case.routing_unit is not None
    assert case.routing_unit.code == "HWC"
    assert case.routing_helpers == ["SZGC"]
    filed = last_payload(city, case)
    assert filed["routing"]["unit"] == "HWC"
    assert filed["routing"]["basis"] == "rule"
    city.act(case, Action.DISPATCH, "dispatcher")
    assert case.unit is not None
    assert case.unit.code == "HWC"
    assert [h.unit.code for h in case.helpers] == ["SZGC"]
    assert last_payload(city, case)["suggestion"] == "followed"


def test_overriding_the_suggestion_needs_a_reason_and_is_recorded(city: City) -> None:
    city.build()
    rule(city, "HWC", category_code="E0102")
    case = city.case_in(CaseStatus.FILED, lat=NW_POINT[1], lon=NW_POINT[0])
    with pytest.raises(InvalidInput, match="give a 'reason' for the override") as caught:
        city.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    assert caught.value.detail["code"] == "override_needs_reason"
    assert caught.value.detail["suggested"] == "HWC"
    city.act(case, Action.DISPATCH, "dispatcher", unit="SZGC", reason="井盖归市政，分类有误")
    assert case.unit.code == "SZGC"  # type: ignore[union-attr]
    override = last_payload(city, case)["override"]
    assert override["suggested"] == "HWC"
    assert override["reason"] == "井盖归市政，分类有误"
    assert override["rule"] == case.routing_rule_id


def test_choosing_the_suggested_unit_by_name_needs_no_reason(city: City) -> None:
    city.build()
    case = city.case_in(CaseStatus.FILED, lat=NW_POINT[1], lon=NW_POINT[0])
    city.act(case, Action.DISPATCH, "dispatcher", unit="JD001")
    assert last_payload(city, case)["suggestion"] == "followed"


def test_no_suggestion_and_no_unit_is_a_clear_error(city: City) -> None:
    city.build(territorial=False)
    case = city.case_in(CaseStatus.FILED, lat=NW_POINT[1], lon=NW_POINT[0])
    with pytest.raises(InvalidInput, match="routing suggests none"):
        city.act(case, Action.DISPATCH, "dispatcher")
    city.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")  # no suggestion: no reason
    assert "override" not in last_payload(city, case)


def test_changing_the_category_at_filing_routes_again(city: City) -> None:
    city.build()
    rule(city, "HWC", category_code="E01")
    rule(city, "SZGC", category_code="C01")
    case = city.case_in(CaseStatus.VERIFIED, lat=NW_POINT[1], lon=NW_POINT[0])
    city.act(case, Action.FILE, "shift_lead", category_code="C0101")
    assert case.routing_unit.code == "SZGC"  # type: ignore[union-attr]
    filed = last_payload(city, case)
    assert filed["category"] == {"from": "E0102", "to": "C0101"}
    assert filed["routing"]["unit"] == "SZGC"


def test_changing_the_location_routes_again(city: City) -> None:
    city.build()
    rule(city, "WEST-HW", category_code="E0102", place_level="street", place_code=WEST)
    case = city.case_in(CaseStatus.FILED, lat=NW_POINT[1], lon=NW_POINT[0])
    assert case.routing_unit.code == "WEST-HW"  # type: ignore[union-attr]
    # The dispatcher moves it to the east street and dispatches by the new suggestion.
    city.act(case, Action.DISPATCH, "dispatcher", lat=NE_POINT[1], lon=NE_POINT[0])
    assert case.street_code == EAST
    assert case.grid_code.startswith(NE)  # type: ignore[union-attr]
    assert case.unit.code == "JD002"  # type: ignore[union-attr]
    dispatched = last_payload(city, case)
    assert dispatched["location"]["from"]["grid"] == f"{NW}001"
    assert dispatched["routing"]["unit"] == "JD002"
    assert dispatched["routing"]["basis"] == "territorial"
    assert dispatched["suggestion"] == "followed"


def test_a_returned_case_is_re_dispatched_elsewhere_with_a_reason(city: City) -> None:
    from duban.kernel.roles import Role
    from tests.factories.accounts import make_user

    city.build()
    city.users["jd_handler"] = make_user(
        city.session, "jd_handler", Role.HANDLER, unit=city.territorial[WEST]
    )
    case = city.case_in(CaseStatus.FILED, lat=NW_POINT[1], lon=NW_POINT[0])
    city.act(case, Action.DISPATCH, "dispatcher")
    assert case.unit.code == "JD001"  # type: ignore[union-attr]
    city.act(case, Action.RETURN, "jd_handler", reason="属市政设施，非街道职责")
    with pytest.raises(InvalidInput, match="override"):
        city.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
    city.act(case, Action.DISPATCH, "dispatcher", unit="SZGC", reason="街道回退：市政设施")
    assert case.unit.code == "SZGC"  # type: ignore[union-attr]
    assert last_payload(city, case)["override"]["suggested"] == "JD001"


# --------------------------------------------------------------------------- the API


def test_the_dispatcher_sees_the_suggestion_and_its_reason(city: City, api: Api) -> None:
    city.build()
    rule(city, "HWC", category_code="E0102", helper_units=["SZGC"])
    lon, lat = NW_POINT
    created = api.report(lat=lat, lon=lon).json()
    case_id = created["id"]
    assert api.act(case_id, "assign", "operator", collector="collector").status_code == 200
    assert api.act(case_id, "verify", "collector").status_code == 200
    filed = api.act(case_id, "file", "shift_lead").json()
    routing = filed["routing"]
    assert routing["unit"] == "HWC"
    assert routing["helper_units"] == ["SZGC"]
    assert routing["rule_id"] is not None
    assert "Exposed garbage" in routing["reason"]  # English unless Accept-Language asks zh
    assert routing["routed_at"].endswith("+08:00")
    # Override without a reason: 422 with the suggestion named; with one: recorded.
    error = error_of(api.act(case_id, "dispatch", "dispatcher", unit="SZGC"), 422)
    assert error["code"] == "override_needs_reason"
    done = api.act(case_id, "dispatch", "dispatcher", unit="SZGC", reason="实为井盖问题")
    assert done.status_code == 200, done.text
    event = done.json()["events"][-1]
    assert event["payload"]["override"]["reason"] == "实为井盖问题"
    # Citizens do not see routing.
    citizen_case = api.report(by="citizen", source="citizen", lat=lat, lon=lon).json()
    assert citizen_case["routing"] is None


def test_admins_manage_rules_over_the_api(city: City, api: Api) -> None:
    city.build()
    body = {
        "unit": "HWC",
        "category_code": "E0102",
        "place_level": "community",
        "place_code": NW,
        "helper_units": ["SZGC"],
        "priority": 2,
    }
    error_of(api.post("/routing-rules", "dispatcher", json=body), 403)
    created = api.post("/routing-rules", "admin", json=body)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    assert "西北社区" in created.json()["description"]  # the community has no English name
    assert created.json()["description"].startswith(f"rule #{rule_id}: ")
    listed = api.get("/routing-rules", "dispatcher").json()
    assert [r["id"] for r in listed] == [rule_id]
    # The description is rendered from the rule in the caller's language.
    chinese = api.client.get(
        "/api/v1/routing-rules",
        headers={**api.headers("dispatcher"), "Accept-Language": "zh-CN,zh;q=0.9"},
    ).json()
    assert chinese[0]["description"].startswith(f"规则 #{rule_id}：")
    assert "priority" not in chinese[0]["description"]
    error_of(api.get("/routing-rules", "citizen"), 403)
    error_of(api.post("/routing-rules", "admin", json={**body, "unit": "NOPE"}), 422)
    assert (
        api.client.delete(
            f"/api/v1/routing-rules/{rule_id}", headers=api.headers("admin")
        ).status_code
        == 204
    )
    assert api.get("/routing-rules", "dispatcher").json() == []
    # Territorial units over the API.
    put = api.client.put(
        f"/api/v1/territorial-units/{EAST}", json={"unit": "SZGC"}, headers=api.headers("admin")
    )
    assert put.status_code == 200, put.text
    units = {t["region"]: t["unit"] for t in api.get("/territorial-units").json()}
    assert units == {WEST: "JD001", EAST: "SZGC"}
