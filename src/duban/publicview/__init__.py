"""The public view (FixMyStreet's "reports near you"): the public map and list of reports
near a place, each report's public page, an Atom feed per area, and subscriptions to an
area by email.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.publicview.models import PublicSubscription
    from duban.publicview.rules import OutgoingEmail
    from duban.publicview.subscriptions import (
        alert_subscribers,
        confirmation_message,
        subscriber_messages,
    )

_EXPORTS: dict[str, str] = {
    "OutgoingEmail": "duban.publicview.rules",
    "PublicSubscription": "duban.publicview.models",
    "alert_subscribers": "duban.publicview.subscriptions",
    "confirmation_message": "duban.publicview.subscriptions",
    "subscriber_messages": "duban.publicview.subscriptions",
}

__all__ = [
    "OutgoingEmail",
    "PublicSubscription",
    "alert_subscribers",
    "confirmation_message",
    "subscriber_messages",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
