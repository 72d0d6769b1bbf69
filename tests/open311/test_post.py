"""POST requests: keys, locations, attributes, media, tokens — and FixMyStreet's requests."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.audit import verify_chain
from duban.cases.models import Case, CaseEvent, CasePhoto
from duban.cases.workflow import CaseStatus, Source
from duban.open311.apikeys import revoke_api_key
from duban.open311.models import Open311Request
from tests.factories.evidence import jpeg
from tests.fakes import FixedClock
from tests.open311 import spec
from tests.open311.conftest import LAT, LON, configure, new_request

FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def fresh_case(factory: sessionmaker[Session], code: str) -> Case:
    with factory() as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        session.expunge(case)
        return case


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_post_creates_a_real_case_through_the_report_use_case(
    http: httpx.Client, api_key: str, fmt: str, session_factory: sessionmaker[Session]
) -> None:
    response = http.post(
        f"requests.{fmt}",
        data={
            "api_key": api_key,
            "service_code": "E0102",
            "lat": str(LAT),
            "long": str(LON),
            "address_string": "许昌市魏都区西大街 12 号",
            "description": "小区门口暴露垃圾，已经两天了",
            "attribute[condition]": "E010201",
            "attribute[quantity]": "3",
        },
    )
    check = spec.check_json if fmt == "json" else spec.check_xml
    (item,) = check(response, spec.POSTED)
    code = item["service_request_id"]
    assert code in item["service_notice"]
    case = fresh_case(session_factory, code)
    assert case.status == CaseStatus.REPORTED  # a citizen report waits for 核实
    assert case.source == Source.CITIZEN
    assert case.category_code == "E0102"
    assert case.condition_code == "E010201"
    assert case.address == "许昌市魏都区西大街 12 号"
    assert case.step == "verify"
    assert case.step_due_at is not None
    with session_factory() as s:
        (event,) = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
        assert event.action == "report"
        assert event.actor_role == "operator"
        assert verify_chain(s).ok
        link = s.get(Open311Request, case.id)
        assert link is not None
        assert link.attributes == {"condition": "E010201", "quantity": "3"}
    got = spec.check_json(http.get(f"requests/{code}.json"), spec.REQUESTS)
    assert got[0]["address"] == "许昌市魏都区西大街 12 号"
    assert got[0]["status"] == "open"


def test_the_api_key_is_required_hashed_and_revocable(
    http: httpx.Client, api_key: str, session: Session, clock: FixedClock
) -> None:
    base = {"service_code": "E0102", "lat": str(LAT), "long": str(LON), "description": "x"}
    for data in (base, {**base, "api_key": "o311_wrong"}, {**base, "api_key": ""}):
        body = spec.check_json(http.post("requests.json", data=data), spec.ERRORS, 403)
        assert body[0]["code"] == 403
    spec.check_json(http.post("requests.json", data={**base, "api_key": api_key}), spec.POSTED)
    # Old clients (open311 1.1 on PyPI, FixMyStreet's GET) send it in the query string.
    spec.check_json(http.post("requests.json", params={"api_key": api_key}, data=base), spec.POSTED)
    revoke_api_key(session, name="fixmystreet", clock=clock)
    body = spec.check_json(
        http.post("requests.json", data={**base, "api_key": api_key}), spec.ERRORS, 403
    )
    assert "revoked" in body[0]["description"]


def test_nothing_is_stored_when_a_post_is_refused(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    bad = [
        ({"service_code": "E0102", "lat": "34", "long": "113"}, 403),
        ({"api_key": api_key, "service_code": "NOPE", "lat": "34", "long": "113"}, 404),
        ({"api_key": api_key, "service_code": "E0102"}, 400),  # no location
        ({"api_key": api_key, "service_code": "E0102", "lat": "34"}, 400),  # lat alone
        ({"api_key": api_key, "service_code": "E0102", "lat": "95", "long": "113"}, 400),
        ({"api_key": api_key, "lat": "34", "long": "113"}, 400),  # no service_code
        (
            {
                "api_key": api_key,
                "service_code": "E0102",
                "lat": "34",
                "long": "113",
                "description": "x" * 5001,  # the one limit, on every face
            },
            400,
        ),
        (
            {
                "api_key": api_key,
                "service_code": "E0102",
                "lat": "34",
                "long": "113",
                "media_url": "javascript:alert(1)",
            },
            400,
        ),
    ]
    for data, status in bad:
        spec.check_json(
            http.post(
                "requests.json", data=data, files={"photo1": ("p.jpg", jpeg(), "image/jpeg")}
            ),
            spec.ERRORS,
            status,
        )
    assert count(session_factory, Case) == 0
    from duban.evidence.models import Photo

    assert count(session_factory, Photo) == 0


def test_required_attributes_and_datatypes_are_checked_against_the_definition(
    http: httpx.Client, api_key: str, session: Session, clock: FixedClock
) -> None:
    configure(
        session,
        clock,
        attributes=[
            {"code": "size", "datatype": "number", "description": "size", "required": True},
            {"code": "seen", "datatype": "datetime", "description": "when"},
            {
                "code": "kind",
                "datatype": "singlevaluelist",
                "description": "which",
                "required": True,
                "values": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}],
            },
            {
                "code": "tags",
                "datatype": "multivaluelist",
                "description": "tags",
                "values": [{"key": "x", "name": "X"}, {"key": "y", "name": "Y"}],
            },
        ],
    )
    base = {"api_key": api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LON)}
    body = spec.check_json(http.post("requests.json", data=base), spec.ERRORS, 400)
    texts = " ".join(e["description"] for e in body)
    assert len(body) == 2
    assert "attribute[size]" in texts
    assert "attribute[kind]" in texts
    wrong = {
        **base,
        "attribute[size]": "big",
        "attribute[kind]": "c",
        "attribute[seen]": "last week",
        "attribute[tags][]": ["x", "z"],
    }
    body = spec.check_json(http.post("requests.json", data=wrong), spec.ERRORS, 400)
    assert len(body) == 4
    good = {
        **base,
        "attribute[size]": "2.5",
        "attribute[kind]": "b",
        "attribute[seen]": "2026-11-22T18:00:00+08:00",
        "attribute[tags][]": ["x", "y"],
    }
    spec.check_json(http.post("requests.json", data=good), spec.POSTED)


def test_fixmystreet_shaped_requests_are_accepted(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    """A body as FixMyStreet's perllib/Open311.pm sends it: XML, jurisdiction_id on every
    call, api_key in the query string, repeated media_url, attribute[x][] lists, its
    server-set attributes, and address_id=#NOTPINPOINTED# for an unpinned report."""
    pairs = [
        ("jurisdiction_id", "xuchang.gov.cn"),
        ("service_code", "E0102"),
        ("lat", str(LAT)),
        ("long", str(LON)),
        ("address_string", "西大街与七一路交叉口"),
        ("address_id", "#NOTPINPOINTED#"),
        ("description", "Rubbish piled at the gate\n\nReported via FixMyStreet"),
        ("email", "fms-user@example.org"),
        ("first_name", "Alex"),
        ("last_name", "Doe"),
        ("phone", "+44 7700 900000"),
        ("media_url", "https://fms.example/photo/1.full.jpeg"),
        ("media_url", "https://fms.example/photo/2.full.jpeg"),
        ("attribute[hazards][]", "traffic"),
        ("attribute[hazards][]", "pollution"),
        ("attribute[fixmystreet_id]", "4242"),
        ("attribute[uprn]", "100023336956"),
        ("attribute[easting]", "530000"),
    ]
    response = http.post(
        "requests.xml?" + urlencode({"api_key": api_key}),
        content=urlencode(pairs).encode(),
        headers=FORM,
    )
    (item,) = spec.check_xml(response, spec.POSTED)
    code = item["service_request_id"]
    with session_factory() as s:
        case = s.scalars(select(Case).where(Case.code == code)).one()
        link = s.get(Open311Request, case.id)
        assert link is not None
        assert link.media_urls == [
            "https://fms.example/photo/1.full.jpeg",
            "https://fms.example/photo/2.full.jpeg",
        ]
        assert link.attributes["hazards"] == ["traffic", "pollution"]
        assert link.attributes["fixmystreet_id"] == "4242"
        assert link.attributes["uprn"] == "100023336956"  # unknown codes are kept
        assert link.address_id == "#NOTPINPOINTED#"
        assert link.is_pinpointed is False
        assert case.reporter_name == "Doe Alex"
    (got,) = spec.check_xml(http.get(f"requests/{code}.xml"), spec.REQUESTS)
    assert got["address_id"] == "#NOTPINPOINTED#"
    assert got["lat"] is None
    assert got["long"] is None
    assert got["media_url"] == "https://fms.example/photo/1.full.jpeg"


