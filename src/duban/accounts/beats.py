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

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from duban.accounts.models import CollectorBeatGrid, User
from duban.kernel.roles import Role

#: The share of a grid's area that must lie inside a beat for the beat to cover it.
COVER_SHARE: Final = 0.5


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
