"""Short-term aliases for tests being changed on other branches; use the factories.

``Town`` is :class:`tests.factories.world.World`; the helpers are in
:mod:`tests.factories.cases` and :mod:`tests.factories.reference`.
"""

from __future__ import annotations

from tests.factories.cases import REPORTER, dispatched_case, event_total, events, filed_case, fresh
from tests.factories.reference import condition
from tests.factories.world import World as Town

__all__ = [
    "REPORTER",
    "Town",
    "condition",
    "dispatched_case",
    "event_total",
    "events",
    "filed_case",
    "fresh",
]
