"""The API docs page in a real browser: the vendored Swagger UI reads FastAPI's OpenAPI 3.1
document and lists the operations (an older one answered "Unable to render this
definition")."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Browse, Shots

pytestmark = pytest.mark.slow


def test_the_api_docs_render_the_operations(browse: Browse, shots: Shots) -> None:
    page = browse.page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(browse.base) else None,
    )
    page.goto("/api/v1/docs")
    # A 2 MB script and a large document: give a loaded machine time to draw them.
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".opblock").count() > 20
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/cases").first).to_be_visible()
    assert "Unable to render" not in page.content()
    assert "OAS 3.1" in page.locator(".info").inner_text()
    # One operation opens with its parameters and responses.
    page.locator(".opblock-summary", has_text="/api/v1/cases/{case_id}").first.click()
    expect(page.locator(".opblock-body .responses-wrapper").first).to_be_visible()
    shots.take(page, "api-docs")
    assert not outside, outside
