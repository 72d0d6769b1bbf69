"""English texts whose catalogue key is not what a reader of the English face should see
(see :mod:`duban.web.i18n`): the errors' developer wording (:mod:`duban.web.errors_en`) and
keys that name a code, such as ``job:sweep``. Every other key is its own English."""

from __future__ import annotations

from typing import Final

from duban.web.errors_en import ERRORS_EN

EN: Final[dict[str, str]] = {
    # the background jobs (admin worker page), keyed by the job's name
    "job:sweep": "Overdue sweep and warnings",
    "job:deliver": "Notification delivery",
    "job:bulletin": "Monthly bulletin",
    "job:public_alerts": "Public subscription alerts",
    "job:exchange": "Exchange with the higher-level platform",
    # the notification outbox, keyed by a delivery's status
    "delivery:pending": "Waiting",
    "delivery:sending": "Sending",
    "delivery:sent": "Sent",
    "delivery:dead": "Given up",
    **ERRORS_EN,
}
