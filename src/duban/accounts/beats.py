"""A collector's beat (责任区) as the unit grids it covers.

The beat is drawn as a GeoJSON polygon (``users.beat``); what the platform counts against
a collector (漏报) is a join of the cases' ``grid_code`` with ``collector_beat_grids``. The
geometry is read here only: when a beat is set, by the migration for the beats already
there, and when grids are imported (a grid's code may point at another place).

A beat covers a grid when at least :data:`COVER_SHARE` of the grid's area lies inside
the beat: a grid drawn across a beat's edge belongs to the collector who patrols most of
it, and two beats that split a grid evenly both cover it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from duban.accounts.models import CollectorBeatGrid, User
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.roles import Role

#: The share of a grid's area that must lie inside a beat for the beat to cover it.
COVER_SHARE: Final = 0.5
#: Codes per ``IN (...)`` list (SQLite allows some thousands of parameters a statement).
_IN_CHUNK: Final = 2000
#: The largest beat file read (a beat is a few hundred vertices; a map export may be more).
MAX_BEAT_BYTES: Final = 2_000_000


def parse_beat_file(data: bytes) -> Any:
    """The JSON of an uploaded beat file (checked afterwards by :func:`check_beat`)."""
    import json

    if len(data) > MAX_BEAT_BYTES:
        raise InvalidInput("the beat file is too large", field="beat")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidInput("the beat file is not GeoJSON", field="beat") from err


def _covered_grids(session: Session, beat: Any) -> list[str]:
    from shapely import from_wkb  # deferred: geometry only matters for beats
    from shapely.geometry import shape

    from duban.places import Region  # deferred: places reads accounts

    try:
        geom = shape(beat)
    except (ValueError, TypeError, AttributeError, KeyError):
        return []  # a malformed beat covers nothing
    if geom.is_empty:
        return []
    if not geom.is_valid:
        geom = geom.buffer(0)
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    rows = session.execute(
        select(Region.code, Region.geometry).where(
            Region.level == "grid",
            Region.valid_to.is_(None),
            Region.max_lon >= min_lon,
            Region.min_lon <= max_lon,
            Region.max_lat >= min_lat,
            Region.min_lat <= max_lat,
        )
    )
    codes = []
    for code, wkb in rows:
        grid = from_wkb(bytes(wkb))
        if grid.area > 0 and geom.intersection(grid).area >= COVER_SHARE * grid.area:
            codes.append(code)
    return sorted(set(codes))


def beat_geometry(given: Any) -> dict[str, Any]:
    """The geometry of a beat given as a GeoJSON geometry, a Feature, or a FeatureCollection
    of one Feature (what map tools save), checked: a Polygon or MultiPolygon whose
    boundary does not cross itself."""
    from shapely.errors import ShapelyError
    from shapely.geometry import shape  # deferred: geometry only matters for beats
    from shapely.validation import explain_validity

    geometry = given
    if isinstance(given, dict) and given.get("type") == "FeatureCollection":
        features = given.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise InvalidInput(
                "give the beat as one area: a FeatureCollection of one Feature", field="beat"
            )
        geometry = features[0]
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict):
        raise InvalidInput("the beat is not a GeoJSON geometry or Feature", field="beat")
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, ShapelyError) as err:
        # the library's words go to detail.cause, not into the sentence people read
        raise InvalidInput(
            "the beat is not a GeoJSON geometry", field="beat", cause=str(err)
        ) from err
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidInput(
            Msg("the beat must be a Polygon or MultiPolygon, not {kind}", kind=geom.geom_type),
            field="beat",
        )
    if geom.is_empty:
        raise InvalidInput("the beat must be a valid (Multi)Polygon", field="beat")
    if not geom.is_valid:
        if explain_validity(geom).startswith(("Self-intersection", "Ring Self-intersection")):
            raise InvalidInput("the beat's boundary crosses itself", field="beat")
        raise InvalidInput("the beat must be a valid (Multi)Polygon", field="beat")
    return dict(geometry)


def check_beat(session: Session, given: Any) -> dict[str, Any]:
    """:func:`beat_geometry`, and inside the city: it overlaps a current region (unless
    no map is imported yet: a demo draws its beats before its places)."""
    from shapely import from_wkb
    from shapely.geometry import shape

    from duban.places import Region  # deferred: places reads accounts

    geometry = beat_geometry(given)
    current = Region.valid_to.is_(None)
    if session.scalar(select(func.count()).select_from(Region).where(current)) == 0:
        return geometry
    geom = shape(geometry)
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    rows = session.scalars(
        select(Region.geometry).where(
            current,
            Region.max_lon >= min_lon,
            Region.min_lon <= max_lon,
            Region.max_lat >= min_lat,
            Region.min_lat <= max_lat,
        )
    )
    if not any(geom.intersects(from_wkb(bytes(wkb))) for wkb in rows):
        raise InvalidInput("the beat lies outside the city", field="beat")
    return geometry


def beat_grid_counts(session: Session, user_ids: Iterable[int] | None = None) -> dict[int, int]:
    """How many unit grids each collector's beat covers (of ``user_ids``, or every one;
    a user without grids is left out)."""
    stmt = select(CollectorBeatGrid.user_id, func.count()).group_by(CollectorBeatGrid.user_id)
    if user_ids is not None:
        stmt = stmt.where(CollectorBeatGrid.user_id.in_(sorted(set(user_ids))))
    return {int(uid): int(n) for uid, n in session.execute(stmt).all()}


def grids_changed(session: Session, *, closed: Iterable[str], added: bool) -> None:
    """Re-resolve the beats a change of the current grids touches: every beat when grids
    were added (a new grid may lie in any of them), else the beats that covered a grid
    ``closed`` (retired). The one call of every path that writes the grid set; the
    caller commits."""
    if added:
        resolve_beat_grids(session)
        return
    codes = sorted(set(closed))
    users: set[int] = set()
    for start in range(0, len(codes), _IN_CHUNK):
        users.update(
            session.scalars(
                select(CollectorBeatGrid.user_id)
                .where(CollectorBeatGrid.grid_code.in_(codes[start : start + _IN_CHUNK]))
                .distinct()
            )
        )
    if users:
        resolve_beat_grids(session, users)


def resolve_beat_grids(session: Session, user_ids: Iterable[int] | None = None) -> None:
    """Recompute the grids of the collectors' beats (of ``user_ids``, or of every user).
    The caller commits."""
    ids = None if user_ids is None else sorted(set(user_ids))
    stale = delete(CollectorBeatGrid)
    users = select(User.id, User.beat).where(User.role == Role.COLLECTOR, User.beat.is_not(None))
    if ids is not None:
        stale = stale.where(CollectorBeatGrid.user_id.in_(ids))
        users = users.where(User.id.in_(ids))
    session.execute(stale)
    rows = [
        {"user_id": uid, "grid_code": code}
        for uid, beat in session.execute(users.order_by(User.id)).all()
        for code in _covered_grids(session, beat)
    ]
    if rows:
        session.execute(insert(CollectorBeatGrid), rows)
