"""Ledgers: rectification ledgers (整改台账) — the tree 方面 → 类别 → 问题 → 具体表现 →
整改措施, progress, sign-off against evidence (对账销号), weekly snapshots, Excel in/out.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.ledgers.events import verify_ledger_chains
    from duban.ledgers.models import LedgerNode
    from duban.ledgers.overdue import mark_overdue_measures
    from duban.ledgers.queries import awaiting, items_of_case, list_ledgers, pickable_items
    from duban.ledgers.raising import raise_case
    from duban.ledgers.revisits import reopen_item, signed_off_items
    from duban.ledgers.scope import node_visible

_EXPORTS: dict[str, str] = {
    "LedgerNode": "duban.ledgers.models",
    "awaiting": "duban.ledgers.queries",
    "items_of_case": "duban.ledgers.queries",
    "list_ledgers": "duban.ledgers.queries",
    "mark_overdue_measures": "duban.ledgers.overdue",
    "pickable_items": "duban.ledgers.queries",
    "raise_case": "duban.ledgers.raising",
    "node_visible": "duban.ledgers.scope",
    "reopen_item": "duban.ledgers.revisits",
    "signed_off_items": "duban.ledgers.revisits",
    "verify_ledger_chains": "duban.ledgers.events",
}

__all__ = [
    "LedgerNode",
    "awaiting",
    "items_of_case",
    "list_ledgers",
    "mark_overdue_measures",
    "node_visible",
    "pickable_items",
    "raise_case",
    "reopen_item",
    "signed_off_items",
    "verify_ledger_chains",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
