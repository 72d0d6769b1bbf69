"""FixMyStreet as a client of our server, replayed call by call (perllib/Open311.pm and its
scripts): XML only, jurisdiction_id on every call, api_key on every POST (and on its
update fetch), token polling, report and update fetching."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import httpx
from sqlalchemy.orm import Session

from duban.cases.workflow import CaseStatus
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.open311 import spec
from tests.open311.conftest import LAT, LON, configure

JURISDICTION = "xuchang.gov.cn"
FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_a_fixmystreet_round_trip_in_xml(
    http: httpx.Client, api_key: str, world: World, session: Session, clock: FixedClock
) -> None:
    configure(session, clock, jurisdiction_id=JURISDICTION, service_type="batch")
    j = {"jurisdiction_id": JURISDICTION}

    # bin/open311-populate-service-list: the list, then each definition with metadata.
    services = spec.check_xml(http.get("services.xml", params=j), spec.SERVICES)
    assert all(s["metadata"] in (True, False) for s in services)
    for service in [s for s in services if s["metadata"]][:3]:
        spec.check_xml(
            http.get(f"services/{service['service_code']}.xml", params=j), spec.DEFINITION
        )

    # bin/send-reports: a POST with the key in the body and photos as repeated media_url.
    body = [
        ("api_key", api_key),
        ("jurisdiction_id", JURISDICTION),
        ("service_code", "E0102"),
        ("lat", str(LAT)),
        ("long", str(LON)),
        ("description", "Rubbish at the gate"),
        ("email", "user@example.org"),
        ("first_name", "Sam"),
        ("last_name", "Lee"),
        ("media_url", "https://fms.example/p/1.jpeg"),
        ("media_url", "https://fms.example/p/2.jpeg"),
        ("attribute[fixmystreet_id]", "99"),
    ]
    response = http.post("requests.xml", content=urlencode(body).encode(), headers=FORM)
    (posted,) = spec.check_xml(response, spec.POSTED)
    token = posted["token"]

    # It then polls the token until an id comes back.
    (resolved,) = spec.check_xml(http.get(f"tokens/{token}.xml", params=j), spec.TOKEN)
    sid = resolved["service_request_id"]

    # Open311/GetServiceRequests.pm (fetch-reports): a dated window; it drops anything
    # without lat, long and service_request_id.
    window = {**j, "start_date": "2026-11-22T00:00:00Z", "end_date": "2026-11-24T00:00:00Z"}
    world.case_in(CaseStatus.HANDLING)
    fetched = spec.check_xml(http.get("requests.xml", params=window), spec.REQUESTS)
    assert all(r["lat"] is not None and r["long"] is not None for r in fetched)
    assert sid in {r["service_request_id"] for r in fetched}

    # bin/fetch-comments: updates in a window, with the api_key on the GET.
    updates = spec.check_xml(
        http.get("servicerequestupdates.xml", params={**window, "api_key": api_key}),
        spec.UPDATES,
    )
    assert {u["status"] for u in updates} <= set(spec.EXTENDED)

    # Pushing an update made on FixMyStreet (UPPER-case status, TRUE/FALSE flags).
    update = [
        ("api_key", api_key),
        ("jurisdiction_id", JURISDICTION),
        ("service_request_id", sid),
        ("update_id", "fms-update-1"),
        ("status", "IN_PROGRESS"),
        ("updated_datetime", "2026-11-23T10:30:00+00:00"),
        ("description", "Council is looking at it"),
        ("public_anonymity_required", "FALSE"),
        ("email_alerts_requested", "TRUE"),
        ("media_url", "https://fms.example/u/1.jpeg"),
    ]
    raw = http.post("servicerequestupdates.xml", content=urlencode(update).encode(), headers=FORM)
    (accepted,) = spec.check_xml(raw, spec.UPDATE_POSTED)
    root = ET.fromstring(raw.content)
    assert root.find("request_update/update_id") is not None
    listed = spec.check_xml(
        http.get("servicerequestupdates.xml", params={**window, "api_key": api_key}),
        spec.UPDATES,
    )
    assert accepted["update_id"] in {u["update_id"] for u in listed}

    # Every call named the jurisdiction; another one is unknown here.
    spec.check_xml(
        http.get("services.xml", params={"jurisdiction_id": "other.example"}), spec.ERRORS, 404
    )
