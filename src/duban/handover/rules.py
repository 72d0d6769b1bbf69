"""Hand-overs (移交) as pure rules: the states of a hand-over, the signed answer link and
the choice of the responsible body from the responsibility list (权责清单).

The link a body answers through carries no account: ``<transfer id>.<expiry>.<mac>``, the
MAC an HMAC-SHA256 (keyed from the app's secret) of the id and the expiry. Anyone holding
the link may answer that one hand-over until it expires or is answered for good; a forged
or altered link fails the MAC, an old one its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class TransferState(StrEnum):
    """Where a hand-over stands (its case is ``transferred`` while it is open or accepted)."""

    OPEN = "open"  # 待答复: sent, no answer yet
    ACCEPTED = "accepted"  # 已受理: the body took it on
    REFUSED = "refused"  # 已退回: not the body's; back to the dispatcher
    DONE = "done"  # 已办结: the body reports it done, with photos


#: States in which the body may still answer (the link works).
ANSWERABLE: Final = frozenset({TransferState.OPEN, TransferState.ACCEPTED})

STATE_LABELS: Final = {
    TransferState.OPEN: ("待答复", "Waiting for an answer"),
    TransferState.ACCEPTED: ("已受理", "Accepted"),
    TransferState.REFUSED: ("已退回", "Refused"),
    TransferState.DONE: ("已办结", "Done"),
}


class Answer(StrEnum):
    """What a body answers."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    DONE = "done"


#: What each answer makes of an answerable hand-over.
ANSWER_STATE: Final = {
    Answer.ACCEPT: TransferState.ACCEPTED,
    Answer.REFUSE: TransferState.REFUSED,
    Answer.DONE: TransferState.DONE,
}


class LinkProblem(StrEnum):
    """Why a link does not open its hand-over."""

    FORGED = "forged"  # malformed, or the MAC does not match
    EXPIRED = "expired"


class BadLink(Exception):
    """The link is forged or expired (``problem`` says which)."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(f"the hand-over link is {problem.value}")
        self.problem = problem


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"duban-handover-link\x00" + secret.encode("utf-8")).digest()


def _mac(secret: str, transfer_id: int, expires: int) -> str:
    digest = hmac.new(_key(secret), f"{transfer_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_link(secret: str, transfer_id: int, expires: int) -> str:
    """The token of a hand-over's link, valid until ``expires`` (Unix seconds)."""
    return f"{transfer_id}.{expires}.{_mac(secret, transfer_id, expires)}"


def read_link(secret: str, token: str, now: int) -> int:
    """The hand-over id a token names; :class:`BadLink` if forged or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(token) > 200:
        raise BadLink(LinkProblem.FORGED)
    transfer_id, expires = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2], _mac(secret, transfer_id, expires)):
        raise BadLink(LinkProblem.FORGED)
    if now >= expires:
        raise BadLink(LinkProblem.EXPIRED)
    return transfer_id


@dataclass(frozen=True)
class Entry:
    """One line of the responsibility list as the choice reads it."""

    id: int
    category_code: str | None  # a major class or subclass; None: any
    condition_code: str | None  # a filing condition; None: any


def entry_rank(entry: Entry, *, category_code: str, condition_code: str | None) -> int | None:
    """How specifically ``entry`` names the case's matter (higher wins), None: not at all."""
    if entry.condition_code is not None:
        return 3 if entry.condition_code == condition_code else None
    if entry.category_code is None:
        return None  # an entry must name a matter
    if entry.category_code == category_code:
        return 2
    if category_code.startswith(entry.category_code):
        return 1  # the subclass's major class (E05 of E0505)
    return None


def best_entry(
    entries: Sequence[Entry], *, category_code: str, condition_code: str | None
) -> Entry | None:
    """The most specific entry for the matter (condition > subclass > major class; the
    older entry wins a tie), or None when the list does not name it."""
    ranked = [
        (rank, -e.id, e)
        for e in entries
        if (rank := entry_rank(e, category_code=category_code, condition_code=condition_code))
        is not None
    ]
    if not ranked:
        return None
    return max(ranked, key=lambda r: (r[0], r[1]))[2]
