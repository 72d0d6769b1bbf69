"""Edges answer 4xx (issue 12, item 7): ids and pages past a column's range, times at
the ends of the calendar, NaN, NUL — 404 or 422 (Open311: 400/404), never a 5xx; the
OpenAPI document lists the error answers of each operation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.http import API, Api

pytestmark = pytest.mark.attack

HUGE = ["2147483648", "9223372036854775808", "99999999999999999999999", "-9223372036854775809"]
ENDS_OF_TIME = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31",
]


@pytest.mark.parametrize("number", HUGE)
def test_ids_past_the_columns_range_are_404_or_422(api: Api, number: str) -> None:
    for path in (f"/cases/{number}", f"/cases/{number}/events", f"/cases/{number}/deadline"):
        response = api.get(path, "dispatcher")
        assert response.status_code in (404, 405, 422), (path, response.text)
    acted = api.act_raw(number, "verify", "dispatcher")  # type: ignore[arg-type]
    assert acted.status_code in (404, 422), acted.text
    merged = api.act_raw(1, "merge", "dispatcher", duplicate_of=int(number), reason="x")
    assert merged.status_code in (404, 409, 422), merged.text
    paged = api.get("/cases", "dispatcher", page=number)
    assert paged.status_code in (200, 422), paged.text  # a page past the end is empty
    if int(number) >= 2**63:
        assert paged.status_code == 422
    assert api.client.get(f"/open311/v2/requests/{number}.json").status_code in (400, 404)


@pytest.mark.parametrize("moment", ENDS_OF_TIME)
def test_times_at_the_ends_of_the_calendar_are_never_a_5xx(api: Api, moment: str) -> None:
    for name in ("created_from", "created_to"):
        response = api.get("/cases", "dispatcher", **{name: moment})
        assert response.status_code in (200, 422), response.text
    open311 = api.client.get("/open311/v2/requests.json", params={"start_date": moment})
    assert open311.status_code in (200, 400), open311.text


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_nan_and_infinity_are_422(api: Api, value: str) -> None:
    response = api.get("/cases/nearby", "dispatcher", lat=value, lon="113.82")
    assert response.status_code == 422, response.text
    created = api.client.post(
        f"{API}/cases",
        content=(
            '{"source": "hotline", "category_code": "E0102", "lat": NaN, "lon": 113.82, '
            '"description": "x"}'
        ).replace("NaN", value if value[0] != "1" else "1e999"),
        headers={**api.headers("operator"), "Content-Type": "application/json"},
    )
    assert created.status_code == 422, created.text


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/cases", {"unit": "SZ\x00GC"}),
        ("/cases", {"grid": "\x00"}),
        ("/cases", {"category": "E01\x00"}),
        ("/cases/nearby", {"lat": "34.03", "lon": "113.82", "category": "\x00"}),
    ],
)
def test_nul_in_a_filter_is_422(api: Api, path: str, params: dict[str, Any]) -> None:
    response = api.get(path, "dispatcher", **params)
    assert response.status_code == 422, response.text
    response = api.client.get("/open311/v2/requests.json", params={"service_code": "E\x00"})
    assert response.status_code in (400, 422), response.text


def test_every_operation_documents_its_error_answers(app: FastAPI) -> None:
    document = app.openapi()
    operations = 0
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            operations += 1
            codes = set(operation["responses"])
            wanted = (
                {"401", "403", "404", "409", "422"}
                if path.startswith(API)
                else {"400", "403", "404"}
            )
            assert wanted <= codes, (method, path, sorted(codes))
    assert operations > 40
    assert "ErrorResponse" in document["components"]["schemas"]


def test_open311_formats_are_an_enum(app: FastAPI, api: Api) -> None:
    document = app.openapi()
    fmt_params = [
        p
        for path, methods in document["paths"].items()
        if path.startswith("/open311/")
        for operation in methods.values()
        for p in operation.get("parameters", [])
        if p["name"] == "fmt"
    ]
    assert len(fmt_params) >= 8
    assert all(sorted(p["schema"]["enum"]) == ["json", "xml"] for p in fmt_params)
    assert api.client.get("/open311/v2/services.yaml").status_code == 404
