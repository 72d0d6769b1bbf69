"""The case facts (``case_facts``): kept with each event, rebuilt set-based from the log.

:func:`record_event` is called by the one event writer (:func:`duban.cases.audit.append_event`)
and :func:`record_reports` by the one writer of new cases, in the event's transaction;
each change of a row is handed to the evaluation's summary (its old contribution out, its
new one in, under the keys the case is counted under: ``cases.counted_as``; a case whose
region, unit, reporter or source changed moves all its rows there); a flush that writes a
case's ``grid_code`` moves its 漏报 (:func:`duban.evaluation.relocate_missed`), whatever
wrote it;
:func:`rebuild` recomputes the rows of some or all cases from ``case_events`` with one
``INSERT … SELECT`` (the migration's backfill, ``duban evaluation rebuild-facts`` after
``data/case_facts.yaml`` changed, and the benchmark's generated events).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from typing import Any, cast

from sqlalchemy import Table, delete, inspect, select, text
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from duban.cases.factrules import Fact, case_facts, fact_bits, local_month
from duban.cases.models import COUNTED_KEY_SQL, Case, CaseEvent, CaseFact
from duban.kernel.db.prepared import Prepared, insert_all
from duban.reference import load_policy

FACTS_TABLE = cast(Table, CaseFact.__table__)
CASE_ROLE = ""  # the row of the case as a whole


def _tz(session: Session) -> tzinfo:
    return load_policy(session).tz


#: The columns of a case its facts are counted under, in the order of ``COUNTED_KEY_SQL``.
KEY_COLUMNS = (
    "district_code",
    "street_code",
    "community_code",
    "grid_code",
    "unit_id",
    "created_by_id",
    "source",
)
#: (month, actor role, actor id) → flags
Rows = dict[tuple[int, str, int], int]


def counted_key(values: Mapping[str, Any]) -> str:
    """``COUNTED_KEY_SQL`` of a case's column values."""

    def part(value: Any) -> str:
        if value is None:
            return ""
        return str(value.value if isinstance(value, Enum) else value)

    return "|".join(part(values.get(c)) for c in KEY_COLUMNS)


def _count(session: Session, entries: list[tuple[str, int, str, int, int, int]]) -> None:
    if entries:
        from duban.evaluation import count_facts

        count_facts(session, entries)


def _add(session: Session, key: tuple[int, int, str, int], bits: int) -> tuple[int, int]:
    """OR ``bits`` into a row; its flags before and after."""
    row = session.get(
        CaseFact, {"case_id": key[0], "month": key[1], "actor_role": key[2], "actor_id": key[3]}
    )
    if row is None:
        session.add(
            CaseFact(case_id=key[0], month=key[1], actor_role=key[2], actor_id=key[3], flags=bits)
        )
        return 0, bits
    old = row.flags
    if old | bits != old:
        row.flags = old | bits
    return old, row.flags


def record_event(
    session: Session,
    case: Case,
    *,
    action: str,
    from_status: str | None,
    to_status: str,
    actor_id: int | None,
    actor_role: str,
    at: datetime,
    payload: Mapping[str, Any],
) -> None:
    """Set the facts one event adds to its case's month (and to its actor's row), and
    count the change in the evaluation's summary."""
    bits = fact_bits(list(case_facts().values()), action, from_status, to_status, payload)
    changed: dict[tuple[int, str, int], tuple[int, int]] = {}
    if bits:
        month = local_month(at, _tz(session))
        changed[(month, CASE_ROLE, 0)] = _add(session, (case.id, month, CASE_ROLE, 0), bits)
        if actor_id is not None:
            key = (month, actor_role, actor_id)
            changed[key] = _add(session, (case.id, *key), bits)
        for actions, charged in _charges(bits).items():
            who = _charged(session, case.id, actions)
            if who is not None:
                key = (month, *who)
                before = changed.get(key, (None, 0))[0]
                old, new = _add(session, (case.id, *key), charged)
                changed[key] = (old if before is None else before, new)
    now_as = counted_key({c: getattr(case, c) for c in KEY_COLUMNS})
    was = case.counted_as
    entries: list[tuple[str, int, str, int, int, int]] = []
    if was == now_as:
        for (month, role, actor), (old, new) in changed.items():
            if old != new:
                if old:
                    entries.append((now_as, month, role, actor, old, -1))
                entries.append((now_as, month, role, actor, new, 1))
    else:  # moved (or never counted): every row of the case goes to its keys as they stand
        rows = facts_of(session, case.id)  # as flushed, then this event's changes
        rows.update({k: new for k, (_, new) in changed.items()})
        for (month, role, actor), flags in rows.items():
            before = changed.get((month, role, actor), (flags, flags))[0]
            if was is not None and before:
                entries.append((was, month, role, actor, before, -1))
            entries.append((now_as, month, role, actor, flags, 1))
        case.counted_as = now_as
    _count(session, entries)


#: ``session.info`` key: the ids of the cases whose grid the flush under way writes.
_MOVED = "duban.cases.moved_grid"


