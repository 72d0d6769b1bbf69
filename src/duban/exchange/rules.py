"""The exchange's rules (pure): what of ours goes back up, and when a failed push is
tried again.

What maps to what (README, "Exchange with a higher platform"):

====================================  ============================================
ours (the district)                    the higher platform (the city)
====================================  ============================================
a request of ``agency_responsible``   a case reported here (``exchange_cases``
= our unit there, changed since the   keeps its ``service_request_id``: taken once)
cursor
``close`` (结案) of such a case        ``fixed``: 签收 and 处理反馈 by our unit there,
                                      with our after-photos and public reply
``void``/``reject`` of such a case     ``not_councils_responsibility``: 回退
our case is reopened (重新打开)        its check of our fix failed (返工)
====================================  ============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from duban.kernel.errors import DubanError

#: The actions of ours that are results for the higher platform, and the status we send.
RESULT_STATUS: Final[Mapping[str, str]] = {
    "close": "fixed",
    "void": "not_councils_responsibility",
    "reject": "not_councils_responsibility",
}
#: A higher platform's (Duban) statuses that, after we sent a fix up, mean 返工: the fix
#: failed its check and the case is back with our unit there.
REWORK_TO: Final = frozenset({"handling", "dispatched"})
#: Push states.
PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
#: A push is tried at most this many times, then it waits for ``duban exchange retry``.
MAX_ATTEMPTS: Final = 10
FIRST_RETRY_AFTER: Final = timedelta(minutes=1)
LONGEST_RETRY_AFTER: Final = timedelta(hours=6)
#: Requests asked for in one page of a pull.
PULL_PAGE_SIZE: Final = 200


class ExchangeUnavailable(DubanError):
    """The higher platform did not answer, or answered with a server error: try later."""

    code = "exchange_unavailable"


class ExchangeRefused(DubanError):
    """The higher platform refused what we sent (a 4xx other than 408/429): retrying the
    same request will not help; the message says why."""

    code = "exchange_refused"


class ExchangeUnauthorized(ExchangeUnavailable):
    """The higher platform's staff API refused our credential (401/403: expired or
    revoked). Nothing is given up: what waits to go up stays pending and goes once an
    admin sets a new credential on the link."""

    code = "exchange_unauthorized"


#: What the admin page and the worker show while the staff credential is refused.
STAFF_CREDENTIAL_REFUSED: Final = (
    "the higher platform refused our staff credential (expired or revoked): ask its admin "
    "for a new one (duban user token) and set it on the link"
)


def retry_after(attempts: int) -> timedelta:
    """How long after the ``attempts``-th failed try the next one is due: 1, 2, 4 … min,
    at most six hours."""
    delay: timedelta = FIRST_RETRY_AFTER * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_RETRY_AFTER)


def next_try(now: datetime, attempts: int) -> datetime | None:
    """When a push that failed ``attempts`` times is tried again (None: no more)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + retry_after(attempts)


def is_retryable(status_code: int) -> bool:
    """Whether an HTTP answer means "try again later" rather than "this is refused"."""
    return status_code >= 500 or status_code in (408, 425, 429)