def test_multipart_photos_become_the_cases_before_photos(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session], open311_url: str
) -> None:
    response = http.post(
        "requests.json",
        data={"api_key": api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LON)},
        files=[
            ("photo1", ("a.jpg", jpeg((10, 10, 10)), "image/jpeg")),
            ("media[]", ("b.jpg", jpeg((90, 90, 90)), "image/jpeg")),
        ],
    )
    (item,) = spec.check_json(response, spec.POSTED)
    with session_factory() as s:
        case = s.scalars(select(Case).where(Case.code == item["service_request_id"])).one()
        stages = s.scalars(select(CasePhoto.stage).where(CasePhoto.case_id == case.id)).all()
        assert stages == ["before", "before"]
    (got,) = spec.check_json(http.get(f"requests/{item['service_request_id']}.json"), spec.REQUESTS)
    assert got["media_url"].startswith(open311_url + "/media/")
    photo = httpx.get(got["media_url"])
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    bad = http.post(
        "requests.json",
        data={"api_key": api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LON)},
        files=[("photo1", ("a.jpg", b"not an image", "image/jpeg"))],
    )
    spec.check_json(bad, spec.ERRORS, 400)


def test_gcj02_coordinates_from_chinese_map_apps_are_converted(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    pytest.importorskip("duban.places.coords")
    code = new_request(http, api_key, lat="34.0286", long="113.8261", crs="gcj02")
    case = fresh_case(session_factory, code)
    assert abs(case.lat - 34.0286) > 1e-4  # moved by the GCJ-02 offset (a few hundred m)
    assert abs(case.lat - 34.0286) < 0.01
    assert abs(case.lon - 113.8261) < 0.01


def test_an_address_alone_needs_a_fallback_point(
    http: httpx.Client, api_key: str, session: Session, clock: FixedClock
) -> None:
    data = {"api_key": api_key, "service_code": "E0102", "address_string": "西大街 12 号"}
    body = spec.check_json(http.post("requests.json", data=data), spec.ERRORS, 400)
    assert "lat" in body[0]["description"]
    configure(session, clock, fallback_point=[34.0297, 113.8166])
    (item,) = spec.check_json(http.post("requests.json", data=data), spec.POSTED)
    (got,) = spec.check_json(http.get(f"requests/{item['service_request_id']}.json"), spec.REQUESTS)
    assert got["address"] == "西大街 12 号"
    assert got["lat"] is None  # not pinpointed: no point is claimed


def test_batch_services_answer_with_a_token_that_resolves_to_the_id(
    http: httpx.Client, api_key: str, session: Session, clock: FixedClock
) -> None:
    configure(session, clock, service_type="batch")
    services = spec.check_json(http.get("services.json"), spec.SERVICES)
    assert {s["type"] for s in services} == {"batch"}
    data = {"api_key": api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LON)}
    for fmt in ("json", "xml"):
        check = spec.check_json if fmt == "json" else spec.check_xml
        (item,) = check(http.post(f"requests.{fmt}", data=data), spec.POSTED)
        assert "service_request_id" not in item
        token = item["token"]
        for answer_fmt in ("json", "xml"):
            answer = spec.check_json if answer_fmt == "json" else spec.check_xml
            (resolved,) = answer(http.get(f"tokens/{token}.{answer_fmt}"), spec.TOKEN)
            assert resolved["token"] == token
            assert resolved["service_request_id"]