@orm_event.listens_for(Session, "before_flush")
def _note_moved_cases(session: Session, _context: Any, _instances: Any) -> None:
    """Note the cases whose ``grid_code`` this flush writes, whoever set it: an action's
    place correction (with its event) or a direct edit (an admin's fix, a script)."""
    moved = [
        obj.id
        for obj in session.dirty
        if isinstance(obj, Case) and inspect(obj).attrs.grid_code.history.has_changes()
    ]
    if moved:
        session.info.setdefault(_MOVED, set()).update(moved)


@orm_event.listens_for(Session, "after_flush_postexec")
def _relocate_moved_cases(session: Session, _context: Any) -> None:
    """The noted cases' 漏报 follow them to their new grid (the evaluation's own record),
    once the new grid is in the database. (A writer of ``cases.grid_code`` by a Core
    statement, bypassing the ORM, must call ``relocate_missed`` itself: there is none.)"""
    moved = session.info.pop(_MOVED, None)
    if moved:
        from duban.evaluation import relocate_missed

        with session.no_autoflush:  # inside the flush: its statements must not flush again
            relocate_missed(session, sorted(moved))


def _record_missed(session: Session, cases: Sequence[Mapping[str, Any]]) -> None:
    """The new cases' 漏报 (the evaluation's own record), by the beats in force now."""
    placed = [c for c in cases if c.get("grid_code") is not None]
    if placed:
        from duban.evaluation import record_missed

        times = [c["created_at"] for c in placed]
        record_missed(session, [c["id"] for c in placed], min(times), max(times))


def _charges(bits: int) -> dict[tuple[str, ...], int]:
    """The bits among ``bits`` charged to an earlier event's actor, by its actions."""
    out: dict[tuple[str, ...], int] = {}
    for fact in case_facts().values():
        if fact.charge and bits & fact.mask:
            out[fact.charge] = out.get(fact.charge, 0) | fact.mask
    return out


def _charged(session: Session, case_id: int, actions: Sequence[str]) -> tuple[str, int] | None:
    """(role, id) of who did the case's latest event of ``actions`` (the new event is not
    one of them)."""
    session.flush()
    row = session.execute(
        select(CaseEvent.actor_role, CaseEvent.actor_id)
        .where(CaseEvent.case_id == case_id, CaseEvent.action.in_(actions))
        .where(CaseEvent.actor_id.is_not(None))
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    ).first()
    return None if row is None or row[1] is None else (row[0], row[1])


_INSERT_FACTS = Prepared(insert_all(FACTS_TABLE))


def record_reports(
    session: Session, written: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
) -> None:
    """The facts of new cases' first events: (event, case) rows as written, the case's
    ``counted_as`` set to its keys."""
    facts = list(case_facts().values())
    tz = _tz(session)
    rows: list[dict[str, Any]] = []
    entries: list[tuple[str, int, str, int, int, int]] = []
    for event, case in written:
        payload = event["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload)
        bits = fact_bits(facts, event["action"], event["from_status"], event["to_status"], payload)
        if not bits:
            continue
        month = local_month(event["occurred_at"], tz)
        counted_as = case["counted_as"]
        base = {"case_id": event["case_id"], "month": month, "flags": bits}
        rows.append({**base, "actor_role": CASE_ROLE, "actor_id": 0})
        entries.append((counted_as, month, CASE_ROLE, 0, bits, 1))
        if event["actor_id"] is not None:
            rows.append({**base, "actor_role": event["actor_role"], "actor_id": event["actor_id"]})
            entries.append((counted_as, month, event["actor_role"], event["actor_id"], bits, 1))
    _INSERT_FACTS.run_many(session, rows)
    _count(session, entries)
    _record_missed(session, [{**case, "id": event["case_id"]} for event, case in written])


# --------------------------------------------------------------------------- set-based


def _literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_literal(v) for v in values)})"


def fact_sql(fact: Fact, alias: str = "e") -> str:
    """The fact as a condition on a ``case_events`` row (payload: its canonical JSON)."""
    parts = [_in(f"{alias}.action", fact.actions)]
    if fact.from_status:
        parts.append(_in(f"{alias}.from_status", fact.from_status))
    if fact.to_status:
        parts.append(_in(f"{alias}.to_status", fact.to_status))
    for key, value in fact.payload:
        fragment = f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
        escaped = fragment.replace("/", "//").replace("%", "/%").replace("_", "/_")
        parts.append(f"{alias}.payload LIKE {_literal('%' + escaped + '%')} ESCAPE '/'")
    return "(" + " AND ".join(parts) + ")"


def _fixed_offset(session: Session, tz: tzinfo) -> int | None:
    """The zone's UTC offset in seconds when it is the same over every event (Asia/Shanghai
    since 1991), else None."""
    first, last = session.execute(
        text("SELECT MIN(occurred_at), MAX(occurred_at) FROM case_events")
    ).one()
    if first is None:
        return 0
    start = datetime.fromisoformat(str(first)).replace(tzinfo=UTC)
    end = datetime.fromisoformat(str(last)).replace(tzinfo=UTC)
    offsets = set()
    at = start
    while at <= end:
        offsets.add(at.astimezone(tz).utcoffset())
        at += timedelta(days=14)
    offsets.add(end.astimezone(tz).utcoffset())
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds()) if offset is not None else None


