"""Notifications: the outbox, people's channels, webhook subscriptions and delivery.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.notify.delivery import DeliveryReport, deliver_due, wait_for_work, wake
    from duban.notify.models import (
        CaseContact,
        Notification,
        NotificationAttempt,
        NotifyPreference,
        WebhookSubscription,
    )
    from duban.notify.outbox import (
        CaseChange,
        case_changed,
        cases_reported,
        enqueue,
        order_notice,
        remember_tracking_link,
        silenced,
        warn_deadline,
    )
    from duban.notify.policy import NotifyPolicy, notify_policy
    from duban.notify.preferences import (
        Preferences,
        add_subscription,
        get_preferences,
        list_subscriptions,
        outbox_counts,
        recent_failures,
        remove_subscription,
        set_preferences,
    )
    from duban.notify.rules import Channel, DeliveryStatus, Kind, is_warning_due

_EXPORTS: dict[str, str] = {
    "CaseChange": "duban.notify.outbox",
    "CaseContact": "duban.notify.models",
    "Channel": "duban.notify.rules",
    "DeliveryReport": "duban.notify.delivery",
    "DeliveryStatus": "duban.notify.rules",
    "Kind": "duban.notify.rules",
    "Notification": "duban.notify.models",
    "NotificationAttempt": "duban.notify.models",
    "NotifyPolicy": "duban.notify.policy",
    "NotifyPreference": "duban.notify.models",
    "Preferences": "duban.notify.preferences",
    "WebhookSubscription": "duban.notify.models",
    "add_subscription": "duban.notify.preferences",
    "case_changed": "duban.notify.outbox",
    "cases_reported": "duban.notify.outbox",
    "deliver_due": "duban.notify.delivery",
    "enqueue": "duban.notify.outbox",
    "get_preferences": "duban.notify.preferences",
    "is_warning_due": "duban.notify.rules",
    "list_subscriptions": "duban.notify.preferences",
    "notify_policy": "duban.notify.policy",
    "outbox_counts": "duban.notify.preferences",
    "recent_failures": "duban.notify.preferences",
    "order_notice": "duban.notify.outbox",
    "remember_tracking_link": "duban.notify.outbox",
    "remove_subscription": "duban.notify.preferences",
    "set_preferences": "duban.notify.preferences",
    "silenced": "duban.notify.outbox",
    "wait_for_work": "duban.notify.delivery",
    "wake": "duban.notify.delivery",
    "warn_deadline": "duban.notify.outbox",
}

__all__ = [
    "CaseChange",
    "CaseContact",
    "Channel",
    "DeliveryReport",
    "DeliveryStatus",
    "Kind",
    "Notification",
    "NotificationAttempt",
    "NotifyPolicy",
    "NotifyPreference",
    "Preferences",
    "WebhookSubscription",
    "add_subscription",
    "case_changed",
    "cases_reported",
    "deliver_due",
    "enqueue",
    "get_preferences",
    "is_warning_due",
    "list_subscriptions",
    "notify_policy",
    "order_notice",
    "outbox_counts",
    "recent_failures",
    "remember_tracking_link",
    "remove_subscription",
    "set_preferences",
    "silenced",
    "wait_for_work",
    "wake",
    "warn_deadline",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
