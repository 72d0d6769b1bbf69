"""The supervision policy (``duban/data/supervision.yaml``), read once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from duban.supervision.followup import RevisitPolicy, parse_revisit_policy
from duban.supervision.rules import SupervisionPolicy, parse_policy


@cache
def supervision_policy() -> SupervisionPolicy:
    """The shipped supervision policy: issuer, series, reply days, escalation ladder."""
    text = resources.files("duban.data").joinpath("supervision.yaml").read_text(encoding="utf-8")
    return parse_policy(yaml.safe_load(text) or {})


@cache
def revisit_policy() -> RevisitPolicy:
    """The shipped revisit (回头看) policy: days per category, on or off."""
    text = resources.files("duban.data").joinpath("supervision.yaml").read_text(encoding="utf-8")
    return parse_revisit_policy((yaml.safe_load(text) or {}).get("revisit"))
