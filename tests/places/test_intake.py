"""Intake: every report lands in one grid (or is refused clearly), in any coordinate system."""

from __future__ import annotations

import json

import pytest
import shapely

from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus
from duban.kernel.errors import InvalidInput
from duban.places.coords import from_wgs84
from duban.places.grids import generate_grids_for
from tests.factories.cases import event_total
from tests.places.conftest import DISTRICT, NE, NW, SW, WEST, Api, City, error_of, lonlat, rect


def payload(city: City, case: Case, seq: int = -1) -> dict[str, object]:
    with city.factory() as other:
        rows = other.query(CaseEvent).filter_by(case_id=case.id).order_by(CaseEvent.seq).all()
        data: dict[str, object] = json.loads(rows[seq].payload)
        return data


def test_without_any_grid_a_report_is_taken_without_one(city: City) -> None:
    case = city.report(lat=0.5, lon=100.0)  # anywhere: the city has no map yet
    assert case.grid_code is None
    assert case.district_code is None


def test_a_report_stores_its_grid_community_street_and_district(city: City) -> None:
    city.build()
    lon, lat = lonlat(-950, 950)
    case = city.report(lat=lat, lon=lon)
    assert case.grid_code == f"{NW}001"
    assert (case.community_code, case.street_code, case.district_code) == (NW, WEST, DISTRICT)
    assert payload(city, case)["place"] == {
        "grid": f"{NW}001",
        "community": NW,
        "street": WEST,
        "district": DISTRICT,
    }


@pytest.mark.parametrize("crs", ["gcj02", "GCJ-02", "bd09", "bd09ll"])
def test_gcj02_and_bd09_reports_are_stored_in_wgs84(city: City, crs: str) -> None:
    city.build()
    wgs = lonlat(-950, 950)
    lon, lat = from_wgs84(*wgs, crs)
    case = city.report(lat=lat, lon=lon, crs=crs)
    assert case.lon == pytest.approx(wgs[0], abs=1e-8)
    assert case.lat == pytest.approx(wgs[1], abs=1e-8)
    assert case.grid_code == f"{NW}001"
    assert payload(city, case)["input"] == {"crs": crs, "lon": lon, "lat": lat}


def test_an_unknown_coordinate_system_is_refused(city: City) -> None:
    total = event_total(city.factory)
    with pytest.raises(InvalidInput, match="unknown coordinate system") as caught:
        city.report(crs="mars")
    assert caught.value.field == "crs"
    assert event_total(city.factory) == total


def test_a_point_outside_every_grid_is_refused_clearly(city: City) -> None:
    city.build()
    total = event_total(city.factory)
    with pytest.raises(InvalidInput) as caught:
        city.report(lat=lonlat(0, 5000)[1], lon=lonlat(0, 5000)[0])
    err = caught.value
    assert err.detail["code"] == "outside_grids"
    assert "outside every unit grid" in err.message
    assert "gcj02" in err.message  # the usual cause, named
    assert event_total(city.factory) == total


def test_a_point_in_the_district_but_in_no_grid_names_the_district(city: City) -> None:
    city.build(grids=False)
    generate_grids_for(city.session, now=city.clock.now(), community_codes=[NE])
    with pytest.raises(InvalidInput, match="it is in 魏都区, which has no grids there"):
        city.report(lat=lonlat(-500, -500)[1], lon=lonlat(-500, -500)[0])
    assert city.report(lat=lonlat(500, 500)[1], lon=lonlat(500, 500)[0]).grid_code


def test_the_policy_may_file_outside_points_to_a_catch_all_grid(city: City) -> None:
    city.build()
    catch_all = f"{SW}100"
    city.set_places_policy(outside_grids="catch_all", catch_all_grid=catch_all)
    lon, lat = lonlat(0, 5000)
    case = city.report(lat=lat, lon=lon)
    assert case.grid_code == catch_all
    assert (case.community_code, case.street_code) == (SW, WEST)
    assert case.lat == pytest.approx(lat)  # the point itself is kept
    assert payload(city, case)["catch_all"] is True


def test_the_policy_may_accept_outside_points_without_a_grid(city: City) -> None:
    city.build()
    city.set_places_policy(outside_grids="accept")
    lon, lat = lonlat(0, 5000)
    case = city.report(lat=lat, lon=lon)
    assert case.grid_code is None
    assert case.district_code is None


