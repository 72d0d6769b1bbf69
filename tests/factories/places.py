"""Places: the point in the demo city where cases are reported, and a collector's beat.

The small mapped city of the places tests (regions, grids, zones) is built in
``tests/places/conftest.py``.
"""

from __future__ import annotations

from typing import Any

#: A point in the demo city (许昌, WGS84).
LAT, LON = 34.03, 113.82

#: A collector's beat around :data:`LAT`, :data:`LON`.
BEAT: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[113.80, 34.01], [113.84, 34.01], [113.84, 34.05], [113.80, 34.05], [113.80, 34.01]]
    ],
}
