"""The attack suite (issue 12): hostile inputs, limits, outages, who sees what.

Every test here is marked ``attack`` and bounded (seconds). The fixtures are
tests/conftest.py's (the real app on this test's database, nothing mocked).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.attack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/attack/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.attack)
