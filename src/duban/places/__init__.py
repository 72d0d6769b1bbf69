"""Places: coordinates, regions, grids, zones, routing, locating and GeoJSON.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.places.geojson import parse_bbox, regions_geojson
    from duban.places.index import (
        Location,
        PlacesIndex,
        apply_location,
        cached_places_index,
        case_locations,
        locate_for_intake,
        locate_in,
        location_codes,
        places_index,
    )
    from duban.places.models import Region
    from duban.places.points import input_point
    from duban.places.presenters import PlaceRead, ResponsibleRead, place_read, responsible_read
    from duban.places.reasons import case_reason, case_reasons
    from duban.places.routing import route_case
    from duban.places.search import search_places
    from duban.places.territory import territory_level, territory_units

_EXPORTS: dict[str, str] = {
    "Location": "duban.places.index",
    "PlaceRead": "duban.places.presenters",
    "PlacesIndex": "duban.places.index",
    "Region": "duban.places.models",
    "ResponsibleRead": "duban.places.presenters",
    "apply_location": "duban.places.index",
    "case_reason": "duban.places.reasons",
    "case_reasons": "duban.places.reasons",
    "cached_places_index": "duban.places.index",
    "case_locations": "duban.places.index",
    "input_point": "duban.places.points",
    "locate_for_intake": "duban.places.index",
    "locate_in": "duban.places.index",
    "location_codes": "duban.places.index",
    "parse_bbox": "duban.places.geojson",
    "place_read": "duban.places.presenters",
    "places_index": "duban.places.index",
    "regions_geojson": "duban.places.geojson",
    "responsible_read": "duban.places.presenters",
    "route_case": "duban.places.routing",
    "search_places": "duban.places.search",
    "territory_level": "duban.places.territory",
    "territory_units": "duban.places.territory",
}

__all__ = [
    "Location",
    "PlaceRead",
    "PlacesIndex",
    "Region",
    "ResponsibleRead",
    "apply_location",
    "cached_places_index",
    "case_locations",
    "case_reason",
    "case_reasons",
    "input_point",
    "locate_for_intake",
    "locate_in",
    "location_codes",
    "parse_bbox",
    "place_read",
    "places_index",
    "regions_geojson",
    "responsible_read",
    "route_case",
    "search_places",
    "territory_level",
    "territory_units",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
