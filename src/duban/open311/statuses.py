"""Open311 statuses: how a case's status reads as a v2 and FixMyStreet status (pure).

:data:`STATUS_TABLE` is the one table of that mapping: every Duban status onto v2
``open``/``closed`` and a FixMyStreet extended status; :func:`statuses_for` reads a
``status`` filter back into Duban statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from duban.cases import OPEN, STATUS_LABELS, TERMINAL, CaseStatus
from duban.kernel.errors import InvalidInput, Msg


@dataclass(frozen=True)
class StatusMapping:
    """How one of our statuses is said in Open311."""

    v2: str  # GeoReport v2: open | closed
    extended: str  # FixMyStreet's extended status, lower case
    description: str  # the bulk layout's free-text status_description


def _mapping(status: CaseStatus, extended: str) -> StatusMapping:
    return StatusMapping(
        v2="closed" if status in TERMINAL else "open",
        extended=extended,
        description=STATUS_LABELS[status][1],
    )


S = CaseStatus
#: THE mapping of our statuses onto Open311 (v2 follows the workflow's TERMINAL set).
STATUS_TABLE: Final[Mapping[CaseStatus, StatusMapping]] = {
    S.REPORTED: _mapping(S.REPORTED, "investigating"),  # 已上报: being verified on site
    S.VERIFIED: _mapping(S.VERIFIED, "investigating"),  # 已核实: confirmed, not yet filed
    S.FILED: _mapping(S.FILED, "action_scheduled"),  # 已立案: waiting for dispatch
    S.DISPATCHED: _mapping(S.DISPATCHED, "action_scheduled"),  # 已派遣: the unit has it
    S.HANDLING: _mapping(S.HANDLING, "in_progress"),  # 处置中
    S.RETURNED: _mapping(S.RETURNED, "internal_referral"),  # 已回退: to be re-dispatched
    S.PARKED: _mapping(S.PARKED, "planned"),  # 已挂账: kept for later, clock stopped
    S.AWAITING_CHECK: _mapping(S.AWAITING_CHECK, "in_progress"),  # 待核查: fix reported
    S.CHECKED: _mapping(S.CHECKED, "fixed"),  # 核查通过: fix confirmed, closing pending
    S.CLOSED: _mapping(S.CLOSED, "fixed"),  # 已结案: closed only after a passed check
    S.REJECTED: _mapping(S.REJECTED, "not_councils_responsibility"),  # 不予受理
    S.VOIDED: _mapping(S.VOIDED, "no_further_action"),  # 已作废
    S.MERGED: _mapping(S.MERGED, "duplicate"),  # 已合并
    # 已移交: handed over to a body outside 城管 (交警, 燃气…), tracked until it answers.
    S.TRANSFERRED: _mapping(S.TRANSFERRED, "internal_referral"),
    # 已下派: sent down to a district's or street's platform (二级派遣), to be dispatched.
    S.AT_PLATFORM: _mapping(S.AT_PLATFORM, "action_scheduled"),
}

#: FixMyStreet's extended statuses, and whether each means the problem is still open.
#: Used to read statuses that clients send (POST servicerequestupdates, status filters).
EXTENDED_IS_OPEN: Final[Mapping[str, bool]] = {
    "open": True,
    "reopen": True,
    "investigating": True,
    "action_scheduled": True,
    "in_progress": True,
    "planned": True,
    "for_triage": True,
    "internal_referral": True,
    "unchanged": True,
    "fixed": False,
    "closed": False,
    "duplicate": False,
    "not_councils_responsibility": False,
    "no_further_action": False,
    "cancelled": False,
}


def statuses_for(token: str) -> frozenset[CaseStatus]:
    """Our statuses that an Open311 status word selects (``open``, ``closed`` or extended)."""
    word = token.strip().lower().replace(" ", "_")
    if word == "open":
        return frozenset(OPEN)
    if word == "closed":
        return frozenset(TERMINAL)
    found = frozenset(s for s, m in STATUS_TABLE.items() if m.extended == word)
    if not found and word not in EXTENDED_IS_OPEN:
        names = ", ".join(["open", "closed", *sorted(EXTENDED_IS_OPEN)])
        raise InvalidInput(
            Msg("unknown status '{token}'; one of: {names}", token=token, names=names),
            field="status",
        )
    return found
