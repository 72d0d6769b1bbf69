"""Open311 (GeoReport v2): statuses, config, requests, updates and bulk exchange.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

_EXPORTS: dict[str, str] = {}

__all__ = []

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
