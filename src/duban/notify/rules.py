"""Notifications, pure: the kinds, who gets which, retry timing and the message text.

Nothing here reads the database or sends anything; :mod:`duban.notify.outbox` decides
with these rules and writes the outbox, :mod:`duban.notify.delivery` sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from string import Formatter
from typing import Any, Final


class Kind(StrEnum):
    """What a notification says (a message-catalogue entry of ``data/notify.yaml``)."""

    RECEIVED = "received"  # citizen: 已受理
    DISPATCHED = "dispatched"  # citizen: 已派遣
    FIXED = "fixed"  # citizen: 已处置，请评价
    NEW_TASK = "new_task"  # staff: a new task (a unit's dispatch, a collector's verify/check)
    DEADLINE_WARNING = "deadline_warning"  # staff: 黄灯预警
    SUPERVISION = "supervision"  # staff: 督办 notices on a case
    SUPERVISION_ORDER = "supervision_order"  # staff: a 督办单 issued, or a step of its ladder
    HANDOVER = "handover"  # an outside body: a hand-over (移交) and its answer link
    WEBHOOK = "webhook"  # a signed POST of a case event to a subscriber
    AREA_CONFIRMATION = "area_confirmation"  # public: confirm a subscription to an area
    AREA_ALERT = "area_alert"  # public: a new report in an area someone follows


class Channel(StrEnum):
    """How a notification travels."""

    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    """Where a message of the outbox is."""

    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker (until its lease runs out)
    SENT = "sent"
    DEAD = "dead"  # given up: out of attempts, or a permanent error


#: Kinds whose subject and body come written by the capability that queues them, in the
#: recipient's language (the public view's emails, from its own catalogue): their
#: catalogue entry is just ``{subject}`` / ``{body}``, and delivery fills in nothing else.
PRERENDERED_KINDS: Final = frozenset({Kind.AREA_CONFIRMATION, Kind.AREA_ALERT})

#: The channels a person may choose for themselves (webhooks are the admin's).
PERSONAL_CHANNELS: Final = (Channel.EMAIL, Channel.SMS, Channel.WECHAT)
LOCALES: Final = ("zh-CN", "en")


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a message is tried (``delivery`` of notify.yaml)."""

    max_attempts: int = 6
    first_retry: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_backoff: timedelta = timedelta(hours=1)

    def wait_after(self, attempts: int) -> timedelta | None:
        """The wait before the next attempt after ``attempts`` failed ones; None: give up."""
        if attempts >= self.max_attempts:
            return None
        seconds = self.first_retry.total_seconds() * self.factor ** max(attempts - 1, 0)
        return min(timedelta(seconds=seconds), self.max_backoff)


#: What a citizen who left a contact hears of, by the action taken on the case.
CITIZEN_KINDS: Final[Mapping[str, Kind]] = {
    "report": Kind.RECEIVED,
    "dispatch": Kind.DISPATCHED,
    "close": Kind.FIXED,
}


def staff_kind(action: str, *, is_overdue: bool = False) -> Kind | None:
    """What staff hear of an action: a new task on dispatch (the unit) and assignment (the
    collector), a 督办 notice on supervise."""
    if action in ("dispatch", "assign"):
        return Kind.NEW_TASK
    if action == "supervise":
        return Kind.SUPERVISION
    return None


#: The events of a supervision order (督办单) its units' handlers hear of: the issue, and
#: the escalation ladder's steps (催办提醒, 通报, 提请领导督办).
ORDER_NOTICE_ACTIONS: Final = frozenset({"issue", "remind", "notify", "escalate"})


def is_warning_due(fraction_used: float, *, yellow_at: float) -> bool:
    """Whether a case's clock reached the yellow light (and not yet its deadline)."""
    return yellow_at <= fraction_used < 1.0


class _Blank(dict[str, Any]):
    """Format parameters where a missing one reads as empty, not as an error."""

    def __missing__(self, key: str) -> str:
        return ""


def render(
    catalogue: Mapping[str, Mapping[str, Mapping[str, str]]],
    kind: str,
    locale: str,
    params: Mapping[str, Any],
) -> tuple[str, str]:
    """The subject and text of ``kind`` in ``locale`` (zh-CN if it has none), filled in."""
    entry = catalogue[kind]
    texts = entry.get(locale) or entry["zh-CN"]
    values = _Blank({k: "" if v is None else v for k, v in params.items()})
    formatter = Formatter()
    return (
        formatter.vformat(texts["subject"], (), values),
        formatter.vformat(texts["body"], (), values),
    )
