"""What a case fact is (``data/case_facts.yaml``) and which facts an event sets: pure.

A fact is a set of events (action, statuses, payload values). The facts of a case in a
local month are one integer, a bit per fact (its position in the file), kept in
``case_facts`` by :mod:`duban.cases.facts`; the evaluation counts cases over those bits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from duban.kernel.errors import Msg, PolicyError

_KEYS: Final = frozenset({"action", "from_status", "to_status", "payload", "charge"})
#: The facts fit a signed 64-bit integer.
MAX_FACTS: Final = 62


@dataclass(frozen=True)
class Fact:
    """A set of events: the action(s), optional statuses and top-level payload values."""

    name: str
    bit: int
    actions: tuple[str, ...]
    from_status: tuple[str, ...] = ()
    to_status: tuple[str, ...] = ()
    payload: tuple[tuple[str, Any], ...] = ()
    #: also set on the row of the staff member who did the case's latest event of these
    #: actions before this one (a unit's return charges the dispatch: 准确派遣率)
    charge: tuple[str, ...] = ()

    @property
    def mask(self) -> int:
        return 1 << self.bit

    def matches(
        self, action: str, from_status: str | None, to_status: str, payload: Mapping[str, Any]
    ) -> bool:
        if action not in self.actions:
            return False
        if self.from_status and from_status not in self.from_status:
            return False
        if self.to_status and to_status not in self.to_status:
            return False
        for key, value in self.payload:
            got = payload.get(key, _MISSING)
            if type(got) is not type(value) or got != value:
                return False
        return True


_MISSING: Final = object()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(x, str) and x for x in items):
        raise PolicyError(Msg("{where}: expected a name or a list of names", where=where))
    return tuple(items)


def parse_facts(data: Any) -> Mapping[str, Fact]:
    """Read the yaml's content; :class:`PolicyError` names the first thing wrong."""
    raw = data.get("facts") if isinstance(data, dict) else None
    if not isinstance(raw, list) or len(raw) > MAX_FACTS:
        raise PolicyError(
            Msg("case facts: expected a list 'facts' of at most {MAX_FACTS}", MAX_FACTS=MAX_FACTS)
        )
    facts: dict[str, Fact] = {}
    for bit, entry in enumerate(raw):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise PolicyError(
                Msg("case fact #{value}: expected NAME: {{action: ...}}", value=bit + 1)
            )
        ((name, body),) = entry.items()
        where = f"case fact {name!r}"
        if name in facts or not isinstance(body, dict) or not set(body) <= _KEYS:
            raise PolicyError(
                Msg(
                    "{where}: a new name with action and optionally {value}",
                    where=where,
                    value=sorted(_KEYS),
                )
            )
        payload = body.get("payload") or {}
        if not isinstance(payload, dict) or "action" not in body:
            raise PolicyError(
                Msg("{where}: action required; payload must be a mapping", where=where)
            )
        facts[name] = Fact(
            name=name,
            bit=bit,
            actions=_strings(body["action"], where),
            from_status=_strings(body.get("from_status"), where),
            to_status=_strings(body.get("to_status"), where),
            payload=tuple(sorted(payload.items())),
            charge=_strings(body.get("charge"), where),
        )
    return facts


@cache
def case_facts() -> Mapping[str, Fact]:
    """The shipped facts (``duban/data/case_facts.yaml``), by name, in bit order."""
    text = resources.files("duban.data").joinpath("case_facts.yaml").read_text(encoding="utf-8")
    return parse_facts(yaml.safe_load(text))


def fact_bits(
    facts: Sequence[Fact],
    action: str,
    from_status: str | None,
    to_status: str,
    payload: Mapping[str, Any],
) -> int:
    """The bits of the facts one event sets."""
    bits = 0
    for fact in facts:
        if fact.matches(action, from_status, to_status, payload):
            bits |= fact.mask
    return bits


def local_month(at: datetime, tz: tzinfo) -> int:
    """The local month of an instant as ``YYYYMM``."""
    local = at.astimezone(tz)
    return local.year * 100 + local.month
