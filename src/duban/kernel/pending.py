"""One pattern for a request that waits for someone's decision.

A handler asks for more time (申请延期) or to park a case (申请挂账); a dispatcher approves or
denies. Supervision orders, sign-offs and joint handling will ask and decide the same way.
The rules are the same for each kind of request:

- a subject (a case) has at most one request of a kind waiting: asking again while one
  waits is a :class:`Conflict`;
- only a waiting request can be approved or denied: deciding when none waits is an
  :class:`IllegalTransition` (the action is not available now);
- a decision ends the request, either way; a request also ends, undecided, when the work
  it belongs to is taken away (a case returned or dispatched anew: its state is None).

Pure: the state is a value (:class:`Pending`, or None when nothing waits); the functions
say whether a step is allowed and what the state becomes. Where the state is kept (the
case's columns) is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from duban.kernel.errors import Conflict, IllegalTransition, Msg

T = TypeVar("T")


class Verdict(StrEnum):
    """How a waiting request was decided."""

    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class PendingKind:
    """A kind of request: its name in messages and the actions that ask and decide it."""

    label: str
    """What it is called in messages, without an article: ``"extension request"``."""
    article: str
    """``"a"`` or ``"an"``, for "already has an extension request waiting"."""
    ask: str
    """The action that asks (``request_extension``)."""
    approve: str
    """The action that approves (``approve_extension``)."""
    deny: str
    """The action that denies (``deny_extension``)."""
    decider: str
    """The role that decides (named when there is nothing to decide)."""

    def verdict_of(self, action: str) -> Verdict | None:
        """The verdict ``action`` gives, or None when it does not decide this kind."""
        if action == self.approve:
            return Verdict.APPROVE
        if action == self.deny:
            return Verdict.DENY
        return None


@dataclass(frozen=True, slots=True)
class Pending(Generic[T]):
    """A request waiting for a decision: what was asked for, and why."""

    asked: T
    """What the request asks for (a new deadline; nothing beyond the reason for parking)."""
    reason: str


@dataclass(frozen=True, slots=True)
class Decision(Generic[T]):
    """A decided request. Afterwards nothing of its kind waits."""

    request: Pending[T]
    verdict: Verdict

    @property
    def approved(self) -> bool:
        return self.verdict is Verdict.APPROVE


def ensure_can_ask(kind: PendingKind, current: Pending[T] | None, *, subject: str) -> None:
    """Refuse a second request while one of ``kind`` waits on ``subject``.

    Raises:
        Conflict: a request of this kind is already waiting.
    """
    if current is not None:
        raise Conflict(
            Msg(
                "{subject} already has {article} {label} waiting for approval",
                subject=subject,
                article=kind.article,
                label=kind.label,
            )
        )


def ask(
    kind: PendingKind, current: Pending[T] | None, request: Pending[T], *, subject: str
) -> Pending[T]:
    """The state once ``request`` is asked: it waits (if nothing of its kind did).

    Raises:
        Conflict: a request of this kind is already waiting.
    """
    ensure_can_ask(kind, current, subject=subject)
    return request


def take(kind: PendingKind, current: Pending[T] | None, *, action: str, status: str) -> Pending[T]:
    """The waiting request that ``action`` is about to decide.

    Raises:
        IllegalTransition: nothing of this kind is waiting (``status`` is the subject's).
    """
    if current is None:
        raise IllegalTransition(
            status=status,
            action=action,
            role=kind.decider,
            reason=Msg("there is no {label} waiting", label=kind.label),
        )
    return current


def decide(
    kind: PendingKind, current: Pending[T] | None, verdict: Verdict, *, status: str
) -> Decision[T]:
    """Approve or deny the waiting request; the state afterwards is None.

    Raises:
        IllegalTransition: nothing of this kind is waiting.
    """
    action = kind.approve if verdict is Verdict.APPROVE else kind.deny
    return Decision(take(kind, current, action=action, status=status), verdict)


def offers(kind: PendingKind, action: str, current: Pending[T] | None) -> bool:
    """Whether ``action`` makes sense now as far as ``kind`` goes: asking only while
    nothing waits, deciding only while something does (other actions: always)."""
    if action == kind.ask:
        return current is None
    if kind.verdict_of(action) is not None:
        return current is not None
    return True
