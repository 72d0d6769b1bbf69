"""The indicators of :mod:`duban.evaluation.definitions` as set-based SQL.

Every condition is a case fact (``data/case_facts.yaml``), so a case's events in a period
come down to one integer, a bit per fact. For a period of whole local months those bits
are read from ``case_facts`` (kept with each event, one row per case and month, and one
per staff member who acted): a single month is one ``GROUP BY`` per object level over its
rows, no event read; several months first OR their rows per case. Any other range
computes the same bits from the period's events (grouped by case).

Then, per region level, unit and reporter (``case`` and ``creator`` indicators), and per
staff member (``actor`` indicators), ``SUM`` of the tests on those bits. The drill-down
runs the same bits for one object and lists the cases that pass, so a number and its
list never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    column,
    delete,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CTE

from duban.cases import Case, CaseEvent, CaseFact, Fact, charged_events_sql
from duban.evaluation.definitions import (
    POSITIONS,
    REGION_LEVELS,
    Definitions,
    Indicator,
    Test,
    definitions,
)
from duban.evaluation.scoring import Value
from duban.evaluation.summary import (
    CASES,
    REGION,
    SUMMARY,
    Sums,
    month_sums,
    plan,
    write_sums,
)
from duban.reference import load_policy

E = CaseEvent
C = Case
F = CaseFact
CASE_ROLE = ""

#: The column of the per-case rows that names each case-attributed object.
_CASE_KEYS: Mapping[str, Any] = {
    "district": C.district_code,
    "street": C.street_code,
    "community": C.community_code,
    "grid": C.grid_code,
    "unit": C.unit_id,
    "creator": C.created_by_id,
}


def months_of(start: datetime, end: datetime, tz: tzinfo) -> list[int] | None:
    """The local months (``YYYYMM``) ``[start, end)`` is made of, or None when it is not
    whole months."""
    a, b = start.astimezone(tz), end.astimezone(tz)
    for t in (a, b):
        if (t.day, t.hour, t.minute, t.second, t.microsecond) != (1, 0, 0, 0, 0):
            return None
    months = []
    y, m = a.year, a.month
    while (y, m) < (b.year, b.month):
        months.append(y * 100 + m)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months or None


def _event_fact(fact: Fact, ev: Any = E) -> ColumnElement[bool]:
    """A fact as a condition on an event row (of ``case_events``, or ``ev``'s columns)."""
    parts: list[ColumnElement[bool]] = [ev.action.in_(fact.actions)]
    if fact.from_status:
        parts.append(ev.from_status.in_(fact.from_status))
    if fact.to_status:
        parts.append(ev.to_status.in_(fact.to_status))
    for key, value in fact.payload:
        # The payload is canonical JSON (sorted keys, no spaces): the same text on both stores.
        fragment = f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
        escaped = fragment.replace("/", "//").replace("%", "/%").replace("_", "/_")
        parts.append(ev.payload.like(f"%{escaped}%", escape="/"))
    return and_(*parts)


def _facts(defs: Definitions, names: Sequence[str]) -> list[Fact]:
    found: dict[str, Fact] = {}
    for name in names:
        fact = defs.conditions[name].fact
        found[fact.name] = fact
    return sorted(found.values(), key=lambda f: f.bit)


def _event_bits(facts: Sequence[Fact]) -> Any:
    """The facts' bits over a group of events."""
    return sum_of([func.max(case((_event_fact(f), f.mask), else_=0)) for f in facts])


def _or_bits(facts: Sequence[Fact]) -> Any:
    """The facts' bits over a group of ``case_facts`` rows (OR: a MAX per bit)."""
    return sum_of([func.max(F.flags.op("&")(f.mask)) for f in facts])


def sum_of(parts: Sequence[Any]) -> Any:
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return cast(total, BigInteger)


def _has(flags: Any, mask: int) -> ColumnElement[bool]:
    has: ColumnElement[bool] = flags.op("&")(mask) != 0
    return has


def _passes(defs: Definitions, cte: CTE, test: Test) -> ColumnElement[bool]:
    def hit(name: str) -> ColumnElement[bool]:
        cond = defs.conditions[name]
        flag = _has(cte.c.flags, cond.fact.mask)
        return and_(flag, cte.c.source.in_(cond.source)) if cond.source else flag

    ok: ColumnElement[bool] = or_(*[hit(n) for n in test.any])
    if test.none:
        ok = and_(ok, *[~hit(n) for n in test.none])
    return ok


def _in_numerator(defs: Definitions, cte: CTE, ind: Indicator) -> ColumnElement[bool]:
    num = _passes(defs, cte, ind.numerator)
    if ind.denominator is not None:
        num = and_(num, _passes(defs, cte, ind.denominator))
    return num


@dataclass(frozen=True)
class _Range:
    start: datetime
    end: datetime
    months: list[int] | None


def _per_case(defs: Definitions, names: Sequence[str], period: _Range, *where: Any) -> CTE:
    """One row per case: its bits over the period, then the case's key columns and source."""
    facts = _facts(defs, names)
    if period.months is not None and len(period.months) == 1:
        bits = select(F.case_id, F.flags).where(
            F.month == period.months[0], F.actor_role == CASE_ROLE, F.actor_id == 0
        )
    elif period.months is not None:
        bits = (
            select(F.case_id, _or_bits(facts).label("flags"))
            .where(F.month.in_(period.months), F.actor_role == CASE_ROLE, F.actor_id == 0)
            .group_by(F.case_id)
        )
    else:
        actions = sorted({a for f in facts for a in f.actions})
        bits = (
            select(E.case_id.label("case_id"), _event_bits(facts).label("flags"))
            .where(E.occurred_at >= period.start, E.occurred_at < period.end)
            .where(E.action.in_(actions))
            .group_by(E.case_id)
        )
    if where:  # one object's cases (the drill-down)
        bits = bits.where(bits.selected_columns.case_id.in_(select(C.id).where(*where)))
    grouped = bits.subquery("bits")
    return (
        select(grouped, C.source, *[col.label(k) for k, col in _CASE_KEYS.items()])
        .join(C, C.id == grouped.c.case_id)
        .cte("per_case")
    )


def _per_actor(
    defs: Definitions,
    names: Sequence[str],
    roles: Sequence[str],
    period: _Range,
    actor_id: int | None = None,
) -> CTE:
    """One row per (staff member, case): the bits of their events, and the case's source
    (read only when a condition asks for it)."""
    facts = _facts(defs, names)
    by_source = any(defs.conditions[n].source for n in names)
    stmt: Any
    id_col: Any
    if period.months is not None and len(period.months) == 1:
        stmt = select(F.actor_role, F.actor_id, F.case_id, F.flags).where(
            F.month == period.months[0], F.actor_role.in_(roles)
        )
        id_col = F.actor_id
    elif period.months is not None:
        stmt = (
            select(F.actor_role, F.actor_id, F.case_id, _or_bits(facts).label("flags"))
            .where(F.month.in_(period.months), F.actor_role.in_(roles))
            .group_by(F.actor_role, F.actor_id, F.case_id)
        )
        id_col = F.actor_id
    else:
        actions = sorted({a for f in facts for a in f.actions})
        # each event by its actor, and a charged fact's event again by whom it charges
        ev = (
            text(charged_events_sql(facts).replace(":", "\\:"))
            .columns(
                E.case_id,
                E.seq,
                E.occurred_at,
                E.action,
                E.from_status,
                E.to_status,
                E.payload,
                E.actor_role,
                E.actor_id,
                column("charged", Integer),
            )
            .subquery("ev")
        ).c
        bits = sum_of(
            [
                func.max(
                    case(
                        (
                            _event_fact(f, ev)
                            if f.charge
                            else and_(ev.charged == 0, _event_fact(f, ev)),
                            f.mask,
                        ),
                        else_=0,
                    )
                )
                for f in facts
            ]
        )
        stmt = (
            select(ev.actor_role, ev.actor_id, ev.case_id, bits.label("flags"))
            .where(ev.occurred_at >= period.start, ev.occurred_at < period.end)
            .where(ev.action.in_(actions), ev.actor_role.in_(roles), ev.actor_id.is_not(None))
            .group_by(ev.actor_role, ev.actor_id, ev.case_id)
        )
        id_col = ev.actor_id
    if actor_id is not None:
        stmt = stmt.where(id_col == actor_id)
    inner = stmt.subquery("actor_bits")
    if by_source:
        return select(inner, C.source).join(C, C.id == inner.c.case_id).cte("per_actor")
    return select(inner).cte("per_actor")


def _sums(defs: Definitions, cte: CTE, inds: Sequence[Indicator]) -> list[Any]:
    cols: list[Any] = []
    for ind in inds:
        cols.append(func.sum(case((_in_numerator(defs, cte, ind), 1), else_=0)))
        if ind.denominator is not None:
            test = _passes(defs, cte, ind.denominator)
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


def _range(session: Session, start: datetime, end: datetime) -> _Range:
    return _Range(start, end, months_of(start, end, load_policy(session).tz))


def _add(into: dict[str, list[int]], key: str, sums: Sequence[Any]) -> None:
    have = into.get(key)
    if have is None:
        into[key] = [int(x or 0) for x in sums]
    else:
        for i, x in enumerate(sums):
            have[i] += int(x or 0)


def _fill(table: Table, obj: str, sums: Mapping[str, list[int]], inds: Sequence[Indicator]) -> None:
    """The values of ``obj``'s indicators among ``inds`` from each key's sums."""
    where: list[tuple[str, int, bool]] = []  # (code, position of the numerator, is a rate)
    i = 0
    for ind in inds:
        if obj in ind.objects:
            where.append((ind.code, i, ind.denominator is not None))
        i += 1 if ind.denominator is None else 2
    into = table[obj]
    for key, row in sums.items():
        values = into.setdefault(key, {})
        for code, at, rate in where:
            num = row[at]
            if rate:
                den = row[at + 1]
                values[code] = Value(round(num / den, 6) if den else None, num, den)
            else:
                values[code] = Value(float(num), num, None)


#: (is a count, numerator, denominator) → its Value (immutable: shared by the objects)
_VALUES: dict[tuple[bool, int, int], Value] = {}


def _value(ind: Indicator, counts: Mapping[str, list[int]]) -> Value:
    n, d = counts.get(ind.code, (0, 0))
    key = (ind.denominator is None, n, d)
    value = _VALUES.get(key)
    if value is None:
        if len(_VALUES) > 100_000:
            _VALUES.clear()
        if ind.denominator is None:
            value = Value(float(n), n, None)
        else:
            value = Value(round(n / d, 6) if d else None, n, d)
        _VALUES[key] = value
    return value


def _month(session: Session, defs: Definitions, objects: Sequence[str], month: int) -> Table:
    """Every indicator of ``objects`` in one local month, from the summary: what the
    statements of :func:`compute` count over the cases, object by object."""
    sums = month_sums(session, defs, month)
    table: Table = {obj: {} for obj in objects}
    wanted = set(objects)

    def present(obj: str) -> dict[str, dict[str, list[int]]]:
        return {k: c for k, c in sums.get(obj, {}).items() if c.get(CASES, (0, 0))[0] > 0}

    levels = [o for o in REGION_LEVELS if o in wanted]
    case_inds = [i for i in defs.indicators.values() if i.by == "case"]
    if levels and any(set(levels) & set(i.objects) for i in case_inds):
        rolled: dict[str, dict[str, dict[str, list[int]]]] = {lv: {} for lv in levels}
        at = [(n, lv) for n, lv in enumerate(REGION_LEVELS) if lv in wanted]
        for key, counts in present(REGION).items():
            parts = key.split("|")
            for n, level in at:
                if not parts[n]:
                    continue
                into = rolled[level].setdefault(parts[n], {})
                for code, (num, den) in counts.items():
                    have = into.get(code)
                    if have is None:
                        into[code] = [num, den]
                    else:
                        have[0] += num
                        have[1] += den
        for level in levels:
            inds = [i for i in case_inds if level in i.objects]
            table[level] = {
                key: {i.code: _value(i, counts) for i in inds}
                for key, counts in rolled[level].items()
            }
    if "unit" in wanted:
        inds = [i for i in case_inds if "unit" in i.objects]
        if inds:
            table["unit"] = {
                key: {i.code: _value(i, counts) for i in inds}
                for key, counts in present("unit").items()
            }
    positions = [o for o in POSITIONS if o in wanted]
    creator_inds = [
        i for i in defs.indicators.values() if i.by == "creator" and set(positions) & set(i.objects)
    ]
    if creator_inds:
        creators = present("creator")
        for obj in positions:
            inds = [i for i in creator_inds if obj in i.objects]
            table[obj] = {
                key: {i.code: _value(i, counts) for i in inds} for key, counts in creators.items()
            }
    for role in positions:
        inds = [i for i in defs.indicators.values() if i.by == "actor" and role in i.objects]
        for key, counts in present(role).items() if inds else ():
            table[role].setdefault(key, {}).update({i.code: _value(i, counts) for i in inds})
    return table


def compute(
    session: Session, defs: Definitions, objects: Sequence[str], start: datetime, end: datetime
) -> Table:
    """Every indicator of every object in ``objects`` over ``[start, end)``.

    One local month is read from the summary (``eval_summary``, kept with the case facts:
    a row per object and indicator). Any other range is counted over the cases: sums are
    additive over cases, so the four region levels come from one ``GROUP BY`` over
    (district, street, community, grid), added up here; units and reporters have one
    each; staff members one per position, with that position's indicators only."""
    period = _range(session, start, end)
    if period.months is not None and len(period.months) == 1:
        return _month(session, defs, objects, period.months[0])
    table: Table = {obj: {} for obj in objects}
    wanted = set(objects)
    levels = [o for o in REGION_LEVELS if o in wanted]
    groups: list[tuple[list[str], list[Indicator]]] = []
    if levels:
        inds = [
            i for i in defs.indicators.values() if i.by == "case" and set(levels) & set(i.objects)
        ]
        groups.append((list(REGION_LEVELS), inds))
    if "unit" in wanted:
        groups.append(
            (
                ["unit"],
                [i for i in defs.indicators.values() if i.by == "case" and "unit" in i.objects],
            )
        )
    positions = [o for o in POSITIONS if o in wanted]
    creator_inds = [
        i for i in defs.indicators.values() if i.by == "creator" and set(positions) & set(i.objects)
    ]
    if creator_inds:
        groups.append((["creator"], creator_inds))
    for keys, inds in groups:
        if not inds:
            continue
        pc = _per_case(defs, defs.used_conditions(inds), period)
        stmt = select(*[pc.c[k] for k in keys], *_sums(defs, pc, inds)).group_by(
            *[pc.c[k] for k in keys]
        )
        if keys == ["creator"]:
            for row in session.execute(stmt.where(pc.c.creator.is_not(None))):
                sums: dict[str, list[int]] = {}
                _add(sums, str(row[0]), row[1:])
                for obj in positions:
                    _fill(table, obj, sums, inds)
            continue
        per_key: dict[str, dict[str, list[int]]] = {k: {} for k in keys}
        for row in session.execute(stmt):
            for n, key in enumerate(keys):
                if row[n] is not None:
                    _add(per_key[key], str(row[n]), row[len(keys) :])
        for key in keys:
            if key in wanted:
                _fill(table, key, per_key[key], inds)
    for role in positions:
        inds = [i for i in defs.indicators.values() if i.by == "actor" and role in i.objects]
        if not inds:
            continue
        pa = _per_actor(defs, defs.used_conditions(inds), [role], period)
        stmt2 = (
            select(cast(pa.c.actor_id, String), *_sums(defs, pa, inds))
            .where(pa.c.actor_id.is_not(None))
            .group_by(pa.c.actor_id)
        )
        for row in session.execute(stmt2):
            values = _values(row[1:], inds)
            table[role].setdefault(row[0], {}).update(values)
    return table


def recount(session: Session, defs: Definitions, *, missed: bool = True) -> Sums:
    """The summary's rows computed from scratch: every ``case_facts`` row counted under
    its case's keys as they stand, one ``GROUP BY`` per kind of object; 漏报 counted
    from ``missed_reports``."""
    from duban.evaluation.missed import missed_sums  # deferred: missed reads this module

    p = plan(defs)
    base = (
        select(
            F.month,
            F.actor_role,
            F.actor_id,
            F.flags,
            C.source,
            C.district_code,
            C.street_code,
            C.community_code,
            C.grid_code,
            C.unit_id,
            C.created_by_id,
        )
        .join(C, C.id == F.case_id)
        .cte("rows")
    )
    region = (
        func.coalesce(base.c.district_code, "")
        + "|"
        + func.coalesce(base.c.street_code, "")
        + "|"
        + func.coalesce(base.c.community_code, "")
        + "|"
        + func.coalesce(base.c.grid_code, "")
    )
    groups: list[tuple[str, Any, Any, tuple[Indicator, ...]]] = [
        (REGION, region, base.c.actor_role == CASE_ROLE, p.region),
        (
            "unit",
            cast(base.c.unit_id, String),
            and_(base.c.actor_role == CASE_ROLE, base.c.unit_id.is_not(None)),
            p.unit,
        ),
        (
            "creator",
            cast(base.c.created_by_id, String),
            and_(base.c.actor_role == CASE_ROLE, base.c.created_by_id.is_not(None)),
            p.creator,
        ),
        *[
            (role, cast(base.c.actor_id, String), base.c.actor_role == role, inds)
            for role, inds in p.actor.items()
        ],
    ]
    out: Sums = {}
    for obj, col, where, inds in groups:
        stmt = (
            select(base.c.month, col, func.count(), *_sums(defs, base, inds))
            .where(where)
            .group_by(base.c.month, col)
        )
        for row in session.execute(stmt):
            month, k, n = int(row[0]), str(row[1]), int(row[2])
            out[(month, obj, k, CASES)] = [n, 0]
            i = 3
            for ind in inds:
                num = int(row[i] or 0)
                i += 1
                den = 0
                if ind.denominator is not None:
                    den = int(row[i] or 0)
                    i += 1
                if num or den:
                    out[(month, obj, k, ind.code)] = [num, den]
    if missed:
        out.update(missed_sums(session))
    return out


def rebuild_summary(session: Session, *, missed: bool = True) -> None:
    """Recount the whole summary from ``case_facts`` (the migration's backfill,
    ``duban evaluation rebuild-facts``, after a change of ``data/evaluation.yaml``), and
    漏报 (``missed_reports``) with today's beats and patrol hours: a rebuild forgets the
    beats in force when past cases were reported. ``missed=False``: the facts' rows only
    (the migrations before ``missed_reports`` existed)."""
    from duban.cases import mark_counted
    from duban.evaluation.missed import rebuild_missed

    session.execute(delete(SUMMARY))
    mark_counted(session)
    if missed:
        rebuild_missed(session)  # with today's beats and patrol hours
    write_sums(session, recount(session, definitions(), missed=missed))


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
    period = _range(session, start, end)
    cte: CTE
    if indicator.by == "actor":
        cte = _per_actor(defs, names, [obj], period, int(key))
    else:
        column = _CASE_KEYS["creator" if indicator.by == "creator" else obj]
        value: Any = key if obj in REGION_LEVELS else int(key)
        cte = _per_case(defs, names, period, column == value)
    if part == "numerator":
        test = _in_numerator(defs, cte, indicator)
    elif indicator.denominator is not None:
        test = _passes(defs, cte, indicator.denominator)
    else:
        test = false()
    stmt = select(C.id, C.code).join(cte, cte.c.case_id == C.id).where(test).order_by(C.id)
    return [(int(row[0]), str(row[1])) for row in session.execute(stmt)]
