"""The attack suite (issue 12): hostile inputs, limits, outages, who sees what.

Every test here is marked ``attack`` and bounded (seconds). The fixtures are the API
tests' (the real app on this test's database, nothing mocked).
"""

from __future__ import annotations

import pytest

from tests.api.conftest import (  # noqa: F401  (fixtures)
    API,
    Api,
    api,
    app,
    client,
    jpeg_bytes,
    settings,
    world,
)

pytestmark = pytest.mark.attack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/attack/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.attack)
