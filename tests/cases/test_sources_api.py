"""Who reports (issue 15 item 5): the supervision group's own list is filed without a
collector's 核实, and leaders report from 马路办公 (holding office on the street)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories.world import World
from tests.http import Api, assert_error, count_cases
from tests.web.test_server import sign_in


def test_a_supervision_group_report_skips_the_collectors_verify(api: Api) -> None:
    case = api.create("supervisor", source="supervision").json()
    assert case["status"] == "verified"
    assert "file" in api.case(case["id"], "shift_lead")["allowed_actions"]
    assert "assign" not in api.case(case["id"], "operator")["allowed_actions"]


def test_a_leader_reports_from_road_office_and_it_counts_as_seen_on_site(api: Api) -> None:
    case = api.create("leader", source="road_office").json()
    assert (case["source"], case["status"]) == ("road_office", "verified")
    assert case["events"][0]["payload"]["source"] == "road_office"


def test_only_leaders_and_the_centre_report_from_road_office(api: Api, engine: Engine) -> None:
    refused = api.create("collector", source="road_office")
    assert_error(refused, 403)
    assert count_cases(engine) == 0


def test_a_leader_reports_from_the_web_form_with_road_office(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, app, world, "leader")
        form = client.get("/report")
        assert form.status_code == 200
        assert "马路办公" in form.text
