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
handling; the index holds their grid and duplicate link, so no case row is read). The
counts are placed at the grids' centres and summed per cell in the database
(:func:`counted_cells`): only the cells come back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import Integer, Select, Table, and_, func, literal, or_, select, text, union_all
from sqlalchemy import case as sql_case
from sqlalchemy import cast as cast_to
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from duban.cases.models import MAP_DUPLICATE, MAP_KEY_SQL, MAP_LATE, Case, MapCount
from duban.cases.workflow import CLOCK_RUNNING, OPEN, CaseStatus
from duban.kernel.db.prepared import Prepared, bind_columns

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


def _build_upsert(insert: Any) -> Any:
    stmt = insert(MAP_TABLE).values(bind_columns(MAP_TABLE))
    return stmt.on_conflict_do_update(
        index_elements=["grid_code", "status", "flags"],
        set_={"cases": MAP_TABLE.c.cases + stmt.excluded.cases},
    )


# Built and compiled once per dialect (as the evaluation summary's): only the rows vary.
_UPSERTS = {
    "postgresql": Prepared(_build_upsert(pg_insert)),
    "sqlite": Prepared(_build_upsert(sqlite_insert)),
}


def _add(session: Session, changes: Iterable[tuple[str, int]]) -> None:
    sums: dict[str, int] = {}
    for key, sign in changes:
        sums[key] = sums.get(key, 0) + sign
    rows = []
    for key, n in sorted(sums.items()):  # one order for every writer: no deadlock
        if n:
            grid, status, flags = key.rsplit("|", 2)
            rows.append({"grid_code": grid, "status": status, "flags": int(flags), "cases": n})
    _UPSERTS[session.get_bind().dialect.name].run_many(session, rows)


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


def _cell_key(value: Any, size: float, shift: float, dialect: str) -> Any:
    """The cell index of a coordinate as Python's ``int((value + shift) / size)``: a
    truncation (positive values: the floor) — PostgreSQL's CAST would round."""
    scaled = (value + shift) / size
    if dialect == "postgresql":
        scaled = func.trunc(scaled)
    return cast_to(scaled, Integer)


def grid_centres_query() -> Any:
    """Every unit grid's code and the centre of its box, as a subquery: the current
    version's, or for a grid retired since (its cases keep its code) the latest one's
    (the few retired grids are looked up by code)."""
    from duban.places import Region

    lat = ((Region.min_lat + Region.max_lat) / 2.0).label("lat")
    lon = ((Region.min_lon + Region.max_lon) / 2.0).label("lon")
    other = aliased(Region)
    latest_retired = and_(
        ~select(other.id).where(other.code == Region.code, other.valid_to.is_(None)).exists(),
        Region.valid_from
        == select(func.max(other.valid_from)).where(other.code == Region.code).scalar_subquery(),
    )
    # One scan of the regions (not a union): PostgreSQL then knows the codes are
    # distinct and estimates the joins right (a union's 1/200 guess made it compile
    # the query, JIT, 100 ms).
    return (
        select(Region.code.label("code"), lat, lon)
        .where(Region.level == "grid", or_(Region.valid_to.is_(None), latest_retired))
        .subquery("grid_centres")
    )


