"""Services come from the taxonomy; discovery's changeset follows its changes."""

from __future__ import annotations

import copy

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.reference.categories import install_taxonomy, shipped_taxonomy_data
from duban.reference.models import Category
from tests.fakes import FixedClock
from tests.open311 import spec
from tests.open311.conftest import configure

AREA = {
    "type": "Polygon",
    "coordinates": [[[113.7, 33.9], [113.9, 33.9], [113.9, 34.1], [113.7, 34.1], [113.7, 33.9]]],
}


def test_every_active_subclass_is_a_service_grouped_by_its_major_class(
    http: httpx.Client, session: Session
) -> None:
    services = spec.check_both(http, "services", spec.SERVICES)
    by_code = {s["service_code"]: s for s in services}
    subclasses = session.scalars(
        select(Category.code).where(Category.level == 2, Category.is_active)
    ).all()
    assert set(by_code) == set(subclasses)  # subclasses; major classes are groups
    lamp = by_code["C0118"]
    assert lamp["service_name"] == "路灯"
    assert lamp["group"] == "公用设施"
    assert lamp["groups"] == ["公用设施"]
    assert lamp["metadata"] is True
    assert lamp["type"] == "realtime"
    assert "路灯" in lamp["keywords"].split(",") or lamp["keywords"]


def test_the_service_list_is_in_english_by_locale_or_accept_language(
    http: httpx.Client,
) -> None:
    def lamp(response: httpx.Response) -> dict[str, object]:
        services = spec.check_json(response, spec.SERVICES)
        return next(s for s in services if s["service_code"] == "C0118")

    english = lamp(http.get("services.json", params={"locale": "en_US"}))
    assert english["service_name"] == "Street light"
    assert english["group"] == "Public utilities"
    assert english["groups"] == ["Public utilities"]
    asked = lamp(http.get("services.json", headers={"Accept-Language": "en-GB,en;q=0.8"}))
    assert asked["service_name"] == "Street light"
    # The locale argument wins over the header; Chinese stays the default.
    chinese = lamp(
        http.get("services.json", params={"locale": "zh_CN"}, headers={"Accept-Language": "en"})
    )
    assert chinese["service_name"] == "路灯"
    assert lamp(http.get("services.json"))["group"] == "公用设施"


def test_a_definition_lists_the_filing_conditions_and_all_six_datatypes(
    http: httpx.Client,
) -> None:
    definition = spec.check_both(http, "services/C0101", spec.DEFINITION)
    by_code = {a["code"]: a for a in definition["attributes"]}
    assert [v["key"] for v in by_code["condition"]["values"]] == [
        "C010101",
        "C010102",
        "C010103",
    ]
    assert {a["datatype"] for a in definition["attributes"]} == {
        "string",
        "number",
        "datetime",
        "text",
        "singlevaluelist",
        "multivaluelist",
    }
    assert by_code["asset_id"]["automated"] == "hidden_field"  # 部件 only
    assert by_code["fixmystreet_id"]["automated"] == "server_set"
    assert by_code["emergency_notice"]["variable"] is False
    assert [a["order"] for a in definition["attributes"]] == list(
        range(1, len(definition["attributes"]) + 1)
    )
    event = spec.check_json(http.get("services/E0102.json"), spec.DEFINITION)
    assert "asset_id" not in {a["code"] for a in event["attributes"]}


def test_a_definition_names_the_filing_conditions_in_english_when_asked(
    http: httpx.Client,
) -> None:
    def names(**kwargs: object) -> list[str]:
        answer = spec.check_json(http.get("services/C0101.json", **kwargs), spec.DEFINITION)
        by_code = {a["code"]: a for a in answer["attributes"]}
        return [v["name"] for v in by_code["condition"]["values"]]

    chinese = names()
    assert chinese[0] == "上水井盖丢失、缺失或塌陷，危及行人车辆安全"
    english = names(params={"locale": "en_US"})
    assert english[0] == (
        "Water-supply manhole cover lost, missing or collapsed, endangering pedestrians or vehicles"
    )
    assert names(headers={"Accept-Language": "en-GB,en;q=0.8"}) == english
    assert names(params={"locale": "zh_CN"}, headers={"Accept-Language": "en"}) == chinese


def test_changing_the_taxonomy_bumps_the_changeset_and_the_list(
    http: httpx.Client, session: Session, clock: FixedClock
) -> None:
    before = spec.check_json(http.get("discovery.json"), spec.DISCOVERY)["changeset"]
    data = copy.deepcopy(shipped_taxonomy_data())
    event_classes = [c for c in data["classes"] if c["kind"] == "event"]
    event_classes[0]["children"].append(
        {
            "code": "0198",
            "name": "共享单车乱停放",
            "name_en": "Badly parked shared bikes",
            "keywords": ["共享单车"],
            "conditions": [
                {
                    "code": "01",
                    "name": "占用盲道或消防通道",
                    "limit": {"amount": 2, "unit": "hours"},
                    "close_rule": "车辆已清走",
                }
            ],
        }
    )
    clock.advance(minutes=5)
    install_taxonomy(session, data, now=clock.now())
    after = spec.check_json(http.get("discovery.json"), spec.DISCOVERY)["changeset"]
    assert after > before
    codes = {s["service_code"] for s in spec.check_json(http.get("services.json"), spec.SERVICES)}
    assert "E0198" in codes
    clock.advance(minutes=5)
    configure(session, clock, contact="12319")
    assert spec.check_json(http.get("discovery.json"), spec.DISCOVERY)["changeset"] > after


def test_lat_long_on_services_lists_only_what_is_offered_there(
    http: httpx.Client, session: Session, clock: FixedClock
) -> None:
    everything = spec.check_json(http.get("services.json"), spec.SERVICES)
    configure(session, clock, area=AREA)
    here = spec.check_json(
        http.get("services.json", params={"lat": "34.03", "long": "113.82"}), spec.SERVICES
    )
    assert here == everything
    far = spec.check_json(
        http.get("services.json", params={"lat": "39.9", "long": "116.4"}), spec.SERVICES
    )
    assert far == []
    spec.check_xml(http.get("services.xml", params={"lat": "39.9", "long": "116.4"}), spec.SERVICES)
    spec.check_json(http.get("services.json", params={"lat": "39.9"}), spec.ERRORS, 400)
