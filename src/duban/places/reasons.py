"""Routing reasons kept as a template and codes, named when they are read.

A reason is a :class:`~duban.kernel.errors.Msg` whose values name things by code
(:class:`Ref`: a unit, a category, a filing condition, a region, a zone; :class:`Refs`:
several units). It is stored as JSON (:func:`dump`, :func:`load`) on the case, so each face
renders it in its reader's language with the names the data holds *when it is read* (a
renamed unit shows its new name): :func:`resolve` looks the names up and gives the ``Msg``
with :class:`~duban.kernel.errors.Name` values that ``translate`` renders.

The stored form, version 1::

    {"t": "<template>", "p": {"<name>": 3 | "text" | {"t": ..., "p": ...}
                                       | {"ref": "unit", "code": "HWC"}
                                       | {"ref": "unit", "codes": ["HWC", "SZGC"]}}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.cases import Case
from duban.kernel.errors import Msg, Name
from duban.places.models import Region, Zone
from duban.reference import Category, FilingCondition

#: The kinds of thing a reason names by code.
KINDS: Final = ("unit", "category", "condition", "region", "zone")


@dataclass(frozen=True, slots=True)
class Ref:
    """A thing named by its code; its name is looked up when the reason is read."""

    kind: str
    code: str


@dataclass(frozen=True, slots=True)
class Refs:
    """Several things of one kind (a rule's helper units), named as one list."""

    kind: str
    codes: tuple[str, ...]


def dump(msg: Msg) -> dict[str, Any]:
    """The JSON form of a reason (values: numbers, texts, messages, references)."""
    return {"t": msg.template, "p": {k: _dump_value(v) for k, v in msg.params.items()}}


def _dump_value(value: Any) -> Any:
    if isinstance(value, Msg):
        return dump(value)
    if isinstance(value, Ref):
        return {"ref": value.kind, "code": value.code}
    if isinstance(value, Refs):
        return {"ref": value.kind, "codes": list(value.codes)}
    if isinstance(value, Name):  # a name with no code (never stored by routing itself)
        return {"zh": value.zh, "en": value.en}
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def load(data: Mapping[str, Any]) -> Msg:
    """The reason :func:`dump` stored (values that name things as :class:`Ref`)."""
    params = {str(k): _load_value(v) for k, v in (data.get("p") or {}).items()}
    return Msg(str(data["t"]), **params)


def _load_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "t" in value:
        return load(value)
    if "codes" in value:
        return Refs(str(value["ref"]), tuple(str(c) for c in value["codes"]))
    if "ref" in value:
        return Ref(str(value["ref"]), str(value["code"]))
    return Name(str(value.get("zh", "")), value.get("en"))


def refs_of(msg: Msg, out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """The codes a reason names, by kind (added to ``out``)."""
    out = {} if out is None else out
    for value in msg.params.values():
        if isinstance(value, Msg):
            refs_of(value, out)
        elif isinstance(value, Ref):
            out.setdefault(value.kind, set()).add(value.code)
        elif isinstance(value, Refs):
            out.setdefault(value.kind, set()).update(value.codes)
    return out


def names_of(session: Session, wanted: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], Name]:
    """``(kind, code) → Name`` of the things named: one query per kind."""
    names: dict[tuple[str, str], Name] = {}
    codes = {kind: sorted(set(c)) for kind, c in wanted.items() if c}
    if "unit" in codes:
        for code, name, name_en in session.execute(
            select(Unit.code, Unit.name, Unit.name_en).where(Unit.code.in_(codes["unit"]))
        ):
            names["unit", code] = Name(name, name_en)
    if "category" in codes:
        for code, name, name_en in session.execute(
            select(Category.code, Category.name, Category.name_en).where(
                Category.code.in_(codes["category"])
            )
        ):
            names["category", code] = Name(name, name_en)
    if "condition" in codes:
        for code, name, name_en in session.execute(
            select(FilingCondition.code, FilingCondition.name, FilingCondition.name_en).where(
                FilingCondition.code.in_(codes["condition"])
            )
        ):
            # A condition's name is a sentence: the Chinese shortened; the English is short.
            names["condition", code] = Name(name[:30], name_en or None)
    if "region" in codes:
        for code, name, name_en in session.execute(
            select(Region.code, Region.name, Region.name_en)
            .where(Region.code.in_(codes["region"]))
            .order_by(Region.valid_from)
        ):
            names["region", code] = Name(name, name_en)  # the latest version's names win
    if "zone" in codes:
        for code, name in session.execute(
            select(Zone.code, Zone.name).where(Zone.code.in_(codes["zone"]))
        ):
            names["zone", code] = Name(name)
    return names


def named(msg: Msg, names: Mapping[tuple[str, str], Name]) -> Msg:
    """``msg`` with its references replaced by the names of :func:`names_of`."""
    params: dict[str, Any] = {}
    for key, value in msg.params.items():
        if isinstance(value, Msg):
            value = named(value, names)
        elif isinstance(value, Ref):
            value = names.get((value.kind, value.code)) or Name(value.code)
        elif isinstance(value, Refs):
            each = [names.get((value.kind, c)) or Name(c) for c in value.codes]
            value = Name("、".join(n.zh for n in each), ", ".join(n.en for n in each))
        params[key] = value
    return Msg(msg.template, **params)


def resolve_all(session: Session, reasons: Iterable[Msg]) -> list[Msg]:
    """Each reason with its references named (codes where a thing no longer exists)."""
    reasons = list(reasons)
    wanted: dict[str, set[str]] = {}
    for msg in reasons:
        refs_of(msg, wanted)
    names = names_of(session, wanted)
    return [named(msg, names) for msg in reasons]


def resolve(session: Session, reason: Msg) -> Msg:
    """The reason with its references named, ready for ``translate``."""
    return resolve_all(session, [reason])[0]


def case_reasons(session: Session, cases: Iterable[Case]) -> dict[int, Msg | None]:
    """:func:`case_reason` of each case (by id), its names looked up once for all."""
    cases = list(cases)
    stored = {
        c.id: load(c.routing_reason_data)
        for c in cases
        if c.routing_reason_data and "t" in c.routing_reason_data
    }
    named_all = dict(zip(stored, resolve_all(session, stored.values()), strict=True))
    return {c.id: named_all.get(c.id) for c in cases}


def case_reason(session: Session, case: Case) -> Msg | None:
    """Why routing suggested what it did for ``case``, named, for ``translate``; None where
    the case holds only the English text of an older version (``routing_reason``: a row
    migration 0035 could not read)."""
    data = case.routing_reason_data
    if not data or "t" not in data:
        return None
    return resolve(session, load(data))
