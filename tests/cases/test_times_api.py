"""How the API writes a case's times: always in the city's zone."""

from __future__ import annotations

import re
from datetime import datetime

from tests.http import Api

ZONED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$")


def test_every_time_in_a_case_carries_the_city_zone(api: Api) -> None:
    case = api.handling()
    api.act(case["id"], "request_extension", "handler", reason="x", until="2026-11-26T10:00:00Z")
    api.act(case["id"], "feedback", "handler", photo_ids=[api.photo()])
    body = api.case(case["id"])
    times = {
        k: v for k, v in body.items() if k.endswith("_at") or k in ("pending_extension_until",)
    }
    times = {k: v for k, v in times.items() if v is not None}
    assert {"created_at", "updated_at", "due_at", "dispatched_at", "handled_at"} <= set(times)
    for name, value in times.items():
        assert ZONED.match(value), (name, value)
    for event in body["events"]:
        assert ZONED.match(event["occurred_at"]), event
    listed = api.get("/cases", "dispatcher").json()["items"][0]
    assert ZONED.match(listed["due_at"])
    assert ZONED.match(listed["created_at"])


def test_pending_extension_is_shown_in_the_city_zone(api: Api) -> None:
    case = api.handling()
    done = api.act(
        case["id"], "request_extension", "handler", reason="x", until="2026-11-26T10:00:00Z"
    )
    assert done["pending_extension_until"] == "2026-11-26T18:00:00+08:00"
    assert datetime.fromisoformat(done["pending_extension_until"]).utcoffset() is not None
