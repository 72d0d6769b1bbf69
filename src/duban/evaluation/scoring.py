"""考核办法: scoring schemes as data, and the pure rules that turn indicators into points,
grades, ranks and changes. No database, no framework: plain tests in
``tests/evaluation/test_scoring.py``.

A scheme (``data/evaluation_schemes.yaml``) has versions, each taking effect on a date;
a version scores each kind of object with major items (大项), each of minor items (小项):

- ``indicator``: an indicator's rate (or count) mapped to points: ``linear`` (``zero_at`` ..
  ``full_at``, or ``full_at`` and ``per_point`` lost per percentage point below it), or
  ``tiers`` (``min``: at least, ``below``: strictly less than, ``max``: at most); ``inverse``
  scores 1 − rate (lower is better); ``if_empty`` (full | zero) when the denominator is 0;
- ``deduction``: ``each`` point off per case the indicator counts, at most ``cap``; a
  major item of deductions only (扣分制) starts from its ``points``;
- ``manual``: points entered by a person with evidence (``if_missing``: full | zero);
- ``bonus``: entered like manual, added on top (at most ``points``).

A major item never gives more than its ``points`` nor less than 0; the composite is the
sum, and its grade is read off the bands on the percentage of the version's full marks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from duban.kernel.errors import Msg, PolicyError

ITEM_KINDS: Final = ("indicator", "deduction", "manual", "bonus")


@dataclass(frozen=True)
class Value:
    """One indicator for one object: ``value`` is None when the denominator is 0."""

    value: float | None
    numerator: int
    denominator: int | None


@dataclass(frozen=True)
class Tier:
    op: str  # min | below | max
    bound: float
    score: float  # the share of the item's points


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    kind: str
    points: float = 0.0
    indicator: str | None = None
    zero_at: float | None = None
    full_at: float | None = None
    per_point: float | None = None
    tiers: tuple[Tier, ...] = ()
    inverse: bool = False
    if_empty: str = "full"
    if_missing: str = "zero"
    each: float = 0.0
    cap: float | None = None


@dataclass(frozen=True)
class Major:
    label: str
    points: float | None
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Version:
    effective_from: date
    grades: tuple[tuple[str, float], ...]
    objects: Mapping[str, tuple[Major, ...]]

    def full_marks(self, obj: str) -> float:
        return sum(
            (m.points if m.points is not None else sum(i.points for i in m.items if _scored(i)))
            for m in self.objects.get(obj, ())
        )

    def items(self, obj: str) -> list[Item]:
        return [i for m in self.objects.get(obj, ()) for i in m.items]


@dataclass(frozen=True)
class Scheme:
    code: str
    label_zh: str
    label_en: str
    versions: tuple[Version, ...] = field(default_factory=tuple)

    def version_on(self, day: date) -> Version | None:
        """The version in effect on ``day``: the latest that took effect on or before it."""
        current = None
        for version in self.versions:  # sorted by effective date
            if version.effective_from <= day:
                current = version
        return current


def _scored(item: Item) -> bool:
    return item.kind in ("indicator", "manual")


# --------------------------------------------------------------------------- rules


def map_value(item: Item, value: float | None) -> float:
    """The points an ``indicator`` item gives for ``value``."""
    if value is None:
        return item.points if item.if_empty == "full" else 0.0
    if item.inverse:
        value = 1.0 - value
    if item.tiers:
        for tier in item.tiers:
            hit = (
                (tier.op == "min" and value >= tier.bound)
                or (tier.op == "below" and value < tier.bound)
                or (tier.op == "max" and value <= tier.bound)
            )
            if hit:
                return round(item.points * tier.score, 6)
        return 0.0
    full_at = 1.0 if item.full_at is None else item.full_at
    if value >= full_at:
        return item.points
    if item.per_point is not None:
        points = item.points - item.per_point * (full_at - value) * 100
    else:
        zero_at = 0.0 if item.zero_at is None else item.zero_at
        if value <= zero_at:
            return 0.0
        points = item.points * (value - zero_at) / (full_at - zero_at)
    return round(min(item.points, max(0.0, points)), 6)


def deduction(item: Item, count: int) -> float:
    """The points a ``deduction`` item takes off for ``count`` cases (a positive number)."""
    off = item.each * count
    return round(off if item.cap is None else min(item.cap, off), 6)


@dataclass(frozen=True)
class Scored:
    score: float
    full_marks: float
    percent: float
    items: Mapping[str, float]


def score(
    version: Version,
    obj: str,
    indicators: Mapping[str, Value],
    manual: Mapping[str, float],
) -> Scored:
    """The composite of one object: items, major items capped, bonuses, deductions."""
    total = 0.0
    parts: dict[str, float] = {}
    for major in version.objects.get(obj, ()):
        # 扣分制: a major item that only takes points off starts full
        deducting = major.points is not None and all(i.kind == "deduction" for i in major.items)
        subtotal = major.points if deducting and major.points is not None else 0.0
        for item in major.items:
            if item.kind == "indicator":
                assert item.indicator is not None
                v = indicators.get(item.indicator)
                ratio = None if v is None else v.value
                points = map_value(item, ratio)
            elif item.kind == "deduction":
                assert item.indicator is not None
                v = indicators.get(item.indicator)
                points = -deduction(item, v.numerator if v else 0)
            elif item.code in manual:
                points = min(item.points, max(0.0, manual[item.code]))
            elif item.kind == "manual" and item.if_missing == "full":
                points = item.points
            else:
                points = 0.0
            parts[item.code] = points
            subtotal += points
        if major.points is not None:
            bonus = sum(parts[i.code] for i in major.items if i.kind == "bonus")
            subtotal = min(major.points, max(0.0, subtotal - bonus)) + bonus
        total += subtotal
    total = round(max(0.0, total), 2)
    full = version.full_marks(obj)
    percent = round(100.0 * total / full, 2) if full else 0.0
    return Scored(score=total, full_marks=full, percent=percent, items=parts)


def grade(version: Version, percent: float) -> str:
    """The band of ``percent`` (A ≥ 90, B ≥ 75, … in the default schemes)."""
    for name, minimum in version.grades:
        if percent >= minimum:
            return name
    return version.grades[-1][0]


def competition_ranks(scores: Sequence[float]) -> list[int]:
    """Standard competition ranking ("1224"): equal scores share a rank, the next skips."""
    order = sorted(scores, reverse=True)
    first: dict[float, int] = {}
    for position, value in enumerate(order, start=1):
        first.setdefault(round(value, 2), position)
    return [first[round(s, 2)] for s in scores]


def change(current: float, previous: float | None) -> float | None:
    """环比: the score's change against the previous period (None: nothing to compare)."""
    return None if previous is None else round(current - previous, 2)


