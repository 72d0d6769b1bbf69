"""GET requests: the spec's filters, the 90-day rule, statuses, and the common extensions."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session

from duban.cases.workflow import STATUS_LABELS, TERMINAL, Action, CaseStatus
from duban.kernel.errors import InvalidInput
from duban.open311.statuses import EXTENDED_IS_OPEN, STATUS_TABLE
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.open311 import spec
from tests.open311.conftest import configure


def ids(body: list[dict[str, object]]) -> list[object]:
    return [r["service_request_id"] for r in body]


def test_the_status_table_covers_every_status_once_and_agrees_with_the_workflow() -> None:
    assert set(STATUS_TABLE) == set(CaseStatus)
    for status, mapping in STATUS_TABLE.items():
        assert mapping.v2 == ("closed" if status in TERMINAL else "open")
        assert mapping.extended in EXTENDED_IS_OPEN
        assert mapping.description == STATUS_LABELS[status][1]
        # An extended status never says "still open" about a closed request.
        if mapping.v2 == "closed":
            assert not EXTENDED_IS_OPEN[mapping.extended]


def test_each_of_our_statuses_reads_as_the_world_expects(world: World, http: httpx.Client) -> None:
    expected = {
        CaseStatus.REPORTED: ("open", "investigating"),
        CaseStatus.VERIFIED: ("open", "investigating"),
        CaseStatus.FILED: ("open", "action_scheduled"),
        CaseStatus.DISPATCHED: ("open", "action_scheduled"),
        CaseStatus.HANDLING: ("open", "in_progress"),
        CaseStatus.AWAITING_CHECK: ("open", "in_progress"),
        CaseStatus.CHECKED: ("open", "fixed"),
        CaseStatus.CLOSED: ("closed", "fixed"),
    }
    codes = {status: world.case_in(status).code for status in expected}
    rejected = world.act(world.report(), "reject", "operator", reason="不属于城管范围")
    voided = world.act(world.case_in(CaseStatus.VERIFIED), "void", "shift_lead", reason="重复")
    original = world.report()
    merged = world.act(world.report(), "merge", "operator", duplicate_of=original.code)
    expected[CaseStatus.REJECTED] = ("closed", "not_councils_responsibility")
    expected[CaseStatus.VOIDED] = ("closed", "no_further_action")
    expected[CaseStatus.MERGED] = ("closed", "duplicate")
    codes.update(
        {
            CaseStatus.REJECTED: rejected.code,
            CaseStatus.VOIDED: voided.code,
            CaseStatus.MERGED: merged.code,
        }
    )
    body = spec.check_json(
        http.get("requests.json", params={"extensions": "true"}), spec.REQUESTS_EXTENDED
    )
    by_id = {r["service_request_id"]: r for r in body}
    for status, (v2, extended) in expected.items():
        item = by_id[codes[status]]
        assert item["status"] == v2, status
        assert item["extended_attributes"]["status_extended"] == extended, status
        assert item["extended_attributes"]["duban_status"] == status.value
    # The reason of the last status change is the status note.
    assert by_id[rejected.code]["status_notes"] == "不属于城管范围"
    closed = by_id[codes[CaseStatus.CLOSED]]
    assert closed["updated_datetime"] == closed["extended_attributes"]["closed_datetime"]
    # Filters speak both vocabularies.
    fixed = spec.check_json(http.get("requests.json", params={"status": "fixed"}), spec.REQUESTS)
    assert set(ids(fixed)) == {codes[CaseStatus.CHECKED], codes[CaseStatus.CLOSED]}
    closed_ones = spec.check_json(
        http.get("requests.json", params={"status": "closed"}), spec.REQUESTS
    )
    assert len(closed_ones) == 4
    both = spec.check_json(
        http.get("requests.json", params={"status": "open,closed"}), spec.REQUESTS
    )
    assert len(both) == len(body)


def test_a_dispatched_case_names_its_unit_and_its_deadline(
    world: World, http: httpx.Client
) -> None:
    case = world.case_in(CaseStatus.DISPATCHED)
    (item,) = spec.check_both(http, f"requests/{case.code}", spec.REQUESTS)
    assert item["agency_responsible"] == "市政工程管理处"
    assert case.due_at is not None
    assert item["expected_datetime"] == case.due_at.astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
    ).isoformat(timespec="seconds")
    assert item["status_notes"]


def test_service_request_id_overrides_every_other_filter(
    world: World, http: httpx.Client, clock: FixedClock
) -> None:
    old = world.report()
    clock.advance(days=200)
    new = world.report(category="C0118")
    body = spec.check_json(
        http.get(
            "requests.json",
            params={
                "service_request_id": f"{old.code},{new.code},NOPE",
                "service_code": "E0999",
                "status": "closed",
                "start_date": "2000-01-01T00:00:00Z",
                "end_date": "2000-01-02T00:00:00Z",
            },
        ),
        spec.REQUESTS,
    )
    assert set(ids(body)) == {old.code, new.code}


def test_the_default_window_is_the_last_90_days_and_a_window_may_not_span_more(
    world: World, http: httpx.Client, clock: FixedClock
) -> None:
    ancient = world.report()
    clock.advance(days=100)
    recent = world.report()
    assert ids(spec.check_json(http.get("requests.json"), spec.REQUESTS)) == [recent.code]
    start = ancient.created_at
    window = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=1)).isoformat()}
    assert ids(spec.check_json(http.get("requests.json", params=window), spec.REQUESTS)) == [
        ancient.code
    ]
    # Only a start: 90 days from it. Only an end: 90 days up to it.
    only_start = {"start_date": (start - timedelta(hours=1)).isoformat()}
    assert ids(spec.check_json(http.get("requests.json", params=only_start), spec.REQUESTS)) == [
        ancient.code
    ]
    only_end = {"end_date": (start + timedelta(hours=1)).isoformat()}
    assert ids(spec.check_json(http.get("requests.json", params=only_end), spec.REQUESTS)) == [
        ancient.code
    ]
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:01Z"}
    body = spec.check_json(http.get("requests.json", params=too_long), spec.ERRORS, 400)
    assert "90 days" in body[0]["description"]
    backwards = {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}
    spec.check_json(http.get("requests.json", params=backwards), spec.ERRORS, 400)
    # A W3C date without a zone is read in the city's zone; a date alone is its midnight.
    day = {"start_date": "2027-03-03", "end_date": "2027-03-04"}
    assert ids(spec.check_json(http.get("requests.json", params=day), spec.REQUESTS)) == [
        recent.code
    ]


def test_service_code_takes_a_comma_list(world: World, http: httpx.Client) -> None:
    a = world.report(category="E0102")
    b = world.report(category="C0118")
    world.report(category="E0104")
    body = spec.check_json(
        http.get("requests.json", params={"service_code": "E0102,C0118"}), spec.REQUESTS
    )
    assert set(ids(body)) == {a.code, b.code}


def test_end_date_includes_its_own_instant_and_service_codes_match_exactly(
    world: World, http: httpx.Client
) -> None:
    made = world.report(category="E0102")
    at = made.created_at.isoformat()
    body = spec.check_json(
        http.get("requests.json", params={"start_date": at, "end_date": at}), spec.REQUESTS
    )
    assert ids(body) == [made.code]
    # A major class is not a service: it selects nothing (the export's filter widens it).
    body = spec.check_json(http.get("requests.json", params={"service_code": "E01"}), spec.REQUESTS)
    assert ids(body) == []


def test_a_status_word_that_none_of_our_statuses_has_selects_nothing(
    world: World, http: httpx.Client
) -> None:
    world.report()
    for word in ("reopen", "reopen,cancelled"):
        body = spec.check_json(http.get("requests.json", params={"status": word}), spec.REQUESTS)
        assert ids(body) == []
    assert len(spec.check_json(http.get("requests.json"), spec.REQUESTS)) == 1


def test_pages_are_newest_first_and_never_larger_than_1000(
    world: World, http: httpx.Client, clock: FixedClock
) -> None:
    made = []
    for _ in range(7):
        made.append(world.report().code)
        clock.advance(minutes=1)
    newest_first = list(reversed(made))
    page1 = spec.check_both(http, "requests", spec.REQUESTS, page="1", page_size="3")
    page3 = spec.check_both(http, "requests", spec.REQUESTS, page="3", page_size="3")
    assert ids(page1) == newest_first[:3]
    assert ids(page3) == newest_first[6:]
    spec.check_json(http.get("requests.json", params={"page_size": "1001"}), spec.ERRORS, 400)
    spec.check_json(http.get("requests.json", params={"page": "0"}), spec.ERRORS, 400)


def test_bbox_selects_requests_inside_the_box(world: World, http: httpx.Client) -> None:
    inside = world.report(lat=34.03, lon=113.82)
    world.report(lat=34.50, lon=113.82)
    body = spec.check_json(
        http.get("requests.json", params={"bbox": "113.80,34.00,113.85,34.05"}), spec.REQUESTS
    )
    assert ids(body) == [inside.code]
    for bad in ("1,2,3", "113.85,34.0,113.80,34.05", "a,b,c,d"):
        spec.check_json(http.get("requests.json", params={"bbox": bad}), spec.ERRORS, 400)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_extensions_add_our_fields_without_touching_the_spec_ones(
    world: World, http: httpx.Client, fmt: str, session: Session
) -> None:
    case = world.case_in(CaseStatus.HANDLING)
    plain = spec.check_json(http.get(f"requests/{case.code}.json"), spec.REQUESTS)[0]
    check = spec.check_json if fmt == "json" else spec.check_xml
    (extended,) = check(
        http.get(f"requests/{case.code}.{fmt}", params={"extensions": "true"}),
        spec.REQUESTS_EXTENDED,
    )
    for key, value in plain.items():
        assert extended[key] == value
    extra = extended["extended_attributes"]
    assert extra["unit_code"] == "SZGC"
    assert extra["source"] == "hotline"
    assert extra["group"] == "市容环境"
    assert extra["case_id"] == str(case.id)


def test_status_notes_tell_the_public_only_what_is_meant_for_it(
    world: World, http: httpx.Client, session: Session, clock: FixedClock
) -> None:
    """A dispatcher's instructions, a handler's feedback or a failed check stay inside
    (the status's label is the note then), as on the public timeline; why a report was
    turned down is the status note (see above)."""
    secret = "内部：优先处理，联系王科长 13900000000"
    case = world.case_in(CaseStatus.FILED)
    case = world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC", note=secret)
    (item,) = spec.check_both(http, f"requests/{case.code}", spec.REQUESTS)
    assert secret not in str(item)
    world.act(case, Action.ACCEPT, "handler")
    case = world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()], note="井盖已更换")
    (item,) = spec.check_both(http, f"requests/{case.code}", spec.REQUESTS)
    assert "井盖已更换" not in str(item)
    assert item["status_notes"]  # the label of the status
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    case = world.act(case, Action.CHECK, "collector", passed=False, reason="井盖仍松动，返工")
    (item,) = spec.check_both(http, f"requests/{case.code}", spec.REQUESTS)
    assert "返工" not in str(item)
    # Which actions speak to the public is the city's setting.
    configure(session, clock, public_note_actions=["reject", "feedback"])
    (item,) = spec.check_both(http, f"requests/{case.code}", spec.REQUESTS)
    assert item["status_notes"] == "井盖已更换"  # the last public status change
    with pytest.raises(InvalidInput):
        configure(session, clock, public_note_actions=["tell_everyone"])
