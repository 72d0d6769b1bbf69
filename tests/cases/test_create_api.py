"""``POST /api/v1/cases``: validation, nothing written on refusal, and Idempotency-Key."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from duban.cases.models import Case, CaseEvent, IdempotencyKey
from duban.kernel.db.session import make_engine, make_session_factory
from duban.reference.categories import install_taxonomy, shipped_taxonomy_data
from tests.fakes import FixedClock
from tests.http import API, Api, assert_error, count_cases

VALID: dict[str, Any] = {
    "source": "hotline",
    "category_code": "E0102",
    "lat": 34.03,
    "lon": 113.82,
    "description": "小区门口暴露垃圾",
}


def _fields(error: dict[str, Any]) -> set[str]:
    """The field names an error points at (schema errors list several)."""
    detail = error.get("detail", {})
    names = {f["field"] for f in detail.get("fields", [])}
    if detail.get("field"):
        names.add(detail["field"])
    return names


def test_create_returns_201_with_the_case_and_its_location(api: Api) -> None:
    response = api.client.post(
        f"{API}/cases",
        json={**VALID, "address": "许昌市魏都区七一路", "condition_code": "E010202"},
        headers=api.headers("operator"),
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["location"] == f"/api/v1/cases/{case['id']}"
    assert "idempotent-replayed" not in response.headers
    assert case["status"] == "reported"
    assert case["category_code"] == "E0102"
    assert case["condition_code"] == "E010202"
    assert case["kind"] == "event"
    assert case["address"] == "许昌市魏都区七一路"
    assert (case["lat"], case["lon"]) == (34.03, 113.82)
    assert case["created_at"] == "2026-11-23T09:00:00+08:00"
    assert api.case(case["id"], "operator") == case


def test_create_with_photos_attaches_them_before(api: Api) -> None:
    photo = api.photo("citizen")
    case = api.report("citizen", source="citizen", photo_ids=[photo])
    assert [(p["id"], p["stage"], p["event_seq"]) for p in case["photos"]] == [(photo, "before", 1)]
    assert case["events"][0]["payload"]["photos"] == [photo]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"lat": 91}, "lat", "90"),
        ({"lat": -90.5}, "lat", "-90"),
        ({"lon": 180.01}, "lon", "180"),
        ({"lat": "north"}, "lat", "number"),
        ({"source": "rumour"}, "source", "hotline"),
        ({"category_code": "E9999"}, "category_code", "unknown category 'E9999'"),
        ({"category_code": "X0102"}, "category_code", "unknown category"),
        ({"category_code": "E01"}, "category_code", "major class"),
        ({"category_code": "C01"}, "category_code", "major class"),
        ({"condition_code": "E010101"}, "condition_code", "belongs to category 'E0101'"),
        ({"condition_code": "C010201"}, "condition_code", "not 'E0102'"),
        ({"condition_code": "E010299"}, "condition_code", "unknown filing condition"),
        ({"photo_ids": ["no-such-photo"]}, "photo_ids", "no-such-photo"),
        ({"description": ""}, "description", "at least 1"),
        ({"description": "   "}, "description", "blank"),
        ({"description": "x" * 5001}, "description", "5000"),
        ({"urgency": "high"}, "urgency", "extra"),
        ({"category": "E0102"}, "category", "extra"),
    ],
)
def test_invalid_reports_are_422_naming_the_field_and_write_nothing(
    api: Api, engine: Engine, change: dict[str, Any], field: str, words: str
) -> None:
    before = count_cases(engine)
    response = api.create(**change)
    error = assert_error(response, 422, "invalid_input")
    assert field in _fields(error), error
    assert words.lower() in error["message"].lower(), error["message"]
    assert count_cases(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CaseEvent)).scalar_one() == 0
    # Nothing was used up either: the next case still gets the day's first number.
    assert api.report()["code"] == "2026112300001"


def test_missing_fields_are_all_named(api: Api, engine: Engine) -> None:
    response = api.client.post(f"{API}/cases", json={}, headers=api.headers("operator"))
    error = assert_error(response, 422, "invalid_input")
    assert {"source", "category_code", "lat", "lon", "description"} <= _fields(error)
    for field in ("source", "category_code", "lat", "lon", "description"):
        assert field in error["message"]
    assert count_cases(engine) == 0


def test_a_body_that_is_not_json_is_422(api: Api, engine: Engine) -> None:
    response = api.client.post(
        f"{API}/cases",
        content=b"source=hotline",
        headers={**api.headers("operator"), "content-type": "application/json"},
    )
    assert_error(response, 422, "invalid_input")
    assert count_cases(engine) == 0


# ------------------------------------------------------------------ Idempotency-Key


def test_same_key_and_body_twice_returns_the_first_case(api: Api, engine: Engine) -> None:
    key = {"Idempotency-Key": "4f1c7d2e-retry-1"}
    first = api.create(headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = api.create(headers=key)
    assert second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["code"] == first.json()["code"]
    assert count_cases(engine) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CaseEvent)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(IdempotencyKey)).scalar_one() == 1


def test_replay_returns_the_case_as_it_is_now(api: Api) -> None:
    key = {"Idempotency-Key": "k-now"}
    first = api.create(headers=key).json()
    api.act(first["id"], "assign", "operator", collector="collector")
    again = api.create(headers=key).json()
    assert again["id"] == first["id"]
    assert again["assignee"] == "collector"


def test_same_key_with_a_different_body_is_409(api: Api, engine: Engine) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert api.create(headers=key).status_code == 201
    response = api.create(headers=key, description="另一件事")
    error = assert_error(response, 409, "idempotency_key_reused")
    assert "Idempotency-Key" in error["message"]
    assert count_cases(engine) == 1


def test_the_same_key_from_different_users_makes_two_cases(api: Api, engine: Engine) -> None:
    key = {"Idempotency-Key": "shared-key"}
    a = api.create("operator", headers=key)
    b = api.create("shift_lead", headers=key)
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert count_cases(engine) == 2


def test_without_a_key_every_post_is_a_new_case(api: Api, engine: Engine) -> None:
    assert api.create().json()["id"] != api.create().json()["id"]
    assert count_cases(engine) == 2


def test_an_overlong_key_is_refused(api: Api, engine: Engine) -> None:
    response = api.create(headers={"Idempotency-Key": "k" * 201})
    error = assert_error(response, 422, "invalid_input")
    assert "Idempotency-Key" in error["message"]
    assert count_cases(engine) == 0


def _post_together(
    url: str, headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    """POST every body at the same moment, one thread and connection each."""
    barrier = threading.Barrier(len(bodies))
    results: list[httpx.Response | BaseException | None] = [None] * len(bodies)

    def worker(i: int) -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            try:
                results[i] = http.post(url, json=bodies[i], headers=headers)
            except BaseException as err:  # reported below, in the test's thread
                results[i] = err

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    out: list[httpx.Response] = []
    for result in results:
        assert isinstance(result, httpx.Response), result
        out.append(result)
    return out


def test_concurrent_retries_with_one_key_make_exactly_one_case(
    api: Api, live_server: str, engine: Engine
) -> None:
    headers = {**api.headers("operator"), "Idempotency-Key": "flaky-network-1"}
    responses = _post_together(f"{live_server}{API}/cases", headers, [VALID] * 8)
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r.headers.get("idempotent-replayed") for r in responses]
    assert replayed.count("true") == 7
    assert count_cases(engine) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CaseEvent)).scalar_one() == 1
        assert conn.execute(select(Case.code)).scalar_one() == "2026112300001"


def test_concurrent_creates_get_distinct_numbers(
    api: Api, live_server: str, engine: Engine
) -> None:
    bodies = [{**VALID, "description": f"第{i}处暴露垃圾"} for i in range(8)]
    responses = _post_together(f"{live_server}{API}/cases", api.headers("operator"), bodies)
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    codes = sorted(r.json()["code"] for r in responses)
    assert codes == [f"20261123{n:05d}" for n in range(1, 9)]
    assert count_cases(engine) == 8


def test_reports_sent_together_each_stand_alone(api: Api, engine: Engine) -> None:
    """Reports that reach the server together are each written on their own: a bad one
    (an unknown category, a NUL in the text) is refused alone, and each answer is the
    case as it was stored."""
    transport = httpx.ASGITransport(app=api.app)
    headers = api.headers("operator")
    bodies = [{**VALID, "description": f"第{i}处暴露垃圾"} for i in range(8)]
    bodies.append({**VALID, "category_code": "E9999"})
    bodies.append({**VALID, "description": "井盖\x00缺失"})

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://duban") as client:
            return list(
                await asyncio.gather(
                    *(client.post(f"{API}/cases", json=b, headers=headers) for b in bodies)
                )
            )

    responses = asyncio.run(send())
    assert [r.status_code for r in responses] == [201] * 8 + [422, 422]
    assert responses[-1].json()["error"]["code"] == "control_character"
    assert count_cases(engine) == 8
    for response in responses[:8]:
        case = response.json()
        assert api.case(case["id"], "operator") == case


def test_a_taxonomy_change_made_elsewhere_reaches_the_next_report(
    api: Api, engine: Engine, clock: FixedClock
) -> None:
    assert api.create(category_code="E0102").status_code == 201
    # Another process (a fresh engine on the same database) retires E0102.
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        data = shipped_taxonomy_data()
        for major in data["classes"]:
            if (major["kind"], major["code"]) == ("event", "01"):
                major["children"] = [c for c in major["children"] if c["code"] != "0102"]
        with make_session_factory(other)() as session:
            install_taxonomy(session, data, now=clock.now())
    finally:
        other.dispose()
    error = assert_error(api.create(category_code="E0102"), 422, "invalid_input")
    assert "unknown category 'E0102'" in error["message"]
    assert count_cases(engine) == 1
