"""The hand-overs' policy and the shipped responsibility list, read from
``duban/data/handover.yaml`` (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class HandoverPolicy:
    """How long a body has to answer, and how long its link works."""

    reply_days: int
    link_valid_days: int


def shipped_data() -> dict[str, Any]:
    """The whole shipped file (policy, the demo's bodies and list)."""
    text = resources.files("duban.data").joinpath("handover.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def handover_policy() -> HandoverPolicy:
    """The policy of ``handover.yaml`` (read once)."""
    raw = shipped_data()["policy"]
    return HandoverPolicy(
        reply_days=int(raw["reply_days"]), link_valid_days=int(raw["link_valid_days"])
    )
