"""Conformance: a third-party client (``georeport`` from PyPI) reads everything in both
formats, and every document validates against the schemas and XML checks of spec.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from georeport import GeoReport
from sqlalchemy.orm import Session

from duban.cases.workflow import CaseStatus
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.open311 import spec
from tests.open311.conftest import configure, new_request

SIX = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


def as_list(value: Any) -> list[Any]:
    """xmltodict gives a dict for one element and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@pytest.fixture
def cases(world: World, http: httpx.Client, api_key: str) -> dict[str, str]:
    """Requests in several states: reported, with a unit, closed with photos, posted."""
    reported = world.report(reporter_name="张三", reporter_phone="13800000001")
    handling = world.case_in(CaseStatus.HANDLING)
    closed = world.case_in(CaseStatus.CLOSED, category="C0118", description="路灯不亮")
    posted = new_request(http, api_key, media_url=["https://img.example/a.jpg"])
    return {
        "reported": reported.code,
        "handling": handling.code,
        "closed": closed.code,
        "posted": posted,
    }


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_every_method(
    open311_url: str, fmt: str, cases: dict[str, str]
) -> None:
    client = GeoReport(open311_url, output_format=fmt)

    services = as_list(client.get_service_list())
    by_code = {s["service_code"]: s for s in services}
    assert {"E0102", "C0118"} <= set(by_code)
    assert by_code["E0102"]["service_name"] == "暴露垃圾"
    assert by_code["E0102"]["group"] == "市容环境"

    definition = client.get_service_definition("E0102")
    attributes = (
        definition["attributes"]
        if fmt == "json"
        else as_list(definition["attributes"]["attribute"])
    )
    assert definition["service_code"] == "E0102"
    assert {a["datatype"] for a in attributes} == SIX
    orders = [int(a["order"]) for a in attributes]
    assert orders == sorted(orders)
    assert len(set(orders)) == len(orders)

    everything = as_list(client.get_service_requests())
    assert {r["service_request_id"] for r in everything} == set(cases.values())

    one = client.get_service_request(cases["handling"])
    assert one["service_request_id"] == cases["handling"]
    assert one["agency_responsible"] == "市政工程管理处"
    assert one["expected_datetime"]

    picked = as_list(
        client.get_service_requests(service_request_id=f"{cases['closed']},{cases['posted']}")
    )
    assert {r["service_request_id"] for r in picked} == {cases["closed"], cases["posted"]}

    closed = as_list(client.get_service_requests(status="closed"))
    assert [r["service_request_id"] for r in closed] == [cases["closed"]]
    assert closed[0]["media_url"].startswith("http://127.0.0.1:")

    lights = as_list(client.get_service_requests(service_code="C0118"))
    assert [r["service_request_id"] for r in lights] == [cases["closed"]]

    dated = as_list(
        client.get_service_requests(
            start_date="2026-11-01T00:00:00Z", end_date="2026-11-30T00:00:00+08:00"
        )
    )
    assert len(dated) == 4


def test_every_read_conforms_in_xml_and_json_and_both_say_the_same(
    http: httpx.Client, cases: dict[str, str]
) -> None:
    spec.check_both(http, "discovery", spec.DISCOVERY)
    services = spec.check_both(http, "services", spec.SERVICES)
    for service in services[:5] + [s for s in services if s["service_code"] == "E0102"]:
        spec.check_both(http, f"services/{service['service_code']}", spec.DEFINITION)
    spec.check_both(http, "requests", spec.REQUESTS)
    spec.check_both(http, "requests", spec.REQUESTS, status="open", page_size="2")
    spec.check_both(http, "requests", spec.REQUESTS_EXTENDED, extensions="true")
    for code in cases.values():
        body = spec.check_both(http, f"requests/{code}", spec.REQUESTS)
        assert len(body) == 1
    spec.check_both(http, "servicerequestupdates", spec.UPDATES)


def test_discovery_names_both_formats_and_this_endpoint(
    http: httpx.Client, open311_url: str
) -> None:
    body = spec.check_both(http, "discovery", spec.DISCOVERY)
    (endpoint,) = body["endpoints"]
    assert endpoint["url"] == open311_url
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["changeset"] == body["changeset"]


def test_ids_codes_and_datetimes_are_strings_with_a_zone(
    http: httpx.Client, cases: dict[str, str]
) -> None:
    body = spec.check_json(http.get("requests.json"), spec.REQUESTS)
    for item in body:
        assert isinstance(item["service_request_id"], str)
        assert isinstance(item["service_code"], str)
        assert item["requested_datetime"].endswith("+08:00")
        assert isinstance(item["lat"], float)
        assert isinstance(item["long"], float)


def test_empty_arguments_count_as_absent(http: httpx.Client, cases: dict[str, str]) -> None:
    everything = spec.check_json(http.get("requests.json"), spec.REQUESTS)
    blank = spec.check_json(
        http.get(
            "requests.json",
            params={
                "service_request_id": "",
                "service_code": "",
                "status": "",
                "start_date": "",
                "end_date": "",
                "page": "",
                "page_size": "",
                "jurisdiction_id": "",
            },
        ),
        spec.REQUESTS,
    )
    assert blank == everything


def test_errors_use_the_spec_format_on_every_route(http: httpx.Client, api_key: str) -> None:
    cases = [
        ("get", "services/NOPE", 404, {}),
        ("get", "requests/NOPE", 404, {}),
        ("get", "tokens/NOPE", 404, {}),
        ("get", "nothing-here", 404, {}),
        ("get", "requests", 400, {"start_date": "yesterday"}),
        ("get", "requests", 400, {"status": "sleeping"}),
        ("get", "requests", 400, {"page_size": "0"}),
        ("post", "requests", 403, {"service_code": "E0102"}),
        ("post", "requests", 404, {"api_key": api_key, "service_code": "NOPE"}),
        ("post", "requests", 400, {"api_key": api_key, "service_code": "E0102"}),
        ("post", "servicerequestupdates", 403, {}),
        ("delete", "requests", 405, {}),
    ]
    for method, path, status, params in cases:
        for fmt in ("json", "xml"):
            url = f"{path}.{fmt}"
            if method == "get":
                response = http.get(url, params=params)
            elif method == "post":
                response = http.post(url, data=params)
            else:
                response = http.request(method.upper(), url)
            check = spec.check_json if fmt == "json" else spec.check_xml
            body = check(response, spec.ERRORS, status)
            assert body[0]["code"] == status, (method, url, body)
            assert body[0]["description"]


def test_an_unknown_jurisdiction_is_404_and_the_right_one_is_accepted(
    http: httpx.Client, session: Session, clock: FixedClock
) -> None:
    configure(session, clock, jurisdiction_id="xuchang.gov.cn")
    spec.check_json(
        http.get("services.json", params={"jurisdiction_id": "elsewhere.org"}), spec.ERRORS, 404
    )
    spec.check_json(
        http.get("services.json", params={"jurisdiction_id": "xuchang.gov.cn"}), spec.SERVICES
    )
    spec.check_json(http.get("services.json"), spec.SERVICES)  # one endpoint: optional


def test_unknown_format_is_a_404_document(http: httpx.Client) -> None:
    response = http.get("services.html")
    body = spec.check_xml(response, spec.ERRORS, 404)
    assert "format" in body[0]["description"]
