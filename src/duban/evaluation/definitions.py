"""What the indicators are, read from ``data/evaluation.yaml``: pure data, no database.

An indicator counts cases through conditions on their events (see the yaml's header). This
module reads and checks the file; :mod:`duban.evaluation.indicators` turns it into SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from duban.cases import Fact, case_facts
from duban.kernel.errors import Msg, PolicyError

#: The objects of 综合评价 (standards.md §4): regions, units and positions.
REGION_LEVELS: Final = ("district", "street", "community", "grid")
POSITIONS: Final = ("collector", "operator", "shift_lead", "dispatcher")
OBJECTS: Final = (*REGION_LEVELS, "unit", *POSITIONS)
#: 中文, English
OBJECT_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "district": ("区", "District"),
    "street": ("街道", "Street"),
    "community": ("社区", "Community"),
    "grid": ("单元网格", "Grid"),
    "unit": ("专业部门", "Unit"),
    "collector": ("监督员", "Collector"),
    "operator": ("受理员", "Operator"),
    "shift_lead": ("值班长", "Shift lead"),
    "dispatcher": ("派遣员", "Dispatcher"),
}
#: Whose an indicator is: the case's region or unit, the acting staff member, the reporter.
ATTRIBUTIONS: Final = ("case", "actor", "creator")
_CONDITION_KEYS: Final = frozenset({"fact", "source"})


@dataclass(frozen=True)
class Condition:
    """A case fact (a set of events, ``data/case_facts.yaml``), optionally of cases from
    some sources only."""

    name: str
    fact: Fact
    source: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[str, ...]:
        return self.fact.actions

    @property
    def from_status(self) -> tuple[str, ...]:
        return self.fact.from_status

    @property
    def to_status(self) -> tuple[str, ...]:
        return self.fact.to_status

    @property
    def payload(self) -> tuple[tuple[str, Any], ...]:
        return self.fact.payload


@dataclass(frozen=True)
class Test:
    """A case passes when one of its events in the period matches one of ``any`` and none
    matches any of ``none``."""

    any: tuple[str, ...]
    none: tuple[str, ...] = ()


@dataclass(frozen=True)
class Indicator:
    code: str
    label_zh: str
    label_en: str
    kind: str  # rate | count
    objects: tuple[str, ...]
    by: str
    numerator: Test
    denominator: Test | None
    #: shown in the bulletin's indicator table (``bulletin: false``: API and drill-down only)
    in_bulletin: bool = True


@dataclass(frozen=True)
class Definitions:
    conditions: Mapping[str, Condition]
    indicators: Mapping[str, Indicator]

    def for_object(self, obj: str) -> list[Indicator]:
        """The indicators that evaluate ``obj``, in the file's order."""
        return [i for i in self.indicators.values() if obj in i.objects]

    def used_conditions(self, indicators: list[Indicator]) -> list[str]:
        names: list[str] = []
        for ind in indicators:
            tests = [ind.numerator] + ([ind.denominator] if ind.denominator else [])
            for test in tests:
                for name in (*test.any, *test.none):
                    if name not in names:
                        names.append(name)
        return names


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(x, str) and x for x in items):
        raise PolicyError(Msg("{where}: expected a name or a list of names", where=where))
    return tuple(items)


def _condition(name: str, raw: Any, facts: Mapping[str, Fact]) -> Condition:
    if not isinstance(raw, dict) or not set(raw) <= _CONDITION_KEYS or "fact" not in raw:
        raise PolicyError(Msg("condition {name!r}: expected fact and optionally source", name=name))
    if raw["fact"] not in facts:
        raise PolicyError(
            Msg("condition {name!r}: unknown case fact {fact!r}", name=name, fact=raw["fact"])
        )
    return Condition(
        name=name,
        fact=facts[raw["fact"]],
        source=_strings(raw.get("source"), f"condition {name!r}"),
    )


def _test(raw: Any, where: str, conditions: Mapping[str, Condition]) -> Test:
    if not isinstance(raw, dict) or not set(raw) <= {"any", "none"} or not raw.get("any"):
        raise PolicyError(Msg("{where}: expected {{any: [...], none: [...]}}", where=where))
    test = Test(any=_strings(raw["any"], where), none=_strings(raw.get("none"), where))
    for name in (*test.any, *test.none):
        if name not in conditions:
            raise PolicyError(Msg("{where}: unknown condition {name!r}", where=where, name=name))
    return test


def _indicator(code: str, raw: Any, conditions: Mapping[str, Condition]) -> Indicator:
    where = f"indicator {code!r}"
    if not isinstance(raw, dict):
        raise PolicyError(Msg("{where}: expected a mapping", where=where))
    kind = raw.get("kind", "rate")
    objects = _strings(raw.get("objects"), where)
    by = raw.get("by", "case")
    label = raw.get("label") or [code, code]
    if kind not in ("rate", "count") or not objects or by not in ATTRIBUTIONS:
        raise PolicyError(
            Msg(
                "{where}: kind rate|count, objects and by {ATTRIBUTIONS} required",
                where=where,
                ATTRIBUTIONS=ATTRIBUTIONS,
            )
        )
    for obj in objects:
        if obj not in OBJECTS:
            raise PolicyError(Msg("{where}: unknown object {obj!r}", where=where, obj=obj))
        if (obj in POSITIONS) != (by != "case"):
            raise PolicyError(
                Msg("{where}: positions are evaluated by actor or creator", where=where)
            )
    denominator = None
    if kind == "rate":
        denominator = _test(raw.get("denominator"), f"{where} denominator", conditions)
    return Indicator(
        code=code,
        label_zh=str(label[0]),
        label_en=str(label[1]),
        kind=kind,
        objects=objects,
        by=by,
        numerator=_test(raw.get("numerator"), f"{where} numerator", conditions),
        denominator=denominator,
        in_bulletin=raw.get("bulletin", True) is not False,
    )


def parse_definitions(data: Any, facts: Mapping[str, Fact] | None = None) -> Definitions:
    """Read the yaml's content; :class:`PolicyError` names the first thing wrong. Every
    case fact is a condition of its own name."""
    if not isinstance(data, dict):
        raise PolicyError("evaluation definitions: expected conditions and indicators")
    facts = case_facts() if facts is None else facts
    conditions = {n: Condition(n, f) for n, f in facts.items()}
    for n, r in (data.get("conditions") or {}).items():
        if n in facts:
            raise PolicyError(Msg("condition {n!r}: the name of a case fact", n=n))
        conditions[n] = _condition(n, r, facts)
    indicators = {
        c: _indicator(c, r, conditions) for c, r in (data.get("indicators") or {}).items()
    }
    return Definitions(conditions=conditions, indicators=indicators)


@cache
def definitions() -> Definitions:
    """The shipped definitions (``duban/data/evaluation.yaml``)."""
    text = resources.files("duban.data").joinpath("evaluation.yaml").read_text(encoding="utf-8")
    return parse_definitions(yaml.safe_load(text))
