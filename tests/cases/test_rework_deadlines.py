"""返工 restarts the clock (issue 15 item 6): a case sent back by a failed check gets a
new deadline from the check, by policy — the filing condition's limit again, or the
policy's own rework limit — counted on the working calendar (holidays, 调休), shown on
the case in the API and on its page."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from duban.cases.models import Case
from duban.cases.presenters import deadline_view
from duban.cases.workflow import Action, CaseStatus
from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import PolicyError
from duban.reference.policy import load_policy, parse_policy, save_policy, shipped_policy_data
from tests.factories.cases import dispatched_case, events, fresh
from tests.factories.reference import condition
from tests.factories.world import World
from tests.fakes import FixedClock, local
from tests.http import Api
from tests.web.test_server import sign_in


def sent_back(world: World, case: Case, at: datetime) -> Case:
    """``case`` (dispatched) fixed by its unit and sent back by a failed check at ``at``."""
    world.act(case, Action.ACCEPT, "handler")
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.clock.set(at)
    return world.act(case, Action.CHECK, "collector", passed=False, reason="垃圾未清理干净")


def test_a_failed_check_gives_the_conditions_limit_again(session: Session, world: World) -> None:
    # Dispatched on the eve of National Day with 2 working days: due Friday Oct 10 16:00.
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2025, 9, 30, 16))
    assert case.due_at == local(2025, 10, 10, 16, 0)
    # Sent back on Thursday Oct 9 10:00: two working days from then, and Saturday Oct 11
    # is a make-up workday (调休), so the new deadline is that Saturday 10:00.
    case = sent_back(world, case, local(2025, 10, 9, 10, 0))
    assert case.status == CaseStatus.HANDLING
    stored = fresh(world.session_factory, case.id)
    assert stored.due_at == local(2025, 10, 11, 10, 0)
    assert stored.clock_started_at == local(2025, 10, 9, 10, 0)
    assert (stored.limit_amount, stored.limit_unit) == (2, "work_days")
    assert stored.handled_at is None
    assert stored.rework_count == 1
    check = events(world.session_factory, case.id)[-1]
    payload = json.loads(check.payload)
    assert check.action == "check"
    assert payload["passed"] is False
    assert payload["due_from"] == "2025-10-10T08:00:00+00:00"  # stored in UTC
    assert payload["due_to"] == "2025-10-11T02:00:00+00:00"
    assert payload["limit"] == "2 work_days"


def test_the_policy_may_give_rework_a_limit_of_its_own(
    session: Session, world: World, clock: FixedClock
) -> None:
    data = shipped_policy_data()
    data["rework"] = {"limit": {"amount": 4, "unit": "work_hours"}}
    save_policy(session, data, now=clock.now())
    session.commit()
    case = dispatched_case(world, condition(session, 2, "work_days"), at=local(2025, 9, 30, 16))
    # Thursday 10:00 + 4 working hours: 2 before lunch, 2 after (14:00-16:00).
    case = sent_back(world, case, local(2025, 10, 9, 10, 0))
    stored = fresh(world.session_factory, case.id)
    assert stored.due_at == local(2025, 10, 9, 16, 0)
    assert (stored.limit_amount, stored.limit_unit) == (4, "work_hours")


def test_a_case_overdue_before_rework_is_on_time_again(session: Session, world: World) -> None:
    case = dispatched_case(world, condition(session, 1, "work_days"), at=local(2026, 11, 23, 9))
    world.act(case, Action.ACCEPT, "handler")
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.clock.set(local(2026, 11, 26, 9, 0))  # the fix came in time; the check is late
    case = world.act(case, Action.CHECK, "collector", passed=False, reason="未修复")
    view = deadline_view(case, load_policy(session), world.clock.now())
    assert case.due_at == local(2026, 11, 27, 9, 0)  # Friday: one working day on
    assert view.clock == "running"
    assert not view.is_overdue
    # The sweep finds nothing to raise until the new deadline passes.
    assert sweep_overdue(session, clock=world.clock).supervised == []
    world.clock.set(local(2026, 11, 27, 9, 1))
    assert sweep_overdue(session, clock=world.clock).supervised == [case.code]


@pytest.mark.parametrize("limit", [{"amount": 0, "unit": "work_days"}, "soon", 3])
def test_a_bad_rework_limit_is_a_policy_error(limit: object) -> None:
    data = shipped_policy_data()
    data["rework"] = {"limit": limit}
    with pytest.raises(PolicyError, match="the policy is invalid"):
        parse_policy(data)


def test_the_new_deadline_is_shown_in_the_api_and_on_the_page(
    api: Api, app: FastAPI, world: World
) -> None:
    world.clock.set(local(2026, 11, 23, 9, 0))
    case = api.awaiting_check()
    api.act(case["id"], "assign", "operator", collector="collector")
    world.clock.set(local(2026, 11, 24, 15, 0))
    back = api.act(case["id"], "check", "collector", passed=False, reason="未修复")
    assert back["status"] == "handling"
    assert back["clock_started_at"] == "2026-11-24T15:00:00+08:00"
    assert back["due_at"] > case["due_at"]
    assert back["overdue"] is False
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, app, world, "dispatcher")
        page = client.get(f"/cases/{case['id']}")
        assert page.status_code == 200
        assert "返工后重新计时" in page.text
        assert "2026-11-24 15:00" in page.text
