"""Schemathesis over the OpenAPI document (issue 12, item 7): generated requests for
every operation, as a few roles (anonymous, citizen, staff, admin), and not one answer
may be a 5xx. Bounded: a few examples per operation and role, derandomized."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from tests.http import API, Api

pytestmark = [pytest.mark.attack, pytest.mark.filterwarnings("ignore")]

ROLES = (None, "citizen", "dispatcher", "admin")
EXAMPLES = 5


def _send(client: TestClient, kwargs: dict[str, Any]) -> Any:
    method = kwargs.pop("method")
    url = kwargs.pop("url")
    kwargs.pop("cookies", None)
    return client.request(method, url, follow_redirects=False, **kwargs)


@pytest.mark.parametrize("role", ROLES)
def test_no_generated_request_gets_a_5xx(role: str | None, api: Api, app: FastAPI) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        _run(role, api, app, client)


def _run(role: str | None, api: Api, app: FastAPI, client: TestClient) -> None:
    schema = schemathesis.openapi.from_dict(app.openapi())
    headers = api.headers(role) if role else {}
    failures: list[str] = []
    sent = {"n": 0}
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in (f"{API}/auth/logout",):
            continue  # signing out would end this role's token for the operations after it

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            response = _send(client, kwargs)
            sent["n"] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} → {response.status_code}: "
                    f"{response.text[:300]}"
                )

        check()
    print(f"schemathesis as {role or 'anonymous'}: {sent['n']} requests, no 5xx")
    assert sent["n"] > 120
    assert failures == [], "\n".join(failures[:20])
    assert time.perf_counter() - started < 120
