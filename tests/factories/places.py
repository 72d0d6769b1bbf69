"""Places: the point in the demo city where cases are reported, and a collector's beat.

The small mapped city of the places tests (regions, grids, zones) is built in
``tests/places/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from duban.places import Region

#: A point in the demo city (许昌, WGS84).
LAT, LON = 34.03, 113.82

#: A collector's beat around :data:`LAT`, :data:`LON`.
BEAT: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[113.80, 34.01], [113.84, 34.01], [113.84, 34.05], [113.80, 34.05], [113.80, 34.01]]
    ],
}


def add_grids(session: Session, grids: Mapping[str, Any], *, valid_from: datetime) -> None:
    """Current unit grids (``code`` → shapely polygon in WGS84), committed; the beats are
    not resolved again (a test resolves them itself, or draws its beats afterwards)."""
    for code, geom in grids.items():
        minx, miny, maxx, maxy = geom.bounds
        session.add(
            Region(
                code=code,
                level="grid",
                name=code,
                parent_code=None,
                geometry=geom.wkb,
                min_lon=minx,
                min_lat=miny,
                max_lon=maxx,
                max_lat=maxy,
                area_m2=1.0,
                attributes={},
                source="test",
                valid_from=valid_from,
            )
        )
    session.commit()
