"""The notification policy and message catalogue, read from ``duban/data/notify.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml

from duban.notify.rules import Retry


@dataclass(frozen=True)
class NotifyPolicy:
    """Retries, the worker's timetable (seconds per job) and the message catalogue."""

    retry: Retry
    lease: timedelta
    batch: int
    jobs: dict[str, float] = field(default_factory=dict)
    messages: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


@cache
def notify_policy() -> NotifyPolicy:
    """The shipped policy (read once)."""
    text = resources.files("duban.data").joinpath("notify.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    delivery = data["delivery"]
    return NotifyPolicy(
        retry=Retry(
            max_attempts=int(delivery["max_attempts"]),
            first_retry=timedelta(seconds=float(delivery["first_retry_seconds"])),
            factor=float(delivery["backoff_factor"]),
            max_backoff=timedelta(seconds=float(delivery["max_backoff_seconds"])),
        ),
        lease=timedelta(seconds=float(delivery["lease_seconds"])),
        batch=int(delivery["batch"]),
        jobs={name: float(every) for name, every in data["jobs"].items()},
        messages=data["messages"],
    )
