"""The map counts (``map_counts``): cases per unit grid, status and map flags.

The zoomed-out maps (the staff one map and the public map) draw counts per cell of about
48 pixels; at a million cases grouping the cases themselves takes a second. This table
holds the same counts per unit grid — a few rows per grid — and the maps place them at
the grid's centre. It is kept like the evaluation summary: the one event writer
(:func:`duban.cases.audit.append_event`) and the one writer of new cases
(:mod:`duban.cases.intake`) call :func:`count_case` / :func:`count_new` in the event's
transaction; each case remembers the row it is counted in (``cases.mapped_as``), so a
change of status, grid, deadline outcome or merge moves one count. :func:`rebuild_map_counts`
recounts from scratch (the migration's backfill, bulk loads); :func:`map_counts_drift` compares the
table with a ``GROUP BY`` over the cases (``duban cases check-map-counts``).

What the clock changes — a running case passing its deadline — is not in the table:
the maps count those from ``ix_cases_status_due`` alone (few: only dispatched and
handling; the index holds their grid and duplicate link, so no case row is read). The grid
centres are read once per version of the map (:func:`grid_centres`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, text
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from duban.cases.models import MAP_DUPLICATE, MAP_KEY_SQL, MAP_LATE, Case, MapCount
from duban.cases.workflow import CLOCK_RUNNING, OPEN, CaseStatus
from duban.kernel.db.stamps import StampedCache, database_key

MAP_TABLE = cast(Table, MapCount.__table__)


def _naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def map_key(values: Mapping[str, Any]) -> str:
    """:data:`~duban.cases.models.MAP_KEY_SQL` of a case's column values."""
    status = values["status"]
    status = str(status.value if isinstance(status, Enum) else status)
    due, handled, parked = (_naive(values.get(c)) for c in ("due_at", "handled_at", "parked_at"))
    late = (
        status not in {s.value for s in CLOCK_RUNNING}
        and handled is not None
        and due is not None
        and handled > due
    ) or (
        status == CaseStatus.PARKED.value
        and parked is not None
        and due is not None
        and parked > due
    )
    flags = (MAP_LATE if late else 0) + (MAP_DUPLICATE if values.get("duplicate_of_id") else 0)
    return f"{values.get('grid_code') or ''}|{status}|{flags}"


def _upsert(session: Session) -> Any:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(MAP_TABLE)
    return stmt.on_conflict_do_update(
        index_elements=["grid_code", "status", "flags"],
        set_={"cases": MAP_TABLE.c.cases + stmt.excluded.cases},
    )


def _add(session: Session, changes: Iterable[tuple[str, int]]) -> None:
    sums: dict[str, int] = {}
    for key, sign in changes:
        sums[key] = sums.get(key, 0) + sign
    rows = []
    for key, n in sorted(sums.items()):  # one order for every writer: no deadlock
        if n:
            grid, status, flags = key.rsplit("|", 2)
            rows.append({"grid_code": grid, "status": status, "flags": int(flags), "cases": n})
    if rows:
        session.execute(_upsert(session), rows)


def count_case(session: Session, case: Case) -> None:
    """Move the case's count to the row it belongs in now (the event writer calls this)."""
    now = map_key({c: getattr(case, c) for c in _COLUMNS})
    was = case.mapped_as
    if was == now:
        return
    _add(session, ([(was, -1)] if was is not None else []) + [(now, 1)])
    case.mapped_as = now


def count_new(session: Session, keys: Iterable[str]) -> None:
    """Count new cases, written with ``mapped_as`` set to these keys."""
    _add(session, ((k, 1) for k in keys))


_COLUMNS = ("grid_code", "status", "due_at", "handled_at", "parked_at", "duplicate_of_id")

_GROUPED = f"SELECT k, count(*) FROM (SELECT {MAP_KEY_SQL} AS k FROM cases) keyed GROUP BY k"


def rebuild_map_counts(session: Session) -> None:
    """Recount the table and every case's ``mapped_as`` from the cases, set-based."""
    session.execute(text(f"UPDATE cases SET mapped_as = {MAP_KEY_SQL}"))
    session.execute(MAP_TABLE.delete())
    session.execute(
        text(
            "INSERT INTO map_counts (grid_code, status, flags, cases)"
            " SELECT COALESCE(grid_code, ''), status,"
            " CAST(substr(mapped_as, length(mapped_as), 1) AS INTEGER), count(*)"
            " FROM cases GROUP BY COALESCE(grid_code, ''), status, mapped_as"
        )
    )


def map_counts_drift(session: Session) -> list[tuple[str, int, int]]:
    """(key, counted in the table, counted over the cases) where they differ: empty when
    the table is right."""
    table = {
        f"{g}|{s}|{f}": int(n)
        for g, s, f, n in session.execute(
            text("SELECT grid_code, status, flags, cases FROM map_counts")
        )
    }
    cases = {str(k): int(n) for k, n in session.execute(text(_GROUPED))}
    return [
        (k, table.get(k, 0), cases.get(k, 0))
        for k in sorted(set(table) | set(cases))
        if table.get(k, 0) != cases.get(k, 0)
    ]


