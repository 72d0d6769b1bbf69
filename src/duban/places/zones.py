"""Zones (责任区: road segments 路长制, shopfronts 门前三包): saving and retiring them.

A zone is drawn as a polygon or as a line buffered by a width in metres; every change
bumps the places version so every process sees it on its next request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.kernel.unitofwork import writing
from duban.places.coords import (
    LocalProjection,
    from_local_metric,
    to_local_metric,
)
from duban.places.index import ZONE_LABELS, bump_places_version
from duban.places.models import ZONE_KINDS, Zone
from duban.reference import PlacesPolicy


def _buffer_line_m(geom: Any, metres: float) -> Any:
    projection = LocalProjection.around(geom)
    metric = to_local_metric(geom, projection)
    return from_local_metric(shapely.buffer(metric, metres, quad_segs=4), projection)


def save_zone(
    session: Session,
    *,
    kind: str,
    code: str,
    name: str,
    geometry: Any,
    now: datetime,
    policy: PlacesPolicy,
    buffer_m: float | None = None,
    person_name: str = "",
    person_phone: str | None = None,
    username: str | None = None,
    unit_code: str | None = None,
) -> Zone:
    """Add or redraw a responsibility zone.

    Leader grids (网格分包) and shopfronts (门前三包) are polygons; road segments (路长制)
    are lines, matched within ``buffer_m`` metres (default ``places.road_buffer_m``).
    """
    if kind not in ZONE_KINDS:
        raise InvalidInput(
            Msg(
                "unknown zone kind '{kind}'; one of: {choices}",
                kind=kind,
                choices=", ".join(ZONE_KINDS),
            ),
            field="kind",
        )
    code = (code or "").strip()
    if not code or len(code) > 64:
        raise InvalidInput("a zone needs a code of 1-64 characters", field="code")
    if not (name or "").strip():
        raise InvalidInput("a zone needs a name", field="name")
    geom_type = getattr(geometry, "geom_type", None)
    if geometry is None or geometry.is_empty:
        raise InvalidInput(Msg("zone {code} has no geometry", code=code), field="geometry")
    minx, miny, maxx, maxy = geometry.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidInput(
            Msg(
                "zone {code}: coordinates {bounds} are not longitude/latitude",
                code=code,
                bounds=geometry.bounds,
            ),
            field="geometry",
        )
    if kind == "road_segment":
        if geom_type not in ("LineString", "MultiLineString", "Polygon", "MultiPolygon"):
            raise InvalidInput(
                Msg(
                    "road segment {code} must be a line (or a polygon), not {geom_type}",
                    code=code,
                    geom_type=geom_type,
                ),
                field="geometry",
            )
        width = policy.road_buffer_m if buffer_m is None else float(buffer_m)
        if not width > 0 and geom_type in ("LineString", "MultiLineString"):
            raise InvalidInput("a road segment needs a buffer of more than 0 m", field="buffer_m")
        area = _buffer_line_m(geometry, width) if width > 0 else geometry
    else:
        if geom_type not in ("Polygon", "MultiPolygon"):
            raise InvalidInput(
                Msg(
                    "{value} zone {code} must be a polygon, not {geom_type}",
                    value=ZONE_LABELS[kind],
                    code=code,
                    geom_type=geom_type,
                ),
                field="geometry",
            )
        width = 0.0
        area = geometry
    if not area.is_valid:
        raise InvalidInput(
            Msg(
                "zone {code}: the geometry is not valid ({value})",
                code=code,
                value=shapely.is_valid_reason(area),
            ),
            field="geometry",
        )
    user_id = None
    if username:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise InvalidInput(Msg("unknown user '{username}'", username=username), field="user")
        user_id = user.id
    unit_id = None
    if unit_code:
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise InvalidInput(Msg("unknown unit '{unit_code}'", unit_code=unit_code), field="unit")
        unit_id = unit.id
    with writing(session):
        zone = session.scalars(select(Zone).where(Zone.code == code)).first()
        if zone is None:
            zone = Zone(code=code, created_at=now)
            session.add(zone)
        amin_x, amin_y, amax_x, amax_y = area.bounds
        zone.kind = kind
        zone.name = name.strip()
        zone.geometry = shapely.to_wkb(geometry)
        zone.buffer_m = width
        zone.area = shapely.to_wkb(area)
        zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat = amin_x, amin_y, amax_x, amax_y
        zone.person_name = (person_name or "").strip()
        zone.person_phone = (person_phone or "").strip() or None
        zone.user_id = user_id
        zone.unit_id = unit_id
        zone.is_active = True
        zone.updated_at = now
        session.flush()
        bump_places_version(session, now)
        return zone


def retire_zone(session: Session, code: str, *, now: datetime) -> Zone:
    """Deactivate a zone; routing rules naming it stop matching."""
    with writing(session):
        zone = session.scalars(select(Zone).where(Zone.code == code)).first()
        if zone is None:
            raise NotFound(Msg("no zone has the code '{code}'", code=code))
        zone.is_active = False
        zone.updated_at = now
        bump_places_version(session, now)
        return zone
