"""The case page shows the photo checks and the check form offers the rework reason."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories.photochecks import phone_jpeg, scene
from tests.factories.places import LAT, LON
from tests.http import Api
from tests.web.test_server import sign_in


def test_the_case_page_shows_findings_and_prefills_the_rework_reason(
    api: Api, app: FastAPI, client: TestClient
) -> None:
    before = api.photo("operator", phone_jpeg(scene("rocket"), gps=(LAT, LON)))
    case = api.given("handling", photo_ids=[before])
    after = api.photo("handler", phone_jpeg(scene("coffee"), gps=(LAT + 0.01, LON)))
    api.act(case["id"], "feedback", "handler", photo_ids=[after])
    api.act(case["id"], "assign", "operator", collector="collector")
    sign_in(client, app, api.world, "collector")
    html = client.get(f"/cases/{case['id']}", headers={"Accept-Language": "zh-CN"}).text
    assert 'data-verdict="fail"' in html
    assert "照片核验" in html
    assert "与问题照片不是同一现场" in html
    assert 'name="rework_reason"' in html
    assert '<option value="wrong_place" selected>' in html or (
        '<option value="wrong_angle" selected>' in html
    )
