"""The evaluation summary (``eval_summary``), kept with the case facts; a month read from it.

Every indicator is a sum over cases of tests on one case's facts of a month (its bits
and source), so the sums of a month are kept per object: the case facts' writer
(:mod:`duban.cases.facts`) hands each change of a ``case_facts`` row here, in the event's
transaction, as the row's old contribution (subtracted) and new one (added), under the
keys the case is counted under (``cases.counted_as``: its region codes, lead unit,
reporter and source). A case moved to another region or unit moves its counts with its
next event; one moved without an event (a direct update) is found by the partial index
``ix_cases_recount`` and corrected at read, so the numbers always follow the case as it
stands, as a count over ``case_facts`` joined to ``cases`` would.

:func:`~duban.evaluation.indicators.recount` computes the same rows from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from duban.evaluation.definitions import POSITIONS, REGION_LEVELS, Definitions, Indicator, Test
from duban.evaluation.models import SummaryCount
from duban.kernel.db.prepared import Prepared, bind_columns

SUMMARY = cast(Table, SummaryCount.__table__)
REGION: Final = "region"
#: The pseudo-indicator counting the cases (rows of ``case_facts``) of an object.
CASES: Final = ""
CASE_ROLE: Final = ""

#: (month, object, key, indicator) → [numerator, denominator]
Sums = dict[tuple[int, str, str, str], list[int]]
#: One case facts row with a sign: (counted-as key, month, actor role, actor id, flags, ±1)
Entry = tuple[str, int, str, int, int, int]


@dataclass(frozen=True)
class Plan:
    """The indicators kept per kind of object."""

    region: tuple[Indicator, ...]
    unit: tuple[Indicator, ...]
    creator: tuple[Indicator, ...]
    actor: Mapping[str, tuple[Indicator, ...]]


_plans: dict[int, tuple[Definitions, Plan]] = {}


def plan(defs: Definitions) -> Plan:
    found = _plans.get(id(defs))
    if found is not None and found[0] is defs:
        return found[1]
    inds = list(defs.indicators.values())
    made = Plan(
        region=tuple(i for i in inds if i.by == "case" and set(REGION_LEVELS) & set(i.objects)),
        unit=tuple(i for i in inds if i.by == "case" and "unit" in i.objects),
        creator=tuple(i for i in inds if i.by == "creator"),
        actor={
            role: tuple(i for i in inds if i.by == "actor" and role in i.objects)
            for role in POSITIONS
        },
    )
    _plans[id(defs)] = (defs, made)
    return made


def _passes(defs: Definitions, test: Test, flags: int, source: str) -> bool:
    def hit(name: str) -> bool:
        cond = defs.conditions[name]
        return bool(flags & cond.fact.mask) and (not cond.source or source in cond.source)

    return any(hit(n) for n in test.any) and not any(hit(n) for n in test.none)


def _counts(
    defs: Definitions, inds: Iterable[Indicator], flags: int, source: str
) -> Iterable[tuple[str, int, int]]:
    """(indicator, numerator, denominator) of one case facts row, the non-zero ones."""
    for ind in inds:
        if ind.denominator is None:
            if _passes(defs, ind.numerator, flags, source):
                yield ind.code, 1, 0
        elif _passes(defs, ind.denominator, flags, source):
            yield ind.code, int(_passes(defs, ind.numerator, flags, source)), 1


def contributions(
    defs: Definitions, counted_as: str, role: str, actor: int, flags: int
) -> Iterable[tuple[str, str, str, int, int]]:
    """(object, key, indicator, numerator, denominator) one case facts row adds."""
    parts = counted_as.split("|")
    source = parts[6]
    p = plan(defs)
    objects: list[tuple[str, str, tuple[Indicator, ...]]] = []
    if role == CASE_ROLE:
        objects.append((REGION, "|".join(parts[:4]), p.region))
        if parts[4]:
            objects.append(("unit", parts[4], p.unit))
        if parts[5]:
            objects.append(("creator", parts[5], p.creator))
    elif role in p.actor:
        objects.append((role, str(actor), p.actor[role]))
    for obj, key, inds in objects:
        yield obj, key, CASES, 1, 0
        for code, num, den in _counts(defs, inds, flags, source):
            yield obj, key, code, num, den


def add_entries(defs: Definitions, sums: Sums, entries: Iterable[Entry]) -> None:
    for counted_as, month, role, actor, flags, sign in entries:
        for obj, key, code, num, den in contributions(defs, counted_as, role, actor, flags):
            have = sums.setdefault((month, obj, key, code), [0, 0])
            have[0] += sign * num
            have[1] += sign * den


def count_facts(session: Session, entries: Sequence[Entry]) -> None:
    """Add (sign 1) and subtract (sign -1) case facts rows to and from the summary: the
    writer of the facts calls this with every change, in its transaction."""
    from duban.evaluation.definitions import definitions

    sums: Sums = {}
    add_entries(definitions(), sums, entries)
    rows = [
        {
            "month": k[0],
            "object": k[1],
            "key": k[2],
            "indicator": k[3],
            "numerator": v[0],
            "denominator": v[1],
        }
        for k, v in sorted(sums.items())  # one order for every writer: no deadlock
        if v[0] or v[1]
    ]
    _upsert(session).run_many(session, rows)


def _build_upsert(insert: Any) -> Any:
    stmt = insert(SUMMARY).values(bind_columns(SUMMARY))
    return stmt.on_conflict_do_update(
        index_elements=["month", "object", "key", "indicator"],
        set_={
            "numerator": SUMMARY.c.numerator + stmt.excluded.numerator,
            "denominator": SUMMARY.c.denominator + stmt.excluded.denominator,
        },
    )


# Built and compiled once per dialect: building it (``excluded`` copies the table's
# columns) and SQLAlchemy's execution cost more CPU than the database's work, every event.
_UPSERTS = {
    "postgresql": Prepared(_build_upsert(pg_insert)),
    "sqlite": Prepared(_build_upsert(sqlite_insert)),
}


def _upsert(session: Session) -> Prepared:
    return _UPSERTS[session.get_bind().dialect.name]


def write_sums(session: Session, sums: Sums) -> None:
    """Insert rows into an empty summary (the rebuild)."""
    rows = [
        {
            "month": k[0],
            "object": k[1],
            "key": k[2],
            "indicator": k[3],
            "numerator": v[0],
            "denominator": v[1],
        }
        for k, v in sorted(sums.items())
    ]
    for i in range(0, len(rows), 10_000):
        _upsert(session).run_many(session, rows[i : i + 10_000])


#: object → key → indicator → [numerator, denominator]
Nested = dict[str, dict[str, dict[str, list[int]]]]


def month_sums(session: Session, defs: Definitions, month: int) -> Nested:
    """The summary's rows of one month, corrected for the cases counted under other keys
    than theirs (few: found by the partial index ``ix_cases_recount``)."""
    from duban.cases import COUNTED_KEY_SQL, RECOUNT_SQL

    out: Nested = {}
    cursor = session.connection().exec_driver_sql(
        "SELECT object, key, indicator, numerator, denominator FROM eval_summary"
        f" WHERE month = {int(month)}"
    )
    for obj, key, code, n, d in cursor.fetchall():
        out.setdefault(obj, {}).setdefault(key, {})[code] = [n, d]
    moved = session.execute(
        text(
            "SELECT m.counted_as, m.now_as, f.actor_role, f.actor_id, f.flags"
            f" FROM (SELECT id, counted_as, {COUNTED_KEY_SQL} AS now_as FROM cases"
            f" WHERE {RECOUNT_SQL}) m"
            " JOIN case_facts f ON f.case_id = m.id AND f.month = :month"
        ),
        {"month": month},
    ).all()
    entries: list[Entry] = []
    for was, now, role, actor, flags in moved:
        if was is not None:
            entries.append((was, month, role, actor, flags, -1))
        entries.append((now, month, role, actor, flags, 1))
    fix: Sums = {}
    add_entries(defs, fix, entries)
    for (_, obj, key, code), (n, d) in fix.items():
        have = out.setdefault(obj, {}).setdefault(key, {}).setdefault(code, [0, 0])
        have[0] += n
        have[1] += d
    return out
