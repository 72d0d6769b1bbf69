"""The public view (issue 17, item 8) in the browser, desktop and phone: the map and the
list of reports near a place, a report's public page (no personal data; the after-photo
served without EXIF, checked on the bytes with Pillow), the Atom feed read by a real XML
parser, and subscribing to an area: subscribe, confirm (the link of the confirmation
email), unsubscribe."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from playwright.sync_api import expect
from sqlalchemy import select

from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from duban.evidence.photos import save_photo
from duban.notify.models import Notification
from duban.publicview import confirmation_message
from duban.publicview.models import PublicSubscription
from duban.publicview.rules import ATOM_NS
from duban.publicview.subscriptions import unsubscribe_token
from tests.factories import cases
from tests.factories.campaigns import EAST, make_regions, place
from tests.factories.evidence import LIMITS, jpeg
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import SHANGHAI
from tests.http import SECRET
from tests.web.conftest import Browse, Shots

REPORTER = "张三丰"
PHONE = "13812345678"
NS = {"a": ATOM_NS}


def exif_photo(world: World, *, by: str, colour: tuple[int, int, int]) -> str:
    """A photo with what a phone writes: maker, owner and the GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "HUAWEI"
    exif[ExifTags.Base.Artist] = "Zhang Sanfeng"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (34.0, 1.0, 48.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (113.0, 49.0, 12.0)
    assert world.store is not None
    photo = save_photo(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        store=world.store,
        data=jpeg(colour, exif=exif),
        limits=LIMITS,
        tz=SHANGHAI,
    )
    return photo.id


def fixed_case(world: World) -> Case:
    """A closed case reported with a name, a phone (also typed into the description) and
    a before-photo, fixed with an after-photo; both photos carry EXIF."""
    before = exif_photo(world, by="operator", colour=(200, 30, 30))
    case = world.report(
        description=f"门口垃圾堆了三天，请联系{PHONE}",
        address="许昌市魏都区七一路 12 号",
        reporter_name=REPORTER,
        reporter_phone=PHONE,
        photo_ids=(before,),
    )
    n = iter(range(1, 10))
    return cases.drive(
        case,
        CaseStatus.CLOSED,
        act_as=lambda c, action, by, params: world.act(c, action, by, **params),
        photo=lambda: exif_photo(world, by="handler", colour=(30, 30 * next(n), 200)),
    )


def seeded(world: World) -> dict[str, Any]:
    make_regions(world.session)
    closed = place(world.session, fixed_case(world), EAST)
    world.clock.advance(minutes=10)
    open_ = place(world.session, world.case_in(CaseStatus.DISPATCHED), EAST)
    hidden = world.case_in(CaseStatus.REPORTED, category="E0101")
    world.session.commit()
    return {"closed": closed, "open": open_, "hidden": hidden}


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_public_map_list_and_report_page_show_no_personal_data(
    browse: Browse, world: World, shots: Shots, phone: bool
) -> None:
    made = seeded(world)
    page = browse.page(phone=phone)
    page.goto("/")
    page.click("#public-link a")
    page.fill("input[name=q]", "东大街")
    page.click("#place-form button[type=submit]")
    expect(page.locator("[data-area-name]")).to_have_text("东大街街道")
    the_map = page.locator("#public-map")
    expect(the_map).to_have_attribute("data-total", "2")
    expect(the_map).to_have_attribute("data-mode", "points")
    rows = page.locator(".public-rows li")
    expect(rows).to_have_count(2)
    # Newest first; the hidden category is nowhere.
    assert rows.nth(0).get_attribute("data-case") == made["open"].code
    assert made["hidden"].code not in page.content()
    shots.take(page, "list")
    # The feed the page links to (and announces in its head) is Atom of the same area.
    href = page.locator("[data-feed]").get_attribute("href")
    assert href == f"/public/feed.atom?region={EAST}"
    assert page.locator("link[rel=alternate][type='application/atom+xml']").count() == 1
    feed = ET.fromstring(page.request.get(href).body())
    entries = [e.findtext("a:id", namespaces=NS) or "" for e in feed.findall("a:entry", NS)]
    assert [i.rsplit(":", 1)[1] for i in entries] == [made["open"].code, made["closed"].code]
    page.select_option("select[name=status]", "closed")
    page.click("#public-list button[type=submit]")
    expect(rows).to_have_count(1)
    expect(the_map).to_have_attribute("data-total", "1")
    rows.first.locator("a").click()
    expect(page.locator("[data-case-code]")).to_have_text(made["closed"].code)
    html = page.content()
    assert REPORTER not in html
    assert PHONE not in html
    assert "138****5678" in html
    for username in world.users:
        assert f">{username}<" not in html
    assert world.unit.name in html  # the unit in charge is named, not its staff
    images = page.locator(".compare img")
    expect(images).to_have_count(2)
    for i in range(2):
        src = images.nth(i).get_attribute("src")
        assert src is not None
        assert src.startswith(f"/public/{made['closed'].code}/photos/")
        served = page.request.get(src)
        assert served.status == 200
        with Image.open(io.BytesIO(served.body())) as image:
            assert not image.getexif()
            assert "exif" not in image.info
        assert b"HUAWEI" not in served.body()
        assert b"Zhang" not in served.body()
    shots.take(page, "report")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_subscribe_confirm_and_unsubscribe_in_the_browser(
    browse: Browse, world: World, app: FastAPI, shots: Shots, phone: bool
) -> None:
    seeded(world)
    page = browse.page(phone=phone)
    page.goto(f"/public?region={EAST}")
    page.fill("#subscribe input[name=email]", "wang.wu@example.cn")
    page.click("#subscribe button[type=submit]")
    expect(page.locator("#subscribed")).to_contain_text("东大街街道")
    shots.take(page, "subscribed")
    with world.session_factory() as session:
        sub = session.scalars(select(PublicSubscription)).one()
        assert sub.confirmed_at is None
        email = confirmation_message(session, sub, secret=SECRET, base_url=browse.base)
        leave = unsubscribe_token(SECRET, sub)
        # The page queued the confirmation email in the outbox, with the subscription.
        (queued,) = session.scalars(
            select(Notification).where(Notification.address == "wang.wu@example.cn")
        ).all()
    assert email.recipient == "wang.wu@example.cn"
    assert "东大街街道" in email.subject
    assert queued.kind == "area_confirmation"
    assert queued.address == email.recipient
    assert queued.params["subject"] == email.subject
    assert queued.params["link"] == email.links["confirm"]
    assert email.links["confirm"] in queued.params["body"]
    page.goto(queued.params["link"])
    page.click("#confirm button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("订阅成功")
    page.goto(email.links["confirm"])
    expect(page.locator("[data-confirmed]")).to_be_visible()
    page.goto(f"/public/unsubscribe/{leave}")
    page.click("#unsubscribe button[type=submit]")
    expect(page.locator("[data-unsubscribed]")).to_be_visible()
    shots.take(page, "unsubscribed")
    with world.session_factory() as session:
        sub = session.scalars(select(PublicSubscription)).one()
        assert sub.confirmed_at is not None
        assert sub.unsubscribed_at is not None
    forged = page.request.get("/public/confirm/c.1.99.forged")  # a 404 page, not navigated
    assert forged.status == 404
    assert "此链接无效或已过期" in forged.text()


def test_the_feed_of_an_area_is_valid_atom(client: TestClient, world: World) -> None:
    made = seeded(world)
    response = client.get(f"/public/feed.atom?region={EAST}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{{{ATOM_NS}}}feed"
    assert root.findtext("a:title", namespaces=NS) == "东大街街道的问题上报"
    assert (root.findtext("a:id", namespaces=NS) or "").startswith("tag:")
    links = {link.get("rel"): link.get("href") for link in root.findall("a:link", NS)}
    assert links["self"] == f"http://testserver/public/feed.atom?region={EAST}"
    assert links["alternate"] == f"http://testserver/public?region={EAST}"
    entries = root.findall("a:entry", NS)
    assert len(entries) == 2
    ids = [e.findtext("a:id", namespaces=NS) for e in entries]
    assert len(set(ids)) == 2
    for entry, case in zip(entries, (made["open"], made["closed"]), strict=True):
        assert (entry.findtext("a:id", namespaces=NS) or "").endswith(f":case:{case.code}")
        link = entry.find("a:link", NS)
        assert link is not None
        assert link.get("href") == f"http://testserver/public/{case.code}"
        for tag in ("updated", "published"):
            text = entry.findtext(f"a:{tag}", namespaces=NS) or ""
            assert text.endswith("+08:00"), text
            assert datetime.fromisoformat(text).utcoffset() is not None
        assert REPORTER not in ET.tostring(entry, encoding="unicode")
    assert made["hidden"].code not in response.text
    # In English for an English reader; the whole city without an area.
    client.cookies.clear()
    english = client.get("/public/feed.atom", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    whole = ET.fromstring(english.content)
    assert len(whole.findall("a:entry", NS)) == 2  # E0101 is hidden
    assert client.get("/public/feed.atom?region=abc").status_code == 422


def test_a_bad_address_is_answered_in_place_and_requests_are_limited(
    client: TestClient, world: World
) -> None:
    from tests.web.test_server import csrf_of

    page = client.get(f"/public?lat={LAT}&lon={LON}")
    assert page.status_code == 200
    token = csrf_of(page.text)
    area = f"point:{LAT:.6f},{LON:.6f},1000"
    refused = client.post(
        "/public/subscribe", data={"csrf_token": token, "area": area, "email": "not-an-address"}
    )
    assert refused.status_code == 422
    assert "请填写电子邮箱地址" in refused.text
    bad_area = client.post(
        "/public/subscribe", data={"csrf_token": token, "area": "nowhere", "email": "a@b.cn"}
    )
    assert bad_area.status_code == 422
    statuses = [
        client.post(
            "/public/subscribe",
            data={"csrf_token": token, "area": area, "email": f"r{i}@example.cn"},
        ).status_code
        for i in range(40)
    ]
    assert 429 in statuses  # the anonymous budget of one IP address (30 an hour)
    with world.session_factory() as session:
        assert session.scalars(select(PublicSubscription)).all()
