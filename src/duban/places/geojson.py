"""GeoJSON of regions and zones for the maps: bounding boxes, simplification, output CRS."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.parsing import parse_number
from duban.places.coords import (
    CRS,
    UNKNOWN_CRS,
    from_wgs84_array,
)
from duban.places.index import LEVEL_LABELS, ZONE_LABELS, wkb_bytes
from duban.places.models import REGION_LEVELS, ZONE_KINDS, Region, Zone

_METRES_PER_DEGREE: Final = 111_320.0


def _output_transform(crs: CRS) -> Any:
    def transform(coords: Any) -> Any:
        x, y = from_wgs84_array(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([x, y])

    return transform


def _features(
    geoms: Sequence[Any],
    properties: Sequence[dict[str, Any]],
    *,
    simplify_m: float,
    crs: CRS,
) -> dict[str, Any]:
    array = np.array(list(geoms), dtype=object)
    if array.size and simplify_m > 0:
        array = shapely.simplify(array, simplify_m / _METRES_PER_DEGREE, preserve_topology=True)
    if array.size and crs is not CRS.WGS84:
        array = shapely.transform(array, _output_transform(crs))
    if array.size:
        array = shapely.set_precision(array, 1e-7)
    texts = shapely.to_geojson(array) if array.size else []
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": props.get("code"),
                "geometry": json.loads(text),
                "properties": props,
            }
            for text, props in zip(texts, properties, strict=True)
        ],
    }


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` → floats (as :class:`InvalidInput` when malformed)."""
    if not text:
        return None
    try:
        numbers = [parse_number(v, "bbox") for v in text.split(",")]
    except InvalidInput:
        numbers = []
    values = [v for v in numbers if v is not None]
    if (
        len(values) != 4
        or len(numbers) != 4
        or not (values[0] <= values[2] and values[1] <= values[3])
    ):
        raise InvalidInput("bbox must be 'minlon,minlat,maxlon,maxlat' in WGS84", field="bbox")
    return values[0], values[1], values[2], values[3]


#: Default simplification per level, in metres (the map shows, it does not measure).
DEFAULT_SIMPLIFY_M: Final[Mapping[str, float]] = {
    "district": 20.0,
    "street": 10.0,
    "community": 5.0,
    "grid": 0.0,
}


def regions_geojson(
    session: Session,
    *,
    level: str | None = None,
    parent: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    simplify_m: float | None = None,
    crs: str | CRS = CRS.WGS84,
    limit: int = 20_000,
) -> dict[str, Any]:
    """The current regions as a GeoJSON FeatureCollection (WGS84 unless ``crs`` says)."""
    if level is not None and level not in REGION_LEVELS:
        raise InvalidInput(
            Msg(
                "unknown level '{level}'; one of: {choices}",
                level=level,
                choices=", ".join(REGION_LEVELS),
            ),
            field="level",
        )
    try:
        out_crs = CRS.parse(crs)
    except ValueError as err:
        raise InvalidInput(Msg(UNKNOWN_CRS, crs=crs), field="crs") from err
    stmt = select(Region).where(Region.valid_to.is_(None))
    if level:
        stmt = stmt.where(Region.level == level)
    if parent:
        stmt = stmt.where(Region.parent_code == parent)
    if bbox:
        minx, miny, maxx, maxy = bbox
        stmt = stmt.where(
            Region.max_lon >= minx,
            Region.min_lon <= maxx,
            Region.max_lat >= miny,
            Region.min_lat <= maxy,
        )
    rows = list(session.scalars(stmt.order_by(Region.code).limit(limit + 1)))
    if len(rows) > limit:
        raise InvalidInput(
            Msg(
                "more than {limit} regions match; narrow the request with level, parent or bbox",
                limit=limit,
            ),
            field="bbox",
        )
    geoms = shapely.from_wkb(np.array([wkb_bytes(r.geometry) for r in rows], dtype=object))
    props = [
        {
            "code": r.code,
            "level": r.level,
            "level_label": LEVEL_LABELS.get(r.level, r.level),
            "name": r.name,
            "parent_code": r.parent_code,
            "area_m2": round(r.area_m2, 1),
            "valid_from": r.valid_from.isoformat(),
        }
        for r in rows
    ]
    if simplify_m is None:
        simplify_m = DEFAULT_SIMPLIFY_M.get(level or "", 0.0)
    collection = _features(list(geoms), props, simplify_m=simplify_m, crs=out_crs)
    collection["crs_name"] = out_crs.value
    return collection


def zones_geojson(
    session: Session, *, kind: str | None = None, crs: str | CRS = CRS.WGS84
) -> dict[str, Any]:
    """The active zones (as drawn: road segments are lines) as a FeatureCollection."""
    if kind is not None and kind not in ZONE_KINDS:
        raise InvalidInput(
            Msg(
                "unknown zone kind '{kind}'; one of: {choices}",
                kind=kind,
                choices=", ".join(ZONE_KINDS),
            ),
            field="kind",
        )
    try:
        out_crs = CRS.parse(crs)
    except ValueError as err:
        raise InvalidInput(Msg(UNKNOWN_CRS, crs=crs), field="crs") from err
    stmt = (
        select(Zone, User.username, Unit.code)
        .outerjoin(User, User.id == Zone.user_id)
        .outerjoin(Unit, Unit.id == Zone.unit_id)
        .where(Zone.is_active)
        .order_by(Zone.kind, Zone.code)
    )
    if kind:
        stmt = stmt.where(Zone.kind == kind)
    rows = session.execute(stmt).all()
    geoms = [shapely.from_wkb(wkb_bytes(zone.geometry)) for zone, _, _ in rows]
    props = [
        {
            "code": zone.code,
            "kind": zone.kind,
            "kind_label": ZONE_LABELS[zone.kind],
            "name": zone.name,
            "person_name": zone.person_name,
            "person_phone": zone.person_phone,
            "username": username,
            "unit": unit_code,
            "buffer_m": zone.buffer_m,
        }
        for zone, username, unit_code in rows
    ]
    collection = _features(geoms, props, simplify_m=0.0, crs=out_crs)
    collection["crs_name"] = out_crs.value
    return collection
