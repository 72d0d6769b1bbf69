"""The public view over a real database: which cases are public (policy data), the list by
area with keyset pages, the feed's rows, and subscriptions from asking to the messages the
outbox will send (confirmation and alerts, both languages)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from duban.kernel.errors import InvalidInput, NotFound
from duban.publicview import confirmation_message, listing, subscriber_messages
from duban.publicview.listing import (
    PublicFilter,
    list_public,
    newest,
    public_case,
    public_map,
)
from duban.publicview.models import PublicSubscription
from duban.publicview.policy import public_policy
from duban.publicview.rules import parse_area
from duban.publicview.subscriptions import (
    confirm_subscription,
    confirm_token,
    subscribe,
    unsubscribe,
    unsubscribe_token,
)
from tests.factories.campaigns import DISTRICT, EAST, WEST, make_regions, place
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import SHANGHAI

SECRET = "test-secret-for-links-0123456789"
BASE = "https://duban.example.cn"


def _codes(page: object) -> list[str]:
    return [r.code for r in page.rows]  # type: ignore[attr-defined]


def test_hidden_categories_voided_and_duplicate_cases_are_not_public(world: World) -> None:
    policy = public_policy()
    shown = world.case_in(CaseStatus.DISPATCHED)
    hidden_category = world.case_in(CaseStatus.REPORTED, category="E0101")
    voided = world.case_in(CaseStatus.FILED)
    world.act(voided, "void", "shift_lead", reason="不属实")
    duplicate = world.case_in(CaseStatus.FILED)
    world.session.execute(
        update(Case).where(Case.id == duplicate.id).values(duplicate_of_id=shown.id)
    )
    world.session.commit()
    assert "E0101" in policy.hidden_categories
    codes = _codes(list_public(world.session, policy=policy, area=None, filters=PublicFilter()))
    assert codes == [shown.code]
    for case in (hidden_category, voided, duplicate):
        assert public_case(world.session, policy=policy, case_code=case.code) is None
    assert public_case(world.session, policy=policy, case_code=shown.code) is not None


def test_the_list_is_newest_first_in_keyset_pages_and_filtered(world: World) -> None:
    made = []
    for _ in range(5):
        made.append(world.case_in(CaseStatus.REPORTED))
        world.clock.advance(minutes=5)
    closed = world.case_in(CaseStatus.CLOSED)
    policy = public_policy()
    seen: list[str] = []
    cursor = ""
    while True:
        page = list_public(
            world.session, policy=policy, area=None, filters=PublicFilter(), cursor=cursor, limit=2
        )
        seen += _codes(page)
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == [closed.code, *[c.code for c in reversed(made)]]
    only_closed = list_public(
        world.session, policy=policy, area=None, filters=PublicFilter(status="closed")
    )
    assert _codes(only_closed) == [closed.code]
    other_class = list_public(
        world.session, policy=policy, area=None, filters=PublicFilter(category="A01")
    )
    assert _codes(other_class) == []


def test_an_area_narrows_the_list_by_region_box_or_distance(world: World) -> None:
    make_regions(world.session)
    east = place(world.session, world.case_in(CaseStatus.REPORTED), EAST)
    west = place(world.session, world.case_in(CaseStatus.REPORTED), WEST)
    far = world.case_in(CaseStatus.REPORTED, lat=LAT + 0.1, lon=LON)  # outside the streets
    policy = public_policy()

    def codes(spec: str) -> set[str]:
        page = list_public(
            world.session, policy=policy, area=parse_area(spec), filters=PublicFilter()
        )
        return set(_codes(page))

    assert codes(f"region:{EAST}") == {east.code}
    assert codes(f"region:{DISTRICT}") == {east.code, west.code}
    assert codes(f"point:{LAT},{LON},1000") == {east.code, west.code}
    assert codes(f"bbox:{LON - 0.01},{LAT + 0.09},{LON + 0.01},{LAT + 0.11}") == {far.code}
    rows = newest(world.session, policy=policy, area=parse_area(f"region:{WEST}"), limit=5)
    assert [r.code for r in rows] == [west.code]
    box = parse_area(f"bbox:{LON - 1},{LAT - 1},{LON + 1},{LAT + 1}")
    points = public_map(world.session, policy=policy, box=box, zoom=16, filters=PublicFilter())
    assert points["mode"] == "points"
    assert points["total"] == 3
    assert {p[0] for p in points["points"]} == {east.code, west.code, far.code}
    # Places are rounded: where a case is, not whose door.
    assert all(round(p[1], 3) == p[1] for p in points["points"])


def test_a_crowded_place_lists_the_same_reports_walked_newest_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [world.case_in(CaseStatus.REPORTED, lat=LAT + i * 0.0005, lon=LON) for i in range(7)]
    made.append(world.case_in(CaseStatus.REPORTED, lat=LAT + 0.1, lon=LON))  # far away
    policy = public_policy()

    def pages(spec: str) -> list[list[str]]:
        out, cursor = [], ""
        while True:
            page = list_public(
                world.session,
                policy=policy,
                area=parse_area(spec),
                filters=PublicFilter(),
                cursor=cursor,
                limit=3,
            )
            out.append(_codes(page))
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    sparse = pages(f"point:{LAT},{LON},1000")
    monkeypatch.setattr(listing, "CROWDED", 1)  # every box is crowded: walked newest first
    crowded = pages(f"point:{LAT},{LON},1000")
    assert crowded == sparse
    assert sorted(code for page in sparse for code in page) == sorted(c.code for c in made[:7])


def test_subscribing_confirming_and_unsubscribing(world: World) -> None:
    make_regions(world.session)
    area = parse_area(f"region:{EAST}")
    message = subscribe(
        world.session,
        clock=world.clock,
        email="Li.Si@Example.CN",
        area=area,
        lang="zh",
        secret=SECRET,
        base_url=BASE,
    )
    assert message.recipient == "Li.Si@example.cn"
    assert message.subject == "请确认订阅：东大街街道的问题上报"
    assert "东大街街道新上报问题的通知" in message.body
    assert f"{BASE}/public/confirm/" in message.body
    assert message.links["confirm"] in message.body
    # Asked twice: one subscription, the same link.
    again = subscribe(
        world.session,
        clock=world.clock,
        email="li.si@example.cn".replace("li.si", "Li.Si"),
        area=area,
        lang="zh",
        secret=SECRET,
        base_url=BASE,
    )
    assert again.links == message.links
    assert world.session.query(PublicSubscription).count() == 1
    sub = world.session.query(PublicSubscription).one()
    assert sub.confirmed_at is None

    case = place(world.session, world.case_in(CaseStatus.REPORTED), EAST)
    assert subscriber_messages(world.session, case_id=case.id, secret=SECRET, base_url=BASE) == []

    token = message.links["confirm"].rsplit("/", 1)[1]
    confirm_subscription(world.session, clock=world.clock, secret=SECRET, token=token)
    alerts = subscriber_messages(world.session, case_id=case.id, secret=SECRET, base_url=BASE)
    assert [a.recipient for a in alerts] == ["Li.Si@example.cn"]
    alert = alerts[0]
    assert alert.subject.startswith("东大街街道有新上报问题：")
    assert f"{BASE}/public/{case.code}" in alert.body
    assert alert.links["unsubscribe"] in alert.body
    assert "小区门口暴露垃圾" not in alert.body  # the description stays on the page
    # Shown in the city's time: the case was made at the fixed clock's moment.
    assert case.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in alert.body

    # Not in the area: nobody is told.
    other = place(world.session, world.case_in(CaseStatus.REPORTED), WEST)
    assert subscriber_messages(world.session, case_id=other.id, secret=SECRET, base_url=BASE) == []

    unsubscribe(
        world.session,
        clock=world.clock,
        secret=SECRET,
        token=alert.links["unsubscribe"].rsplit("/", 1)[1],
    )
    assert subscriber_messages(world.session, case_id=case.id, secret=SECRET, base_url=BASE) == []


def test_the_emails_are_in_the_subscribers_language(world: World) -> None:
    area = parse_area(f"point:{LAT},{LON},800")
    message = subscribe(
        world.session,
        clock=world.clock,
        email="reader@example.org",
        area=area,
        lang="en",
        secret=SECRET,
        base_url=BASE,
    )
    assert (
        message.subject
        == "Confirm your subscription: reports in within 800 m of the place you chose"
    )
    assert message.body.startswith("Hello,\n\nsomeone (we hope you) asked")
    sub = world.session.query(PublicSubscription).one()
    assert confirmation_message(world.session, sub, secret=SECRET, base_url=BASE) == message
    confirm_subscription(
        world.session, clock=world.clock, secret=SECRET, token=confirm_token(SECRET, sub)
    )
    case = world.case_in(CaseStatus.REPORTED, lat=LAT + 0.003, lon=LON)  # ~330 m away
    alerts = subscriber_messages(world.session, case_id=case.id, secret=SECRET, base_url=BASE)
    assert len(alerts) == 1
    assert "A new problem was reported in" in alerts[0].body
    assert "Reported" in alerts[0].body
    far = world.case_in(CaseStatus.REPORTED, lat=LAT + 0.01, lon=LON)  # ~1.1 km away
    assert subscriber_messages(world.session, case_id=far.id, secret=SECRET, base_url=BASE) == []
    # A hidden category tells nobody.
    hidden = world.case_in(CaseStatus.REPORTED, category="E0101")
    assert subscriber_messages(world.session, case_id=hidden.id, secret=SECRET, base_url=BASE) == []


def test_bad_addresses_and_links_are_refused(world: World) -> None:
    area = parse_area(f"point:{LAT},{LON},800")
    with pytest.raises(InvalidInput):
        subscribe(
            world.session,
            clock=world.clock,
            email="nobody",
            area=area,
            lang="zh",
            secret=SECRET,
            base_url=BASE,
        )
    subscribe(
        world.session,
        clock=world.clock,
        email="a@example.org",
        area=area,
        lang="zh",
        secret=SECRET,
        base_url=BASE,
    )
    sub = world.session.query(PublicSubscription).one()
    with pytest.raises(NotFound):
        confirm_subscription(world.session, clock=world.clock, secret="x", token="c.1.2.abc")
    with pytest.raises(NotFound):  # an unsubscribe link does not confirm
        confirm_subscription(
            world.session, clock=world.clock, secret=SECRET, token=unsubscribe_token(SECRET, sub)
        )
    world.clock.advance(days=public_policy().confirm_valid_days + 1)
    with pytest.raises(NotFound):  # expired
        confirm_subscription(
            world.session, clock=world.clock, secret=SECRET, token=confirm_token(SECRET, sub)
        )
    assert world.session.get(PublicSubscription, sub.id).confirmed_at is None  # type: ignore[union-attr]


def test_the_map_counts_per_cell_when_zoomed_out_over_many_reports(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duban.publicview import listing

    monkeypatch.setattr(listing, "POINTS_ALWAYS", 1)  # "many": more than one
    for dlat in (0.0, 0.001, 0.3):
        world.case_in(CaseStatus.REPORTED, lat=LAT + dlat, lon=LON)
    world.case_in(CaseStatus.REPORTED, category="E0101")  # hidden: not counted
    box = parse_area(f"bbox:{LON - 1},{LAT - 1},{LON + 1},{LAT + 1}")
    cells = public_map(
        world.session, policy=public_policy(), box=box, zoom=10, filters=PublicFilter()
    )
    assert cells["mode"] == "cells"
    assert cells["total"] == 3
    assert sorted(c[2] for c in cells["cells"]) == [1, 2]
