"""``GET /photos/{id}/findings``, ``GET /cases/{id}/evidence`` and ``rework_reason`` on check."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from duban.adapters.photostore import S3PhotoStore
from duban.app import create_app
from tests.factories.photochecks import crop, phone_jpeg, scene
from tests.factories.places import LAT, LON
from tests.fakes import FixedClock
from tests.http import API, Api, assert_error, make_settings
from tests.photochecks.conftest import s3_store

CHECKS = ["original", "time", "place", "reused", "same_scene"]


def _case_awaiting_check(api: Api) -> tuple[int, str, str]:
    before = api.photo("operator", phone_jpeg(scene("rocket"), gps=(LAT, LON)))
    case = api.given("handling", photo_ids=[before])
    after = api.photo("handler", phone_jpeg(crop(scene("rocket")), gps=(LAT, LON)))
    api.act(case["id"], "feedback", "handler", photo_ids=[after])
    return case["id"], before, after


def test_findings_of_a_feedback_photo_in_both_languages(api: Api) -> None:
    _, _, after = _case_awaiting_check(api)
    response = api.get(f"/photos/{after}/findings", "dispatcher")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["photo"] == after
    assert [f["check"] for f in body["findings"]] == CHECKS
    assert {f["result"] for f in body["findings"]} == {"pass"}
    assert all(f["detail"] for f in body["findings"])
    zh = api.client.get(
        f"/api/v1/photos/{after}/findings",
        headers={**api.headers("dispatcher"), "Accept-Language": "zh-CN"},
    ).json()
    assert "同一现场" in zh["findings"][-1]["detail"]


def test_a_photo_in_no_feedback_has_only_its_own_findings(api: Api) -> None:
    photo = api.photo("handler", phone_jpeg(scene("coffee"), software="Adobe Photoshop 25.0"))
    body = api.get(f"/photos/{photo}/findings", "handler").json()
    assert body["findings"][0] == {
        "check": "original",
        "result": "fail",
        "detail": "Saved by editing software (Adobe Photoshop 25.0).",
    }
    assert {f["result"] for f in body["findings"][1:]} == {"skipped"}


def test_findings_of_a_photo_the_caller_may_not_see_are_not_found(api: Api) -> None:
    photo = api.photo("handler", phone_jpeg(scene("coffee")))
    assert_error(api.get(f"/photos/{photo}/findings", "citizen"), 404)
    assert_error(api.get("/photos/no-such-photo/findings", "dispatcher"), 404)


def test_case_evidence_gives_the_verdict_and_the_before_photo(api: Api) -> None:
    case_id, before, after = _case_awaiting_check(api)
    response = api.get(f"/cases/{case_id}/evidence", "shift_lead")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "pass"
    assert [f["photo"] for f in body["feedback"]] == [after]
    assert body["feedback"][0]["before"] == before
    assert [f["check"] for f in body["feedback"][0]["findings"]] == CHECKS


def test_case_evidence_before_any_feedback_and_for_outsiders(api: Api) -> None:
    case = api.given("handling")
    assert api.get(f"/cases/{case['id']}/evidence", "dispatcher").json() == {
        "verdict": None,
        "suggested_rework_reason": None,
        "feedback": [],
    }
    assert_error(api.get(f"/cases/{case['id']}/evidence", "citizen"), 404)
    assert_error(api.get("/cases/999999/evidence", "dispatcher"), 404)


def test_check_takes_a_rework_reason_code(api: Api) -> None:
    case_id, _, _ = _case_awaiting_check(api)
    api.act(case_id, "assign", "operator", collector="collector")
    bad = api.act_raw(case_id, "check", "collector", passed=False, reason="x", rework_reason="lazy")
    assert_error(bad, 422)
    api.act(
        case_id,
        "check",
        "collector",
        passed=False,
        reason="角度不一致",
        rework_reason="wrong_angle",
    )
    events = api.case(case_id)["events"]
    assert events[-1]["payload"]["rework_reason"] == "wrong_angle"


def test_the_app_keeps_photos_in_s3_when_configured(
    db_url: str,
    tmp_path: Path,
    engine: Engine,
    clock: FixedClock,
    api: Api,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    s3_store(s3_endpoint, "city-photos")  # the bucket exists, as an operator would make it
    settings = make_settings(
        db_url,
        tmp_path / "s3",
        photo_s3_bucket="city-photos",
        photo_s3_endpoint=s3_endpoint,
        photo_s3_prefix="xuchang",
        photo_s3_region="us-east-1",
    )
    app = create_app(settings, engine=engine, clock=clock)
    assert isinstance(app.state.photo_store, S3PhotoStore)
    data = phone_jpeg(scene("coffee"))
    with TestClient(app) as client:
        response = client.post(
            f"{API}/photos",
            files={"file": ("p.heic", data, "application/octet-stream")},
            headers=api.headers("handler"),
        )
        assert response.status_code == 201, response.text
        photo = response.json()
        got = client.get(f"{API}/photos/{photo['id']}", headers=api.headers("handler"))
        assert got.content == data
        thumb = client.get(f"{API}/photos/{photo['id']}/thumbnail", headers=api.headers("handler"))
        assert thumb.headers["content-type"] == "image/jpeg"
    sha = photo["sha256"]
    keys = {
        o["Key"]
        for o in app.state.photo_store.client.list_objects_v2(Bucket="city-photos")["Contents"]
    }
    assert keys == {f"xuchang/{sha[:2]}/{sha}.jpg", f"xuchang/thumbs/{sha[:2]}/{sha}.jpg.jpg"}
    assert not (tmp_path / "s3" / "photos").exists()


def test_a_thumbnail_is_small_upright_and_private(api: Api) -> None:
    photo = api.photo("handler", phone_jpeg(scene("rocket")))
    response = api.get(f"/photos/{photo}/thumbnail", "handler")
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert max(image.size) == 320
    assert not image.getexif()
    assert_error(api.get(f"/photos/{photo}/thumbnail", "citizen"), 404)
