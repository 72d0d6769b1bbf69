"""Hotline cases (issue 15 item 5): the 12345 ticket number (工单号) travels with a hotline
case, and the operator's return call (回访) records the caller's satisfaction, which
feeds 满意率 beside citizens' own ratings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from duban.cases.dashboard import dashboard
from duban.cases.workflow import Rating
from tests.factories.world import World
from tests.http import Api, assert_error, count_cases
from tests.web.test_server import sign_in

TICKET = "12345-20261123-000042"


def test_a_hotline_case_keeps_its_12345_ticket_number(api: Api) -> None:
    case = api.report(hotline_ticket=TICKET, reporter_phone="13800000000")
    assert case["hotline_ticket"] == TICKET
    assert case["events"][0]["payload"]["hotline_ticket"] == TICKET
    assert api.case(case["id"], "dispatcher")["hotline_ticket"] == TICKET
    plain = api.report()
    assert plain["hotline_ticket"] is None
    assert "hotline_ticket" not in plain["events"][0]["payload"]


def test_only_hotline_cases_have_a_ticket_number(api: Api, engine: Engine) -> None:
    response = api.create("collector", source="patrol", hotline_ticket=TICKET)
    error = assert_error(response, 422)
    assert "12345 ticket number of a hotline case" in error["message"]
    assert count_cases(engine) == 0


def test_the_hotline_form_takes_the_ticket_number(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        csrf = sign_in(client, app, world, "operator")
        form = client.get("/report")
        assert "12345工单号" in form.text
        done = client.post(
            "/report",
            data={
                "csrf_token": csrf,
                "source": "hotline",
                "category": "E0102",
                "lat": "34.03",
                "lon": "113.82",
                "description": "小区门口暴露垃圾",
                "ticket": TICKET,
                "confirm": "1",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        page = client.get(done.headers["location"])
        assert TICKET in page.text
        assert "12345工单号" in page.text


def test_the_operator_records_the_callers_satisfaction_once_per_closing(
    api: Api, world: World
) -> None:
    case = api.closed()
    assert "callback" in api.case(case["id"], "operator")["allowed_actions"]
    called = api.act(case["id"], "callback", "operator", rating="satisfied", note="群众表示满意")
    assert called["status"] == "closed"
    event = called["events"][-1]
    assert (event["action"], event["payload"], event["actor"]) == (
        "callback",
        {"rating": "satisfied"},
        "operator",
    )
    again = api.act_raw(case["id"], "callback", "operator", rating="unsatisfied")
    assert assert_error(again, 409)["code"] == "already_called"
    # Reopened and closed again: a new closing gets its own call.
    api.act(case["id"], "reopen", "supervisor", reason="问题复发")
    case = api.case(case["id"])
    api.act(case["id"], "accept", "handler")
    api.act(case["id"], "feedback", "handler", photo_ids=[api.photo()])
    api.act(case["id"], "assign", "operator", collector="collector")
    api.act(case["id"], "check", "collector", passed=True)
    api.act(case["id"], "close", "shift_lead")
    api.act(case["id"], "callback", "operator", rating="unsatisfied")
    board = dashboard(world.session, now=world.clock.now(), tz=ZoneInfo("Asia/Shanghai"))
    assert board.ratings == {Rating.SATISFIED: 1, Rating.UNSATISFIED: 1}
    assert board.satisfaction_rate == 0.5


def test_a_callback_needs_a_rating_a_closed_case_and_the_hotline(api: Api) -> None:
    closed = api.closed()
    no_rating = api.act_raw(closed["id"], "callback", "operator")
    assert "callback needs a 'rating'" in assert_error(no_rating, 422)["message"]
    bad = api.act_raw(closed["id"], "callback", "operator", rating="very")
    assert_error(bad, 422)
    by_collector = api.act_raw(closed["id"], "callback", "dispatcher", rating="satisfied")
    assert_error(by_collector, 409, "illegal_transition")
    open_case = api.report()
    not_closed = api.act_raw(open_case["id"], "callback", "operator", rating="satisfied")
    assert_error(not_closed, 409, "illegal_transition")
    assert api.case(closed["id"])["version"] == closed["version"]


def test_the_case_page_offers_the_callback_to_the_operator(
    api: Api, app: FastAPI, world: World
) -> None:
    case = api.closed()
    with TestClient(app, base_url="http://testserver") as client:
        csrf = sign_in(client, app, world, "operator")
        page = client.get(f"/cases/{case['id']}")
        assert "回访" in page.text
        assert 'name="rating"' in page.text
        done = client.post(
            f"/cases/{case['id']}/act/callback",
            data={"csrf_token": csrf, "rating": "basically_satisfied"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    assert api.case(case["id"])["events"][-1]["payload"] == {"rating": "basically_satisfied"}