def counted_cells(
    session: Session,
    *,
    now: datetime,
    size: float,
    box: tuple[float, float, float, float] | None = None,
    statuses: Sequence[str] = (),
    hidden_statuses: Sequence[str] = (),
    grid_prefixes: Sequence[str] = (),
    duplicates: bool = True,
    overdue: bool = True,
    only_overdue: bool = False,
    less: Select[Any] | Any = None,
) -> list[list[float | int]]:
    """Cells of ``size`` degrees from the map counts, summed in the database: the counts
    per unit grid placed at the grid's centre (those inside ``box``: south, west, north,
    east), ``[lat, lon, count, open, overdue]`` with the count-weighted mean centre, in
    the order of the cells' rows and columns.

    The counts are those of the cases with these statuses (any if empty), not those
    hidden, in grids starting with one of ``grid_prefixes`` (any if empty), with or
    without the duplicates, ``only_overdue`` (past the deadline now) or all, less the
    rows of ``less`` (grid code, cases, open). Cases
    without a grid, or in a grid without a known box, are left out (the callers group
    those few over the cases)."""
    m = MAP_TABLE.c
    is_open = sql_case((m.status.in_(sorted(OPEN)), m.cases), else_=0)
    is_late = sql_case((m.flags.op("&")(MAP_LATE) != 0, m.cases), else_=0)
    where: list[Any] = [m.cases != 0, m.grid_code != ""]
    if statuses:
        where.append(m.status.in_(list(statuses)))
    if hidden_statuses:
        where.append(m.status.not_in(list(hidden_statuses)))
    if grid_prefixes:
        where.append(or_(*(m.grid_code.startswith(p, autoescape=True) for p in grid_prefixes)))
    if not duplicates:
        where.append(m.flags.op("&")(MAP_DUPLICATE) == 0)
    if only_overdue:
        where.append(m.flags.op("&")(MAP_LATE) != 0)
    rows: Any = select(
        m.grid_code.label("grid"),
        m.cases.label("n"),
        is_open.label("open"),
        is_late.label("late"),
    ).where(*where)
    if less is not None:
        taken = list(less.subquery("less").c)
        rows = union_all(rows, select(taken[0], -taken[1], -taken[2], literal(0, Integer)))
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
    if only_overdue and running:
        # The running-late cases are all of their grids' overdue ones: rows of their own.
        late_rows = select(Case.grid_code, func.count(), func.count(), func.count())
        rows = union_all(rows, late_rows.where(*late_where).group_by(Case.grid_code))
    counts = rows.subquery("counts")
    # Grouped alone, the table's rows come in its key's order (grid first): no sort.
    per_grid = (
        select(
            counts.c.grid,
            func.sum(counts.c.n).label("n"),
            func.sum(counts.c.open).label("open"),
            func.sum(counts.c.late).label("late"),
        )
        .group_by(counts.c.grid)
        .having(func.sum(counts.c.n) != 0)
        .subquery("per_grid")
    )
    late: Any = per_grid.c.late
    late_by_grid = None
    if overdue and running and not only_overdue:
        # Running past the deadline: what the clock, not an event, changes
        # (ix_cases_status_due holds the grid and the duplicate link: no case row is read).
        # These cases are counted in the table's rows of their grid too, so a left join.
        late_by_grid = (
            select(Case.grid_code.label("grid"), func.count().label("late"))
            .where(*late_where)
            .group_by(Case.grid_code)
            .subquery("running_late")
        )
        late = late + func.coalesce(late_by_grid.c.late, 0)
    centre = grid_centres_query()
    dialect = session.get_bind().dialect.name
    row = _cell_key(centre.c.lat, size, 90.0, dialect)
    col = _cell_key(centre.c.lon, size, 180.0, dialect)
    lat, lon = centre.c.lat, centre.c.lon
    stmt = select(
        func.sum(lat * per_grid.c.n),
        func.sum(lon * per_grid.c.n),
        func.sum(per_grid.c.n),
        func.sum(per_grid.c.open),
        func.sum(late),
    ).join_from(per_grid, centre, centre.c.code == per_grid.c.grid)
    if late_by_grid is not None:
        stmt = stmt.outerjoin(late_by_grid, late_by_grid.c.grid == per_grid.c.grid)
    if box is not None:
        south, west, north, east = box
        stmt = stmt.where(lat.between(south, north), lon.between(west, east))
    stmt = stmt.group_by(row, col).order_by(row, col)
    return [
        [float(lat) / int(n), float(lon) / int(n), int(n), int(o or 0), int(late or 0)]
        for lat, lon, n, o, late in session.execute(stmt)
        if n
    ]