# --------------------------------------------------------------------------- reading

#: A unit grid's counts: (lat, lon of its centre, cases, open, overdue).
GridRow = tuple[float, float, int, int, int]


#: Per database, the grid centres read with the places index they are stamped with.
_centres: StampedCache[dict[str, tuple[float, float]]] = StampedCache()


def grid_centres(session: Session) -> dict[str, tuple[float, float]]:
    """The centre of every unit grid's box (a retired grid's, if no current one has its
    code), kept by the process as long as the places index: every change of regions
    moves the map's version and so replaces the index, and these are read again."""
    from duban.places import places_index

    index = places_index(session)  # its version is checked once per request
    database = database_key(session.get_bind().engine)
    held = _centres.get(database, index)
    return held if held is not None else _centres.put(database, index, _read_centres(session))


def _read_centres(session: Session) -> dict[str, tuple[float, float]]:
    from duban.places import Region

    rows = session.execute(
        select(
            Region.code,
            (Region.min_lat + Region.max_lat) / 2,
            (Region.min_lon + Region.max_lon) / 2,
            Region.valid_to.is_(None),
        ).where(Region.level == "grid")
    ).all()
    out: dict[str, tuple[float, float]] = {}
    for code, lat, lon, _current in sorted(rows, key=lambda r: bool(r[3])):
        out[str(code)] = (float(lat), float(lon))
    return out


def counts_by_grid(
    session: Session,
    *,
    now: datetime,
    statuses: Sequence[str] = (),
    hidden_statuses: Sequence[str] = (),
    grid_prefixes: Sequence[str] = (),
    duplicates: bool = True,
    overdue: bool = True,
) -> dict[str, list[int]]:
    """grid code → [cases, open, overdue] of the cases with these statuses (any if
    empty), not those hidden, in grids starting with one of ``grid_prefixes`` (any if
    empty), with or without the duplicates. Cases without a grid are under ``''``."""
    m = MAP_TABLE.c
    is_open = sql_case((m.status.in_(sorted(OPEN)), m.cases), else_=0)
    is_late = sql_case((m.flags.op("&")(MAP_LATE) != 0, m.cases), else_=0)
    where: list[Any] = [m.cases != 0]
    if statuses:
        where.append(m.status.in_(list(statuses)))
    if hidden_statuses:
        where.append(m.status.not_in(list(hidden_statuses)))
    if grid_prefixes:
        where.append(or_(*(m.grid_code.startswith(p, autoescape=True) for p in grid_prefixes)))
    if not duplicates:
        where.append(m.flags.op("&")(MAP_DUPLICATE) == 0)
    out = {
        str(g): [int(n), int(o), int(late)]
        for g, n, o, late in session.execute(
            select(m.grid_code, func.sum(m.cases), func.sum(is_open), func.sum(is_late))
            .where(*where)
            .group_by(m.grid_code)
        )
    }
    if overdue:
        # Running past the deadline: what the clock, not an event, changes.
        running = [s.value for s in CLOCK_RUNNING]
        if statuses:
            running = [s for s in running if s in statuses]
        late_where: list[Any] = [Case.status.in_(running), Case.due_at < now]
        if grid_prefixes:
            late_where.append(
                or_(*(Case.grid_code.startswith(p, autoescape=True) for p in grid_prefixes))
            )
        if not duplicates:
            late_where.append(Case.duplicate_of_id.is_(None))
        if running:
            for g, n in session.execute(
                select(Case.grid_code, func.count()).where(*late_where).group_by(Case.grid_code)
            ):
                out.setdefault(g or "", [0, 0, 0])[2] += int(n)
    return out


def cells_of(
    by_grid: Mapping[str, Sequence[int]],
    centres: Mapping[str, tuple[float, float]],
    size: float,
    box: tuple[float, float, float, float] | None,
) -> list[list[float | int]]:
    """Cells of ``size`` degrees from counts per grid placed at the grids' centres (those
    inside ``box``: south, west, north, east): ``[lat, lon, count, open, overdue]`` with
    the count-weighted mean centre. Grids without a known centre are left out."""
    sums: dict[tuple[int, int], list[float]] = {}
    for grid, counts in by_grid.items():
        centre = centres.get(grid)
        if centre is None or not counts[0]:
            continue
        lat, lon = centre
        if box is not None and not (box[0] <= lat <= box[2] and box[1] <= lon <= box[3]):
            continue
        cell = sums.setdefault((int((lat + 90.0) / size), int((lon + 180.0) / size)), [0.0] * 5)
        n = counts[0]
        cell[0] += lat * n
        cell[1] += lon * n
        cell[2] += n
        cell[3] += counts[1]
        cell[4] += counts[2]
    return [
        [c[0] / c[2], c[1] / c[2], int(c[2]), int(c[3]), int(c[4])] for _, c in sorted(sums.items())
    ]
