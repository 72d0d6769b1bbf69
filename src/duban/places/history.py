"""Region history: the current versions, writing new versions (closing the old ones),
a region's versions and its version at a time, and retiring regions.

Writing keeps history: a region whose boundary, name or parent changed gets a new version
(``valid_from`` now) and the old one is closed (``valid_to`` now); an unchanged one is left
alone. Cases keep the codes they were filed with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import shapely
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from duban.accounts import grids_changed
from duban.kernel.unitofwork import writing
from duban.places.index import bump_places_version
from duban.places.models import Region

IN_CHUNK: Final = 2000


def current_regions(session: Session, level: str) -> list[Region]:
    return list(
        session.scalars(select(Region).where(Region.level == level, Region.valid_to.is_(None)))
    )


def region_geometry(row: Region) -> Any:
    return shapely.from_wkb(bytes(row.geometry))


def same_geometry(stored: bytes, wkb: bytes) -> bool:
    """The same shape, whatever the ring orientation or first vertex (a Shapefile turns
    rings clockwise; a GeoJSON file counter-clockwise)."""
    if bytes(stored) == wkb:
        return True
    old = shapely.normalize(shapely.from_wkb(bytes(stored)))
    new = shapely.normalize(shapely.from_wkb(wkb))
    return bool(shapely.equals_exact(old, new, tolerance=1e-10))


def write_versions(
    session: Session,
    close: Sequence[tuple[Region, datetime]],
    new_rows: Sequence[dict[str, Any]],
    now: datetime,
) -> None:
    """Close old versions, then insert the new ones (one current version per code)."""
    if not close and not new_rows:
        return
    for row, stamp in close:
        row.valid_to = stamp
    session.flush()
    for start in range(0, len(new_rows), 1000):
        session.execute(insert(Region), list(new_rows[start : start + 1000]))
    regions_changed(
        session,
        now,
        closed_grids=[r.code for r, _ in close if r.level == "grid"],
        added_grids=any(r["level"] == "grid" for r in new_rows),
    )


def regions_changed(
    session: Session, now: datetime, *, closed_grids: Sequence[str], added_grids: bool
) -> None:
    """After the current regions changed: the places' version moves on (cached indexes
    reload), and the collectors' beats that cover other grids now are resolved again
    (漏报 joins on them). Every write of regions ends here."""
    bump_places_version(session, now)
    if closed_grids or added_grids:
        grids_changed(session, closed=closed_grids, added=added_grids)


def region_history(session: Session, code: str) -> list[Region]:
    """Every version of a region, oldest first."""
    return list(
        session.scalars(select(Region).where(Region.code == code).order_by(Region.valid_from))
    )


def region_at(session: Session, code: str, when: datetime) -> Region | None:
    """The version of a region that was current at ``when``."""
    return session.scalars(
        select(Region)
        .where(
            Region.code == code,
            Region.valid_from <= when,
            or_(Region.valid_to.is_(None), Region.valid_to > when),
        )
        .order_by(Region.valid_from.desc())
        .limit(1)
    ).first()


def retire_regions(session: Session, codes: Iterable[str], *, now: datetime) -> int:
    """Close the current versions of regions (the beats lose the retired grids)."""
    with writing(session):
        wanted = list(codes)
        total = 0
        grids: list[str] = []
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            current = (Region.code.in_(chunk), Region.valid_to.is_(None))
            grids += session.scalars(select(Region.code).where(*current, Region.level == "grid"))
            result = session.execute(update(Region).where(*current).values(valid_to=now))
            total += int(getattr(result, "rowcount", 0) or 0)
        if total:
            regions_changed(session, now, closed_grids=grids, added_grids=False)
        return total
