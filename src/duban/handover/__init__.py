"""Hand-overs (移交) to bodies outside 城管 and the responsibility list (权责清单).

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.handover.models import CaseTransfer, Responsibility
    from duban.handover.rules import STATE_LABELS, Answer, TransferState
    from duban.handover.service import (
        answer_transfer,
        at_once_entry,
        current_transfer,
        link_token,
        list_bodies,
        load_list,
        mark_overdue_transfers,
        mark_transfer_overdue,
        open_transfer,
        responsibility_for,
        transfer_figures,
        transfers_of,
    )

_EXPORTS: dict[str, str] = {
    "STATE_LABELS": "duban.handover.rules",
    "Answer": "duban.handover.rules",
    "CaseTransfer": "duban.handover.models",
    "Responsibility": "duban.handover.models",
    "TransferState": "duban.handover.rules",
    "answer_transfer": "duban.handover.service",
    "at_once_entry": "duban.handover.service",
    "current_transfer": "duban.handover.service",
    "link_token": "duban.handover.service",
    "list_bodies": "duban.handover.service",
    "load_list": "duban.handover.service",
    "mark_overdue_transfers": "duban.handover.service",
    "mark_transfer_overdue": "duban.handover.service",
    "open_transfer": "duban.handover.service",
    "responsibility_for": "duban.handover.service",
    "transfer_figures": "duban.handover.service",
    "transfers_of": "duban.handover.service",
}

__all__ = [
    "STATE_LABELS",
    "Answer",
    "CaseTransfer",
    "Responsibility",
    "TransferState",
    "answer_transfer",
    "at_once_entry",
    "current_transfer",
    "link_token",
    "list_bodies",
    "load_list",
    "mark_overdue_transfers",
    "mark_transfer_overdue",
    "open_transfer",
    "responsibility_for",
    "transfer_figures",
    "transfers_of",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
