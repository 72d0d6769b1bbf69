"""The public view's policy, read from ``duban/data/public.yaml`` (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class PublicPolicy:
    """Which cases anybody may see, and the sizes of the list and the feed."""

    hidden_categories: tuple[str, ...]
    hidden_statuses: tuple[str, ...]
    hide_duplicates: bool
    page_size: int
    feed_entries: int
    default_radius_m: int
    confirm_valid_days: int


@cache
def public_policy() -> PublicPolicy:
    """The policy of ``public.yaml`` (read once)."""
    text = resources.files("duban.data").joinpath("public.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return PublicPolicy(
        hidden_categories=tuple(str(c) for c in raw.get("hidden_categories") or ()),
        hidden_statuses=tuple(str(s) for s in raw.get("hidden_statuses") or ()),
        hide_duplicates=bool(raw.get("hide_duplicates", True)),
        page_size=int(raw.get("page_size", 20)),
        feed_entries=int(raw.get("feed_entries", 50)),
        default_radius_m=int(raw.get("default_radius_m", 1000)),
        confirm_valid_days=int(raw.get("confirm_valid_days", 7)),
    )
