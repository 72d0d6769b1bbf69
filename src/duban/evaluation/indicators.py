"""The indicators of :mod:`duban.evaluation.definitions` as set-based SQL over the event log.

Two statements answer every indicator of every object over a period, the same on SQLite
and PostgreSQL:

1. per case (``case`` and ``creator`` indicators): the period's events of the actions the
   definitions use, grouped by case, one 0/1 flag per condition (``MAX(CASE WHEN …)``);
   then, per region level, unit and reporter, ``SUM`` of the tests on those flags;
2. per staff member and case (``actor`` indicators): the same grouped by who acted.

The drill-down runs the same flags for one object and lists the cases that pass, so a
number and its list never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE

from duban.cases import Case, CaseEvent
from duban.evaluation.definitions import (
    POSITIONS,
    REGION_LEVELS,
    Condition,
    Definitions,
    Indicator,
    Test,
)
from duban.evaluation.scoring import Value

E = CaseEvent
C = Case

#: The column of the per-case rows that names each case-attributed object.
_CASE_KEYS: Mapping[str, Any] = {
    "district": C.district_code,
    "street": C.street_code,
    "community": C.community_code,
    "grid": C.grid_code,
    "unit": C.unit_id,
    "creator": C.created_by_id,
}


def _condition(cond: Condition) -> ColumnElement[bool]:
    """The event part of a condition (the case's ``source`` is tested on the case row,
    after the events are grouped: see :func:`_passes`)."""
    parts: list[ColumnElement[bool]] = [E.action.in_(cond.actions)]
    if cond.from_status:
        parts.append(E.from_status.in_(cond.from_status))
    if cond.to_status:
        parts.append(E.to_status.in_(cond.to_status))
    for key, value in cond.payload:
        # The payload is canonical JSON (sorted keys, no spaces): the same text on both stores.
        fragment = f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
        escaped = fragment.replace("/", "//").replace("%", "/%").replace("_", "/_")
        parts.append(E.payload.like(f"%{escaped}%", escape="/"))
    return and_(*parts)


def _flag_name(n: int) -> str:
    return f"f{n}"


def _flags(defs: Definitions, names: Sequence[str]) -> list[Any]:
    return [
        func.max(case((_condition(defs.conditions[name]), 1), else_=0)).label(_flag_name(n))
        for n, name in enumerate(names)
    ]


def _actions(defs: Definitions, names: Sequence[str]) -> list[str]:
    return sorted({a for name in names for a in defs.conditions[name].actions})


def _passes(defs: Definitions, cte: CTE, names: Sequence[str], test: Test) -> ColumnElement[bool]:
    def hit(name: str) -> ColumnElement[bool]:
        flag = cte.c[_flag_name(names.index(name))] == 1
        source = defs.conditions[name].source
        return and_(flag, cte.c.source.in_(source)) if source else flag

    ok: ColumnElement[bool] = or_(*[hit(n) for n in test.any])
    if test.none:
        ok = and_(ok, *[~hit(n) for n in test.none])
    return ok


def _in_numerator(
    defs: Definitions, cte: CTE, names: Sequence[str], ind: Indicator
) -> ColumnElement[bool]:
    num = _passes(defs, cte, names, ind.numerator)
    if ind.denominator is not None:
        num = and_(num, _passes(defs, cte, names, ind.denominator))
    return num


def _per_case(
    defs: Definitions, names: Sequence[str], start: datetime, end: datetime, *where: Any
) -> CTE:
    """One row per case: a flag per condition over the period's events (grouped without
    the case row), then the case's key columns and source."""
    flags = (
        select(E.case_id, *_flags(defs, names))
        .where(E.occurred_at >= start, E.occurred_at < end, E.action.in_(_actions(defs, names)))
        .group_by(E.case_id)
    )
    if where:  # one object's cases (the drill-down)
        flags = flags.where(E.case_id.in_(select(C.id).where(*where)))
    grouped = flags.subquery("flags")
    return (
        select(grouped, C.source, *[col.label(k) for k, col in _CASE_KEYS.items()])
        .join(C, C.id == grouped.c.case_id)
        .cte("per_case")
    )


def _per_actor(
    defs: Definitions,
    names: Sequence[str],
    roles: Sequence[str],
    start: datetime,
    end: datetime,
    *where: Any,
) -> CTE:
    """One row per (staff member, case): a flag per condition over their events, and the
    case's source (read only when a condition asks for it)."""
    by_source = any(defs.conditions[n].source for n in names)
    stmt = (
        select(E.actor_role, E.actor_id, E.case_id)
        .add_columns(*_flags(defs, names))
        .where(E.occurred_at >= start, E.occurred_at < end)
        .where(E.action.in_(_actions(defs, names)), E.actor_role.in_(roles))
        .where(*where)
    )
    if by_source:
        stmt = stmt.add_columns(func.max(C.source).label("source")).join(C, C.id == E.case_id)
    return stmt.group_by(E.actor_role, E.actor_id, E.case_id).cte("per_actor")