def test_no_reporter_contact_details_in_any_public_response(
    http: httpx.Client, api_key: str, open311_url: str
) -> None:
    secrets = ["fms-user@example.org", "7700 900000", "Alex", "Doe", "device-77", "acct-9"]
    code = new_request(
        http,
        api_key,
        email=secrets[0],
        phone="+44 " + secrets[1],
        first_name=secrets[2],
        last_name=secrets[3],
        device_id=secrets[4],
        account_id=secrets[5],
    )
    http.post(
        "servicerequestupdates.json",
        data={
            "api_key": api_key,
            "service_request_id": code,
            "update_id": "u1",
            "status": "OPEN",
            "updated_datetime": "2026-11-23T10:00:00+08:00",
            "description": "still there",
            "email": secrets[0],
            "first_name": secrets[2],
        },
    )
    bodies = []
    for fmt in ("json", "xml"):
        for path in (
            "requests",
            f"requests/{code}",
            "servicerequestupdates",
        ):
            for params in ({}, {"extensions": "true"}):
                response = http.get(f"{path}.{fmt}", params=params)
                assert response.status_code == 200
                bodies.append(response.text)
    text = "\n".join(bodies)
    for secret in secrets[:5]:
        assert secret not in text
    assert code in text
    # account_id is the client's own id for its user: it is echoed only to the poster.
    assert json.dumps(secrets[5]) not in "\n".join(bodies[:2])


@pytest.mark.parametrize("field", ["description", "email", "first_name", "address_string"])
def test_a_control_character_in_any_field_is_refused_and_nothing_is_stored(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session], field: str
) -> None:
    """Open311 answers every bad argument with its 400 (the specification's code)."""
    data = {"api_key": api_key, "service_code": "E0102", "lat": str(LAT), "long": str(LON)}
    data[field] = "井盖\x00缺失"
    response = http.post(
        "requests.json", data=data, files={"photo1": ("p.jpg", jpeg(), "image/jpeg")}
    )
    spec.check_json(response, spec.ERRORS, 400)
    assert "control character" in response.text
    assert count(session_factory, Case) == 0
    from duban.evidence.models import Photo

    assert count(session_factory, Photo) == 0


def test_a_control_character_in_a_query_parameter_is_refused(
    http: httpx.Client, api_key: str
) -> None:
    response = http.get("requests.json", params={"service_code": "E01\x00"})
    spec.check_json(response, spec.ERRORS, 400)


def test_a_description_takes_the_one_limit_of_every_face(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    """5,000 characters, as the API and the pages take (Open311's specification says
    4,000; a longer limit refuses no conforming client)."""
    new_request(http, api_key, description="长" * 5000)
    assert count(session_factory, Case) == 1
