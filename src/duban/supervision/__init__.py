"""Supervision (督办): numbered supervision orders compiled from cases, units' answers,
the supervisor's review, the escalation ladder and the orders' documents.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.supervision.escalation import EscalationReport, escalate_orders
    from duban.supervision.fonts import find_cjk_font
    from duban.supervision.models import OrderProblem, SupervisionOrder

_EXPORTS: dict[str, str] = {
    "EscalationReport": "duban.supervision.escalation",
    "OrderProblem": "duban.supervision.models",
    "SupervisionOrder": "duban.supervision.models",
    "escalate_orders": "duban.supervision.escalation",
    "find_cjk_font": "duban.supervision.fonts",
}

__all__ = [
    "EscalationReport",
    "OrderProblem",
    "SupervisionOrder",
    "escalate_orders",
    "find_cjk_font",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