def _sums(
    defs: Definitions, cte: CTE, names: Sequence[str], inds: Sequence[Indicator]
) -> list[Any]:
    cols: list[Any] = []
    for ind in inds:
        cols.append(func.sum(case((_in_numerator(defs, cte, names, ind), 1), else_=0)))
        if ind.denominator is not None:
            test = _passes(defs, cte, names, ind.denominator)
            cols.append(func.sum(case((test, 1), else_=0)))
    return cols


def _values(row: Sequence[Any], inds: Sequence[Indicator]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    i = 0
    for ind in inds:
        num = int(row[i] or 0)
        i += 1
        if ind.denominator is None:
            out[ind.code] = Value(float(num), num, None)
            continue
        den = int(row[i] or 0)
        i += 1
        out[ind.code] = Value(round(num / den, 6) if den else None, num, den)
    return out


#: object → key (region code, unit id or user id, as text) → indicator → value
Table = dict[str, dict[str, dict[str, Value]]]


@dataclass(frozen=True)
class _Plan:
    case_inds: list[Indicator]
    actor_inds: list[Indicator]


def _plan(defs: Definitions, objects: Iterable[str]) -> _Plan:
    wanted = set(objects)
    inds = [i for i in defs.indicators.values() if wanted & set(i.objects)]
    return _Plan(
        case_inds=[i for i in inds if i.by in ("case", "creator")],
        actor_inds=[i for i in inds if i.by == "actor"],
    )


def compute(
    session: Session, defs: Definitions, objects: Sequence[str], start: datetime, end: datetime
) -> Table:
    """Every indicator of every object in ``objects`` over ``[start, end)``."""
    plan = _plan(defs, objects)
    table: Table = {obj: {} for obj in objects}
    if plan.case_inds:
        names = defs.used_conditions(plan.case_inds)
        pc = _per_case(defs, names, start, end)
        keys = [o for o in objects if o in _CASE_KEYS]
        if any(o in POSITIONS for o in objects) and any(i.by == "creator" for i in plan.case_inds):
            keys.append("creator")
        parts = [
            select(
                literal(key).label("object"),
                cast(pc.c[key], String).label("key"),
                *_sums(defs, pc, names, plan.case_inds),
            )
            .where(pc.c[key].is_not(None))
            .group_by(pc.c[key])
            for key in keys
        ]
        if parts:
            stmt = parts[0] if len(parts) == 1 else union_all(*parts)
            for row in session.execute(stmt):
                values = _values(row[2:], plan.case_inds)
                if row[0] == "creator":
                    for obj in objects:
                        if obj in POSITIONS:
                            mine = {
                                c: v
                                for c, v in values.items()
                                if defs.indicators[c].by == "creator"
                                and obj in defs.indicators[c].objects
                            }
                            table[obj].setdefault(row[1], {}).update(mine)
                else:
                    table[row[0]][row[1]] = values
    if plan.actor_inds:
        roles = [o for o in objects if o in POSITIONS]
        names = defs.used_conditions(plan.actor_inds)
        pa = _per_actor(defs, names, roles, start, end)
        stmt2 = (
            select(
                pa.c.actor_role,
                cast(pa.c.actor_id, String),
                *_sums(defs, pa, names, plan.actor_inds),
            )
            .where(pa.c.actor_id.is_not(None))
            .group_by(pa.c.actor_role, pa.c.actor_id)
        )
        for row in session.execute(stmt2):
            values = _values(row[2:], plan.actor_inds)
            mine = {c: v for c, v in values.items() if row[0] in defs.indicators[c].objects}
            table[row[0]].setdefault(row[1], {}).update(mine)
    return table


def cases_behind(
    session: Session,
    defs: Definitions,
    obj: str,
    key: str,
    indicator: Indicator,
    part: str,
    start: datetime,
    end: datetime,
) -> list[tuple[int, str]]:
    """The (id, code) of the cases counted in ``part`` (numerator | denominator) of
    ``indicator`` for the object whose key is ``key``, ordered by id."""
    names = defs.used_conditions([indicator])
    cte: CTE
    if indicator.by == "actor":
        cte = _per_actor(
            defs, names, [obj], start, end, E.actor_id == int(key), E.actor_role == obj
        )
    else:
        column = _CASE_KEYS["creator" if indicator.by == "creator" else obj]
        value: Any = key if obj in REGION_LEVELS else int(key)
        cte = _per_case(defs, names, start, end, column == value)
    if part == "numerator":
        test = _in_numerator(defs, cte, names, indicator)
    elif indicator.denominator is not None:
        test = _passes(defs, cte, names, indicator.denominator)
    else:
        test = false()
    stmt = select(C.id, C.code).join(cte, cte.c.case_id == C.id).where(test).order_by(C.id)
    return [(int(row[0]), str(row[1])) for row in session.execute(stmt)]