def test_a_bad_places_policy_is_refused() -> None:
    from duban.kernel.errors import PolicyError
    from duban.reference.policy import parse_policy, shipped_policy_data

    for places in (
        {"outside_grids": "sometimes"},
        {"outside_grids": "catch_all"},
        {"catch_all_grid": "12"},
        {"territorial_levels": ["grid"]},
        {"nearby": {"radius_m": 0}},
    ):
        data = shipped_policy_data()
        data["places"] = places
        with pytest.raises(PolicyError, match="the policy is invalid") as refused:
            parse_policy(data)
        # The reader is told in their language; what the parser said is kept for programs.
        assert "places" in refused.value.detail["cause"]


def test_old_cases_keep_the_grid_they_were_filed_in(city: City) -> None:
    city.build()
    lon, lat = lonlat(950, 950)
    case = city.case_in(CaseStatus.FILED, lat=lat, lon=lon)
    old_grid = case.grid_code
    assert old_grid is not None
    # The community's grids are redrawn with 4 times the size: the old code is retired...
    generate_grids_for(
        city.session, now=city.clock.advance(days=1), community_codes=[NE], target_area_m2=40_000
    )
    city.session.refresh(case)
    assert case.grid_code == old_grid  # ...and the case still names the grid it was filed in
    # New reports at the same point get the new grid.
    fresh = city.report(lat=lat, lon=lon)
    assert fresh.grid_code is not None
    assert fresh.grid_code.startswith(NE)


def test_verify_may_correct_the_location(city: City) -> None:
    city.build()
    case = city.report(lat=lonlat(-950, 950)[1], lon=lonlat(-950, 950)[0])
    city.act(case, Action.ASSIGN, "operator", collector="collector")
    lon, lat = from_wgs84(*lonlat(950, -950), "gcj02")
    city.act(case, Action.VERIFY, "collector", lat=lat, lon=lon, crs="gcj02", address="东南角")
    assert case.grid_code is not None
    assert case.grid_code.startswith("411002002002")
    assert case.street_code == "411002002"
    assert case.address == "东南角"
    moved = payload(city, case)
    assert moved["location"]["from"]["grid"] == f"{NW}001"  # type: ignore[index]
    assert moved["address"] == {"from": "", "to": "东南角"}
    with pytest.raises(InvalidInput, match="both 'lat' and 'lon'"):
        city.act(case, Action.FILE, "shift_lead", lat=34.0)


# --------------------------------------------------------------------------- the API


def test_the_api_takes_crs_and_shows_the_place(city: City, api: Api) -> None:
    city.build()
    city.zone(
        "leader_grid",
        "WG-W",
        rect(-1000, -1000, 0, 1000),
        name="西区网格",
        person_name="网格长 王建国",
        person_phone="13900000001",
    )
    road = shapely.LineString([lonlat(-1000, 900), lonlat(0, 900)])
    city.zone("road_segment", "LZ-9", road, name="北环路", person_name="路长 何丽")
    wgs = lonlat(-950, 910)
    lon, lat = from_wgs84(*wgs, "bd09")
    response = api.report(lat=lat, lon=lon, crs="bd09")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["lat"] == pytest.approx(wgs[1], abs=1e-8)
    assert body["grid_code"] == f"{NW}001"
    assert body["grid"] == {"level": "grid", "code": f"{NW}001", "name": "西北社区001号网格"}
    assert body["community"]["name"] == "西北社区"
    assert body["street"] == {"level": "street", "code": WEST, "name": "西区街道"}
    assert body["district"]["name"] == "魏都区"
    assert (body["community_code"], body["street_code"], body["district_code"]) == (
        NW,
        WEST,
        DISTRICT,
    )
    assert body["grid_leader"]["name"] == "网格长 王建国"
    assert body["road_chief"]["zone_name"] == "北环路"
    assert body["routing"] is None  # routing runs at filing
    # The list shows the same.
    listed = api.get("/cases", grid=NW).json()["items"]
    assert listed[0]["grid"]["name"] == "西北社区001号网格"
    assert listed[0]["grid_leader"]["name"] == "网格长 王建国"


def test_the_api_refuses_points_outside_the_grids_with_422(city: City, api: Api) -> None:
    city.build()
    lon, lat = lonlat(3000, 3000)
    error = error_of(api.report(lat=lat, lon=lon), 422)
    assert error["code"] == "outside_grids"
    assert error["detail"]["field"] == "location"
    error = error_of(api.report(crs="nowhere"), 422)
    assert error["detail"]["field"] == "crs"
