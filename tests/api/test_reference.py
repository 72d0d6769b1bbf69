"""The taxonomy, the OpenAPI document, the docs page and how times are written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import API, Api, assert_error


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from walk(node["children"])


def test_categories_tree(api: Api) -> None:
    response = api.get("/categories", "citizen")
    assert response.status_code == 200
    tree = response.json()
    by_code = {n["code"]: n for n in walk(tree)}
    assert len(by_code) == sum(1 for _ in walk(tree))  # codes are unique across kinds
    kinds = {n["kind"] for n in tree}
    assert kinds == {"component", "event"}
    for root in tree:
        assert root["level"] == 1
        assert root["kind_name"] == ("部件" if root["kind"] == "component" else "事件")
        assert root["children"], root["code"]
        for child in root["children"]:
            assert child["level"] == 2
            assert child["kind"] == root["kind"]
            assert child["code"].startswith(root["code"])
            assert child["children"] == []

    c0102, e0102 = by_code["C0102"], by_code["E0102"]
    assert (c0102["kind"], c0102["name"]) == ("component", "污水井盖")
    assert (e0102["kind"], e0102["name"]) == ("event", "暴露垃圾")
    assert c0102 in by_code["C01"]["children"]
    assert e0102 in by_code["E01"]["children"]
    assert e0102["conditions"][0] == {
        "code": "E010201",
        "name": "道路、广场等公共区域可见暴露垃圾",
        "limit": {"amount": 4, "unit": "work_hours"},
        "close_rule": "垃圾清理干净，无残留",
        "urgent": False,
    }
    assert c0102["conditions"][0]["limit"] == {"amount": 2, "unit": "hours"}
    assert c0102["conditions"][0]["urgent"] is True
    condition_codes = [c["code"] for n in walk(tree) for c in n["conditions"]]
    assert len(condition_codes) == len(set(condition_codes))
    for node in walk(tree):
        for cond in node["conditions"]:
            assert cond["code"].startswith(node["code"])
            assert cond["limit"]["unit"] in {"work_hours", "work_days", "hours", "days", "minutes"}
            assert cond["limit"]["amount"] > 0


def test_categories_need_sign_in(client: TestClient) -> None:
    assert_error(client.get(f"{API}/categories"), 401, "unauthenticated")


REQUIRED = {
    "/api/v1/auth/token": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/cases": {"get", "post"},
    "/api/v1/cases/{case_id}": {"get"},
    "/api/v1/cases/{case_id}/actions/{action}": {"post"},
    "/api/v1/photos": {"post"},
    "/api/v1/photos/{photo_id}": {"get"},
    "/api/v1/categories": {"get"},
}


def test_openapi_lists_the_required_paths(client: TestClient) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    for path, methods in REQUIRED.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), path
    token = spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token
    create = spec["paths"]["/api/v1/cases"]["post"]
    assert "201" in create["responses"]
    assert "422" in create["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert create["security"] == [{"OAuth2PasswordBearer": []}]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CaseCreate"}
    report = spec["components"]["schemas"]["CaseCreate"]
    assert {"source", "category_code", "lat", "lon", "description"} <= set(report["required"])
    assert report["properties"]["source"] == {
        "$ref": "#/components/schemas/Source",
        "description": "patrol | citizen | hotline | inspection | supervision | sensor",
    }
    assert "Source" in spec["components"]["schemas"]
    listing = {p["name"] for p in spec["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert {
        "status",
        "unit",
        "category",
        "source",
        "overdue",
        "grid",
        "created_from",
        "created_to",
        "page",
        "page_size",
    } <= listing
    act = spec["paths"]["/api/v1/cases/{case_id}/actions/{action}"]["post"]
    for name in ("assign", "verify", "dispatch", "request_extension", "merge", "supervise"):
        assert name in act["description"]
    upload = spec["paths"]["/api/v1/photos"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    case_schema = spec["components"]["schemas"]["CaseRead"]["properties"]
    for field in ("code", "status", "unit", "due_at", "overdue", "rework_count", "events"):
        assert field in case_schema


def test_docs_page_loads_nothing_from_other_hosts(client: TestClient) -> None:
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "/api/v1/openapi.json" in html
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls
    assert not [u for u in urls if re.match(r"(https?:)?//", u)], urls
    assert not re.search(r"""url\(\s*["']?(https?:)?//""", html)
    # Swagger UI's validator badge would fetch validator.swagger.io unless turned off.
    assert '"validatorUrl": null' in html
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    # "/" is the web front door (tests/web); the API docs stay at /api/v1/docs.
    assert client.get("/", follow_redirects=False).headers["content-type"].startswith("text/html")


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


def test_errors_of_unknown_paths_and_methods_are_json(client: TestClient) -> None:
    assert_error(client.get(f"{API}/nothing-here"), 404, "not_found")
    assert_error(client.delete(f"{API}/cases"), 405, "method_not_allowed")


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
