"""The assembled application: the OpenAPI document, the docs page, JSON errors, health."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.http import API, assert_error

REQUIRED = {
    "/api/v1/auth/token": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/cases": {"get", "post"},
    "/api/v1/cases/{case_id}": {"get"},
    "/api/v1/cases/{case_id}/actions/{action}": {"post"},
    "/api/v1/photos": {"post"},
    "/api/v1/photos/{photo_id}": {"get"},
    "/api/v1/photos/{photo_id}/thumbnail": {"get"},
    "/api/v1/photos/{photo_id}/findings": {"get"},
    "/api/v1/cases/{case_id}/evidence": {"get"},
    "/api/v1/categories": {"get"},
    "/api/v1/supervision-orders": {"get", "post"},
    "/api/v1/supervision-orders/{order_id}": {"get"},
    "/api/v1/supervision-orders/{order_id}/problems/{problem_id}/reply": {"post"},
    "/api/v1/supervision-orders/{order_id}/problems/{problem_id}/accept": {"post"},
    "/api/v1/supervision-orders/{order_id}/problems/{problem_id}/send-back": {"post"},
    "/api/v1/supervision-orders/{order_id}/document.docx": {"get"},
    "/api/v1/supervision-orders/{order_id}/document.pdf": {"get"},
    "/api/v1/campaigns": {"get", "post"},
    "/api/v1/campaigns/{campaign_id}": {"get", "put"},
    "/api/v1/campaigns/{campaign_id}/cases": {"get"},
    "/api/v1/campaigns/{campaign_id}/close": {"post"},
    "/api/v1/campaigns/{campaign_id}/report.docx": {"get"},
    "/api/v1/evaluation": {"get"},
    "/api/v1/evaluation/cases": {"get"},
    "/api/v1/evaluation/hotspots": {"get"},
    "/api/v1/evaluation/hotspots.geojson": {"get"},
    "/api/v1/evaluation/manual-scores": {"post"},
    "/api/v1/reports/bulletin": {"get"},
    "/api/v1/reports/bulletins": {"get"},
    "/api/v1/reports/bulletins/{bulletin_id}/{format}": {"get"},
    "/api/v1/ledgers/template.xlsx": {"get"},
    "/api/v1/ledgers": {"get", "post"},
    "/api/v1/ledgers/{ledger_id}": {"get"},
    "/api/v1/ledgers/{ledger_id}/progress": {"get"},
    "/api/v1/ledgers/{ledger_id}/export.xlsx": {"get"},
    "/api/v1/handover/bodies": {"get", "post"},
    "/api/v1/handover/responsibilities": {"get", "post"},
    "/api/v1/cases/{case_id}/transfers": {"get"},
    "/api/v1/handover/link/{token}": {"get"},
    "/api/v1/handover/link/{token}/photos": {"post"},
    "/api/v1/handover/link/{token}/answer": {"post"},
    "/api/v1/joint-sessions": {"get", "post"},
    "/api/v1/joint-sessions/{session_id}": {"get"},
    "/api/v1/joint-sessions/{session_id}/minutes": {"put"},
    "/api/v1/joint-sessions/{session_id}/decisions": {"post"},
    "/api/v1/joint-sessions/{session_id}/decisions/{decision_id}/reply": {"post"},
    "/api/v1/joint-sessions/{session_id}/decisions/{decision_id}/accept": {"post"},
    "/api/v1/joint-sessions/{session_id}/decisions/{decision_id}/send-back": {"post"},
    "/api/v1/joint-sessions/{session_id}/minutes.docx": {"get"},
    "/api/v1/revisits": {"get"},
    "/api/v1/revisits/{revisit_id}": {"get"},
    "/api/v1/revisits/{revisit_id}/result": {"post"},
    "/api/v1/revisits/{revisit_id}/assign": {"post"},
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


def test_errors_of_unknown_paths_and_methods_are_json(client: TestClient) -> None:
    assert_error(client.get(f"{API}/nothing-here"), 404, "not_found")
    assert_error(client.delete(f"{API}/cases"), 405, "method_not_allowed")


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