def _month_sql(session: Session, tz: tzinfo) -> str:
    if session.get_bind().dialect.name == "postgresql":
        return f"CAST(to_char(e.occurred_at AT TIME ZONE {_literal(tz)}, 'YYYYMM') AS INTEGER)"
    offset = _fixed_offset(session, tz)
    if offset is not None:
        return f"CAST(strftime('%Y%m', e.occurred_at, '{offset:+d} seconds') AS INTEGER)"
    raw = session.connection().connection.driver_connection

    def month(stamp: str | None) -> int | None:
        if stamp is None:
            return None
        return local_month(datetime.fromisoformat(stamp).replace(tzinfo=UTC), tz)

    raw.create_function("duban_local_month", 1, month, deterministic=True)  # type: ignore[union-attr]
    return "duban_local_month(e.occurred_at)"


_EVENT_COLUMNS = "case_id, seq, occurred_at, action, from_status, to_status, payload"


def charged_events_sql(facts: Sequence[Fact]) -> str:
    """The events, each by its actor (``charged = 0``), and again by the actor it charges
    (``charged = 1``: the one who did the case's latest event of the fact's ``charge``
    actions before it; only the charged facts count on those copies)."""
    parts = [f"SELECT {_EVENT_COLUMNS}, actor_role, actor_id, 0 AS charged FROM case_events"]
    charges: dict[tuple[str, ...], list[Fact]] = {}
    for fact in facts:
        if fact.charge:
            charges.setdefault(fact.charge, []).append(fact)
    for actions, charged in charges.items():
        cols = ", ".join(f"r.{c.strip()}" for c in _EVENT_COLUMNS.split(","))
        latest = (
            f"SELECT MAX(x.seq) FROM case_events x WHERE x.case_id = r.case_id"
            f" AND {_in('x.action', actions)} AND x.actor_id IS NOT NULL AND x.seq < r.seq"
        )
        parts.append(
            f"SELECT {cols}, d.actor_role, d.actor_id, 1 AS charged FROM case_events r"
            f" JOIN case_events d ON d.case_id = r.case_id AND d.seq = ({latest})"
            f" WHERE {' OR '.join(fact_sql(f, 'r') for f in charged)}"
        )
    return " UNION ALL ".join(parts)


def rebuild_facts(session: Session, case_ids: Sequence[int] | None = None) -> None:
    """Recompute the facts of ``case_ids`` (all cases: None) from their events. The
    evaluation summary over them is not recounted here: ``rebuild_summary`` of
    :mod:`duban.evaluation` does (``duban evaluation rebuild-facts`` runs both)."""
    facts = list(case_facts().values())
    month = _month_sql(session, _tz(session))
    bits = " + ".join(f"MAX(CASE WHEN {fact_sql(f)} THEN {f.mask} ELSE 0 END)" for f in facts)
    where = ""
    if case_ids is not None:
        if not case_ids:
            return
        where = f" AND e.case_id IN ({', '.join(str(int(i)) for i in case_ids)})"
        session.execute(delete(FACTS_TABLE).where(FACTS_TABLE.c.case_id.in_(case_ids)))
    else:
        session.execute(delete(FACTS_TABLE))
    matching = " OR ".join(fact_sql(f) for f in facts)
    base = f"FROM case_events e WHERE ({matching}){where}"
    actor_bits = " + ".join(
        f"MAX(CASE WHEN {'' if f.charge else 'e.charged = 0 AND '}{fact_sql(f)}"
        f" THEN {f.mask} ELSE 0 END)"
        for f in facts
    )
    sql = (
        "INSERT INTO case_facts (case_id, month, actor_role, actor_id, flags)"
        f" SELECT e.case_id, {month}, '{CASE_ROLE}', 0, {bits} {base}"
        f" GROUP BY e.case_id, {month}"
        " UNION ALL"
        f" SELECT e.case_id, {month}, e.actor_role, e.actor_id, {actor_bits}"
        f" FROM ({charged_events_sql(facts)}) e WHERE ({matching}){where}"
        f" AND e.actor_id IS NOT NULL GROUP BY e.case_id, {month}, e.actor_role, e.actor_id"
    )
    # The payload patterns hold colons: not bind parameters.
    session.execute(text(sql.replace(":", "\\:")))


def mark_counted(session: Session) -> None:
    """Set every case's ``counted_as`` to its keys (the summary's rebuild counts them so)."""
    session.execute(text(f"UPDATE cases SET counted_as = {COUNTED_KEY_SQL}"))


def facts_of(session: Session, case_id: int) -> Rows:
    """(month, role, actor) → flags of one case, as stored."""
    rows = session.execute(FACTS_TABLE.select().where(FACTS_TABLE.c.case_id == case_id)).mappings()
    return {(r["month"], r["actor_role"], r["actor_id"]): r["flags"] for r in rows}
