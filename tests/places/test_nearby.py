"""Nearby cases: possible duplicates within a radius and a time window, used by merge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from duban.cases.nearby import distance_m, nearby_cases
from duban.cases.workflow import Action, CaseStatus
from duban.kernel.errors import InvalidInput
from duban.reference.policy import load_policy
from tests.places.conftest import Api, City, error_of, lonlat


def at(x: float, y: float) -> dict[str, float]:
    lon, lat = lonlat(x, y)
    return {"lat": lat, "lon": lon}


def search(city: City, x: float = 0, y: float = 0, **kw: object) -> list[tuple[str, float]]:
    lon, lat = lonlat(x, y)
    found = nearby_cases(
        city.session,
        lat=lat,
        lon=lon,
        now=city.clock.now(),
        policy=load_policy(city.session).places.nearby,
        **kw,  # type: ignore[arg-type]
    )
    return [(item.case.code, round(item.distance_m)) for item in found.items]


def test_distance_is_metres_on_the_ground() -> None:
    a, b = lonlat(0, 0), lonlat(300, 400)
    assert distance_m(a[1], a[0], b[1], b[0]) == pytest.approx(500, abs=1.0)


def test_open_cases_within_250_m_nearest_first_at_most_five(city: City) -> None:
    city.build()
    codes = {}
    for d in (240, 30, 100, 150, 200, 60, 260):
        codes[d] = city.report(**at(d, 0)).code
    found = search(city)
    assert [distance for _, distance in found] == [30, 60, 100, 150, 200]  # 240 is the 6th
    assert found[0][0] == codes[30]
    assert codes[260] not in [code for code, _ in found]


def test_the_radius_depends_on_the_category(city: City) -> None:
    city.build()
    far = city.report(category="C0101", **at(80, 0))  # a manhole cover: 50 m radius
    near = city.report(category="C0101", **at(40, 0))
    garbage = city.report(**at(20, 0))
    found = search(city, category_code="C0101")
    assert [code for code, _ in found] == [near.code]
    assert far.code not in found
    # Without a category, the default radius and every category.
    assert {code for code, _ in search(city)} == {near.code, far.code, garbage.code}


def test_recently_closed_cases_count_and_old_or_dead_ones_do_not(city: City) -> None:
    city.build(territorial=False)  # case_in dispatches to SZGC: no suggestion to override
    closed = city.case_in(CaseStatus.CLOSED, **at(10, 0))
    rejected = city.report(**at(20, 0))
    city.act(rejected, Action.REJECT, "operator", reason="非城管问题")
    open_case = city.report(**at(30, 0))
    assert [code for code, _ in search(city)] == [closed.code, open_case.code]
    city.clock.advance(days=8)  # closed more than 7 days ago: gone
    assert [code for code, _ in search(city)] == [open_case.code]
    city.clock.advance(days=23)  # reported more than 30 days ago: gone
    assert search(city) == []


def test_a_case_can_be_left_out(city: City) -> None:
    city.build()
    one = city.report(**at(0, 0))
    other = city.report(**at(5, 0))
    assert [code for code, _ in search(city, exclude_case_id=one.id)] == [other.code]


def test_merge_without_a_target_lists_the_cases_nearby(city: City) -> None:
    city.build()
    original = city.report(**at(0, 0))
    city.clock.advance(minutes=5)
    repeat = city.report(**at(15, 0))
    with pytest.raises(InvalidInput, match=f"cases nearby: {original.code}") as caught:
        city.act(repeat, Action.MERGE, "operator")
    assert caught.value.detail["candidates"] == [original.code]
    city.act(repeat, Action.MERGE, "operator", duplicate_of=original.code)
    assert repeat.status == CaseStatus.MERGED
    # A merged case is no candidate any more.
    third = city.report(**at(5, 0))
    with pytest.raises(InvalidInput) as again:
        city.act(third, Action.MERGE, "operator")
    assert again.value.detail["candidates"] == [original.code]


def test_nearby_api_takes_crs_and_hides_details_from_citizens(city: City, api: Api) -> None:
    city.build()
    from duban.places.coords import from_wgs84

    case = city.report(description="路口垃圾堆积", address="人民路口", **at(40, 0))
    lon, lat = from_wgs84(*lonlat(0, 0), "gcj02")
    response = api.get("/cases/nearby", lat=lat, lon=lon, crs="gcj02", category="E0102")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["radius_m"] == 250
    assert [(i["code"], round(i["distance_m"])) for i in body["items"]] == [(case.code, 40)]
    assert body["items"][0]["description"] == "路口垃圾堆积"
    assert body["items"][0]["status_label"] == "已上报"
    citizen = api.get("/cases/nearby", "citizen", lat=lat, lon=lon, crs="gcj02").json()
    assert citizen["items"] == []  # another's case: counted, not shown
    assert citizen["others"] == 1
    # /cases/nearby is not taken for /cases/{id}, and bad input is a 422.
    error_of(api.get("/cases/nearby", lat=lat), 422)
    assert api.get(f"/cases/{case.id}").status_code == 200


def test_time_windows_follow_the_policy(city: City) -> None:
    city.build()
    city.set_places_policy(
        nearby={"radius_m": 100, "max_results": 2, "open_within_days": 1, "closed_within_days": 0}
    )
    old = city.report(**at(10, 0))
    city.clock.advance(days=2)
    new = [city.report(**at(d, 0)).code for d in (20, 30, 40, 150)]
    assert [code for code, _ in search(city)] == new[:2]
    assert old.code not in [code for code, _ in search(city)]
    assert timedelta(days=1)  # the window is in days
