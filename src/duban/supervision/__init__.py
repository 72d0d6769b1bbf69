"""Supervision (督办): numbered supervision orders compiled from cases, units' answers,
the supervisor's review, the escalation ladder and the orders' documents; joint
sessions (会商) and their decisions; revisits (回头看) of signed-off cases and items;
campaigns (专项行动) and the cases tagged to them.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.supervision.audit import verify_supervision_chains
    from duban.supervision.campaigns import TagReport, campaigns_of_case, tag_active_campaigns
    from duban.supervision.escalation import EscalationReport, escalate_orders
    from duban.supervision.fonts import find_cjk_font
    from duban.supervision.joint import (
        decision_labels,
        decisions_of_case,
        escalate_decisions,
    )
    from duban.supervision.models import Campaign, OrderProblem, SupervisionOrder
    from duban.supervision.orders import OrderInput, create_order
    from duban.supervision.replies import ReplyInput, clean_reply, require_own_photos
    from duban.supervision.revisits import (
        count_recurrences,
        create_due_revisits,
        revisits_of_case,
    )

_EXPORTS: dict[str, str] = {
    "Campaign": "duban.supervision.models",
    "TagReport": "duban.supervision.campaigns",
    "campaigns_of_case": "duban.supervision.campaigns",
    "tag_active_campaigns": "duban.supervision.campaigns",
    "EscalationReport": "duban.supervision.escalation",
    "OrderInput": "duban.supervision.orders",
    "OrderProblem": "duban.supervision.models",
    "create_order": "duban.supervision.orders",
    "ReplyInput": "duban.supervision.replies",
    "clean_reply": "duban.supervision.replies",
    "require_own_photos": "duban.supervision.replies",
    "SupervisionOrder": "duban.supervision.models",
    "count_recurrences": "duban.supervision.revisits",
    "create_due_revisits": "duban.supervision.revisits",
    "decision_labels": "duban.supervision.joint",
    "decisions_of_case": "duban.supervision.joint",
    "escalate_decisions": "duban.supervision.joint",
    "escalate_orders": "duban.supervision.escalation",
    "revisits_of_case": "duban.supervision.revisits",
    "find_cjk_font": "duban.supervision.fonts",
    "verify_supervision_chains": "duban.supervision.audit",
}

__all__ = [
    "Campaign",
    "EscalationReport",
    "OrderInput",
    "OrderProblem",
    "ReplyInput",
    "SupervisionOrder",
    "TagReport",
    "campaigns_of_case",
    "clean_reply",
    "count_recurrences",
    "create_due_revisits",
    "create_order",
    "decision_labels",
    "decisions_of_case",
    "escalate_decisions",
    "escalate_orders",
    "find_cjk_font",
    "require_own_photos",
    "revisits_of_case",
    "tag_active_campaigns",
    "verify_supervision_chains",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
