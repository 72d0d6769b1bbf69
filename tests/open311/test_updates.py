"""FixMyStreet's update extension: GET and POST servicerequestupdates."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.audit import verify_chain
from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import CaseStatus
from duban.open311.models import Open311Update
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.open311 import spec
from tests.open311.conftest import configure, new_request


def update(api_key: str, code: str, update_id: str = "fms-1", **extra: Any) -> dict[str, Any]:
    data = {
        "api_key": api_key,
        "jurisdiction_id": "xuchang.gov.cn",
        "service_request_id": code,
        "update_id": update_id,
        "status": "OPEN",
        "updated_datetime": "2026-11-23T10:00:00+08:00",
        "description": "还是没有清理 — still not fixed",
    }
    data.update(extra)
    return data


def events_of(factory: sessionmaker[Session], code: str) -> list[CaseEvent]:
    with factory() as session:
        case_id = session.scalar(select(Case.id).where(Case.code == code))
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )


def test_status_changes_are_listed_as_updates_with_stable_ids(
    world: World, http: httpx.Client
) -> None:
    case = world.case_in(CaseStatus.CLOSED)
    first = spec.check_both(http, "servicerequestupdates", spec.UPDATES)
    again = spec.check_both(
        http,
        "servicerequestupdates",
        spec.UPDATES,
        start_date="2026-11-23T00:00:00+08:00",
        end_date="2026-11-24T00:00:00+08:00",
    )
    assert first == again
    mine = [u for u in first if u["service_request_id"] == case.code]
    # report is the request itself; assign changes no status; the rest are updates.
    assert [u["external_status_code"] for u in mine] == [
        "verify",
        "file",
        "dispatch",
        "accept",
        "feedback",
        "check",
        "close",
    ]
    assert [u["status"] for u in mine] == [
        "investigating",
        "action_scheduled",
        "action_scheduled",
        "in_progress",
        "in_progress",
        "fixed",
        "fixed",
    ]
    feedback = mine[4]
    assert feedback["media_url"]
    assert "/media/" in feedback["media_url"]
    assert len({u["update_id"] for u in first}) == len(first)


def test_updates_outside_the_window_are_not_listed(
    world: World, http: httpx.Client, clock: FixedClock
) -> None:
    world.case_in(CaseStatus.FILED)
    body = spec.check_json(
        http.get(
            "servicerequestupdates.json",
            params={"start_date": "2026-12-01T00:00:00Z", "end_date": "2026-12-02T00:00:00Z"},
        ),
        spec.UPDATES,
    )
    assert body == []
    spec.check_json(
        http.get(
            "servicerequestupdates.json",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"},
        ),
        spec.ERRORS,
        400,
    )


def test_a_posted_update_is_a_comment_and_idempotent_on_update_id(
    http: httpx.Client, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    code = new_request(http, api_key)
    data = update(api_key, code, media_url=["https://fms.example/u/1.jpeg"])
    (answer,) = spec.check_json(
        http.post("servicerequestupdates.json", data=data), spec.UPDATE_POSTED
    )
    (again,) = spec.check_xml(http.post("servicerequestupdates.xml", data=data), spec.UPDATE_POSTED)
    assert answer["update_id"] == again["update_id"]
    events = events_of(session_factory, code)
    assert [e.action for e in events] == ["report", "comment"]
    comment = events[1]
    assert comment.from_status == comment.to_status == "reported"
    assert comment.note == "还是没有清理 — still not fixed"
    assert str(comment.id) == answer["update_id"]
    with session_factory() as session:
        assert verify_chain(session).ok
        assert session.scalar(select(func.count()).select_from(Open311Update)) == 1
    listed = spec.check_json(http.get("servicerequestupdates.json"), spec.UPDATES)
    (mine,) = [u for u in listed if u["update_id"] == answer["update_id"]]
    assert mine["external_status_code"] == "comment"
    assert mine["media_url"] == "https://fms.example/u/1.jpeg"
    # The same update_id for another request is refused, not applied twice.
    other = new_request(http, api_key)
    spec.check_json(
        http.post("servicerequestupdates.json", data=update(api_key, other)), spec.ERRORS, 400
    )


def test_posted_updates_are_checked_like_fixmystreet_does(http: httpx.Client, api_key: str) -> None:
    code = new_request(http, api_key)
    for missing in ("service_request_id", "update_id", "status", "updated_datetime", "description"):
        data = update(api_key, code)
        del data[missing]
        body = spec.check_json(http.post("servicerequestupdates.json", data=data), spec.ERRORS, 400)
        assert body[0]["description"] == f"Bad request: {missing}"
    spec.check_json(
        http.post("servicerequestupdates.json", data=update(api_key, code, status="SLEEPING")),
        spec.ERRORS,
        400,
    )
    spec.check_json(
        http.post("servicerequestupdates.json", data=update(api_key, "NOPE")), spec.ERRORS, 404
    )
    spec.check_json(
        http.post("servicerequestupdates.json", data=update("o311_bad", code)), spec.ERRORS, 403
    )


def test_still_not_fixed_on_a_closed_case_adds_a_note_by_default(
    world: World, http: httpx.Client, api_key: str, session_factory: sessionmaker[Session]
) -> None:
    case = world.case_in(CaseStatus.CLOSED)
    spec.check_json(
        http.post("servicerequestupdates.json", data=update(api_key, case.code)),
        spec.UPDATE_POSTED,
    )
    events = events_of(session_factory, case.code)
    assert events[-1].action == "comment"
    assert events[-1].to_status == "closed"


def test_with_the_reopen_policy_still_not_fixed_reopens_a_closed_case(
    world: World,
    http: httpx.Client,
    api_key: str,
    session: Session,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    configure(session, clock, update_policy="reopen")
    case = world.case_in(CaseStatus.CLOSED)
    (answer,) = spec.check_json(
        http.post("servicerequestupdates.json", data=update(api_key, case.code)),
        spec.UPDATE_POSTED,
    )
    events = events_of(session_factory, case.code)
    assert events[-1].action == "reopen"
    assert events[-1].to_status == CaseStatus.DISPATCHED.value
    assert "still not fixed" in events[-1].note
    assert str(events[-1].id) == answer["update_id"]
    (item,) = spec.check_json(http.get(f"requests/{case.code}.json"), spec.REQUESTS)
    assert item["status"] == "open"
    # A retry changes nothing; a "fixed" update on the reopened case is only a note.
    spec.check_json(
        http.post("servicerequestupdates.json", data=update(api_key, case.code)),
        spec.UPDATE_POSTED,
    )
    assert len(events_of(session_factory, case.code)) == len(events)
    spec.check_json(
        http.post(
            "servicerequestupdates.json",
            data=update(api_key, case.code, update_id="fms-2", status="FIXED"),
        ),
        spec.UPDATE_POSTED,
    )
    assert events_of(session_factory, case.code)[-1].action == "comment"
