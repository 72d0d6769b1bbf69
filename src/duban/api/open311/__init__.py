"""Open311 GeoReport v2 (XML and JSON) with the FixMyStreet extensions: ``/open311/v2``."""

from duban.api.open311.routes import router

__all__ = ["router"]
