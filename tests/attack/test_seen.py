"""Nothing seen that should not be (issue 12, item 6): nearby cases by visibility,
zone contacts for staff only, photos only their uploader may attach, no EXIF in public
copies, ``nosniff`` on every response."""

from __future__ import annotations

import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from shapely.geometry import Polygon
from sqlalchemy.orm import Session

from duban.cases.access import owns_photo, require_own_photos
from duban.cases.actions import NewCase
from duban.cases.workflow import Source
from duban.evidence.models import Photo
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.places.zones import save_zone
from duban.reference.policy import PlacesPolicy
from tests.factories.evidence import jpeg
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import API, Api

pytestmark = pytest.mark.attack

HERE = {"lat": 34.03, "lon": 113.82}


def test_nearby_shows_only_the_cases_the_caller_may_see(api: Api) -> None:
    others = api.report(by="operator")
    own = api.report(by="citizen", source="citizen")
    seen = api.get("/cases/nearby", "citizen", **HERE).json()
    assert [item["id"] for item in seen["items"]] == [own["id"]]
    assert seen["others"] == 1
    stranger = api.get("/cases/nearby", "citizen2", **HERE).json()
    assert stranger["items"] == []
    assert stranger["others"] == 2
    staff = api.get("/cases/nearby", "dispatcher", **HERE).json()
    assert {item["id"] for item in staff["items"]} == {others["id"], own["id"]}
    assert staff["others"] == 0
    handler = api.get("/cases/nearby", "handler2", **HERE).json()  # no case in its unit
    assert handler["items"] == []


def test_zone_contacts_are_for_staff_only(api: Api, session: Session, clock: FixedClock) -> None:
    square = Polygon([(113.81, 34.02), (113.83, 34.02), (113.83, 34.04), (113.81, 34.04)])
    save_zone(
        session,
        kind="shopfront",
        code="SF-1",
        name="门前三包 1",
        geometry=square,
        now=clock.now(),
        policy=PlacesPolicy(),
        person_name="张三",
        person_phone="13800000000",
    )
    session.commit()
    for who, shown in (("citizen", False), ("dispatcher", True), ("handler", True)):
        response = api.get("/zones", who)
        assert response.status_code == 200, response.text
        text = response.text
        assert ("13800000000" in text) is shown, who
        assert ("张三" in text) is shown, who


def test_a_report_attaches_only_its_authors_photos(api: Api) -> None:
    someone_elses = api.photo("collector")
    refused = api.create(by="operator", photo_ids=[someone_elses])
    assert refused.status_code == 422
    assert "unknown photo" in refused.json()["error"]["message"]
    own = api.photo("operator")
    assert api.create(by="operator", photo_ids=[own]).status_code == 201


def test_an_anonymous_report_attaches_only_its_own_uploads(api: Api, app: FastAPI) -> None:
    someone_elses = api.photo("collector")
    client = TestClient(app)
    token = client.get("/report").text.split('name="csrf_token" value="')[1].split('"')[0]
    data = {
        "csrf_token": token,
        "category": "E0102",
        "description": "门口有垃圾",
        "confirm": "1",
        "photo_id": someone_elses,
        **{k: str(v) for k, v in HERE.items()},
    }
    assert client.post("/report", data=data, follow_redirects=False).status_code == 422


def test_whose_photo_is_whose() -> None:
    mine = Photo(id="p1", uploaded_by_id=7)
    anonymous = Photo(id="p2", uploaded_by_id=None)
    user = Actor(user_id=7, username="u", role=Role.CITIZEN)
    stranger = Actor(user_id=None, username="public", role=Role.CITIZEN)
    browser = Actor(user_id=None, username="public", role=Role.CITIZEN, uploads=frozenset({"p2"}))
    assert owns_photo(user, mine)
    assert not owns_photo(user, anonymous)
    assert not owns_photo(stranger, anonymous)
    assert owns_photo(browser, anonymous)
    assert not owns_photo(browser, mine)
    with pytest.raises(InvalidInput, match="unknown photo"):
        require_own_photos(stranger, [anonymous])


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Artist] = "Li Si"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (34.0, 1.0, 48.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (113.0, 49.0, 12.0)
    return jpeg(size=(80, 60), exif=exif)


def test_public_copies_of_photos_carry_no_exif(api: Api, app: FastAPI) -> None:
    photo = api.photo("operator", _jpeg_with_gps())
    api.report(by="operator", photo_ids=[photo])
    original = api.client.get(f"{API}/photos/{photo}", headers=api.headers("operator"))
    assert b"PhoneMaker" in original.content  # the evidence keeps it for staff
    public = api.client.get(f"/open311/v2/media/{photo}")
    assert public.status_code == 200
    assert public.headers["content-type"] == "image/jpeg"
    for data in (public.content, api.client.get(f"/open311/v2/media/{photo}").content):
        assert b"PhoneMaker" not in data
        assert b"Li Si" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif()
            assert image.size == (80, 60)
    store = app.state.photo_store
    kept = [p for p in store.root.rglob("*") if p.is_file() and "public" in p.parts]
    assert len(kept) == 1  # made once, kept


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/readyz", f"{API}/openapi.json", "/", "/nowhere", "/open311/v2/services.json"],
)
def test_every_response_says_nosniff(client: TestClient, path: str) -> None:
    assert client.get(path).headers["x-content-type-options"] == "nosniff"


def test_the_public_tracking_page_serves_its_photos_without_exif(
    api: Api, client: TestClient, world: World
) -> None:
    """Issue 16: EXIF (device, GPS, time) stays for staff and leaves every public copy: the
    photos of the tracking page (the reporter's and the unit's after-photo) too."""
    from duban.cases.public import report_as_citizen
    from duban.cases.workflow import CaseStatus
    from tests.factories import cases as case_factory

    before = api.photo("citizen", _jpeg_with_gps())
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        actor=world.actor("citizen"),
        data=NewCase(
            source=Source.CITIZEN,
            category_code="E0102",
            lat=34.03,
            lon=113.82,
            description="门口垃圾",
            photo_ids=[before],
        ),
    )
    after = api.photo("handler", _jpeg_with_gps())
    case = case_factory.drive(
        receipt.case,
        CaseStatus.AWAITING_CHECK,
        act_as=lambda c, action, by, params: world.act(c, action, by, **params),
        photo=lambda: after,
    )
    assert receipt.tracking_code
    page = client.get(f"/track/{receipt.tracking_code}").text
    for photo in (before, after):
        assert f"/track/{receipt.tracking_code}/photos/{photo}" in page
        served = client.get(f"/track/{receipt.tracking_code}/photos/{photo}")
        assert served.status_code == 200
        assert b"PhoneMaker" not in served.content
        assert b"Li Si" not in served.content
        with Image.open(io.BytesIO(served.content)) as image:
            assert not image.getexif()
    staff = api.client.get(f"{API}/photos/{after}", headers=api.headers("dispatcher"))
    assert b"PhoneMaker" in staff.content  # kept for staff
    assert case.status == CaseStatus.AWAITING_CHECK