# --------------------------------------------------------------------------- reading


def _float(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise PolicyError(Msg("{where}: expected a number, got {raw!r}", where=where, raw=raw))
    return float(raw)


def _tiers(raw: Any, where: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise PolicyError(Msg("{where}: tiers must be a list", where=where))
    out = []
    for entry in raw:
        ops = [k for k in ("min", "below", "max") if isinstance(entry, dict) and k in entry]
        if len(ops) != 1 or "score" not in entry:
            raise PolicyError(
                Msg("{where}: each tier has one of min/below/max and a score", where=where)
            )
        out.append(Tier(ops[0], _float(entry[ops[0]], where), _float(entry["score"], where)))
    return tuple(out)


def _item(raw: Any, where: str, known: frozenset[str]) -> Item:
    if not isinstance(raw, dict) or raw.get("kind") not in ITEM_KINDS or not raw.get("code"):
        raise PolicyError(
            Msg(
                "{where}: an item needs a code and a kind of {ITEM_KINDS}",
                where=where,
                ITEM_KINDS=ITEM_KINDS,
            )
        )
    where = f"{where} {raw['code']}"
    kind = raw["kind"]
    indicator = raw.get("indicator")
    if kind in ("indicator", "deduction") and indicator not in known:
        raise PolicyError(
            Msg("{where}: unknown indicator {indicator!r}", where=where, indicator=indicator)
        )
    linear = raw.get("linear") or {}
    item = Item(
        code=str(raw["code"]),
        label=str(raw.get("label", raw["code"])),
        kind=kind,
        points=_float(raw.get("points", 0), where),
        indicator=indicator,
        zero_at=_float(linear["zero_at"], where) if "zero_at" in linear else None,
        full_at=_float(linear["full_at"], where) if "full_at" in linear else None,
        per_point=_float(linear["per_point"], where) if "per_point" in linear else None,
        tiers=_tiers(raw["tiers"], where) if "tiers" in raw else (),
        inverse=bool(raw.get("inverse", False)),
        if_empty=str(raw.get("if_empty", "full")),
        if_missing=str(raw.get("if_missing", "zero")),
        each=_float(raw.get("each", 0), where),
        cap=_float(raw["cap"], where) if "cap" in raw else None,
    )
    if item.if_empty not in ("full", "zero") or item.if_missing not in ("full", "zero"):
        raise PolicyError(Msg("{where}: if_empty and if_missing are full or zero", where=where))
    return item


def parse_schemes(
    data: Any, indicators: Mapping[str, Sequence[str]], objects: Sequence[str]
) -> dict[str, Scheme]:
    """Read the schemes file. ``indicators`` maps each object to the indicators it has."""
    if not isinstance(data, dict) or not isinstance(data.get("schemes"), dict):
        raise PolicyError("evaluation schemes: expected a mapping 'schemes'")
    schemes: dict[str, Scheme] = {}
    for code, raw in data["schemes"].items():
        label = raw.get("label") or [code, code]
        versions = []
        for n, rv in enumerate(raw.get("versions") or []):
            where = f"scheme {code} version {n + 1}"
            start = rv.get("from")
            if not isinstance(start, date):
                raise PolicyError(Msg("{where}: 'from' must be a date (YYYY-MM-DD)", where=where))
            bands = rv.get("grades") or {"A": 90, "B": 75, "C": 60, "D": 40, "E": 0}
            grades = tuple(
                sorted(((str(k), _float(v, where)) for k, v in bands.items()), key=lambda g: -g[1])
            )
            by_object: dict[str, tuple[Major, ...]] = {}
            for obj, majors in (rv.get("objects") or {}).items():
                if obj not in objects:
                    raise PolicyError(Msg("{where}: unknown object {obj!r}", where=where, obj=obj))
                known = frozenset(indicators.get(obj, ()))
                by_object[obj] = tuple(
                    Major(
                        label=str(m.get("major", "")),
                        points=_float(m["points"], where) if "points" in m else None,
                        items=tuple(_item(i, f"{where} {obj}", known) for i in m["items"]),
                    )
                    for m in majors
                )
            versions.append(Version(start, grades, by_object))
        if not versions:
            raise PolicyError(Msg("scheme {code}: no versions", code=code))
        versions.sort(key=lambda v: v.effective_from)
        schemes[str(code)] = Scheme(str(code), str(label[0]), str(label[1]), tuple(versions))
    return schemes
