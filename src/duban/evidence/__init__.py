"""Evidence: photos of cases, their storage, limits and thumbnails.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.evidence.models import Photo
    from duban.evidence.photos import PhotoLimits, discard_photos, save_photo
    from duban.evidence.public import public_content_type, public_photo_bytes, thumbnail_bytes

_EXPORTS: dict[str, str] = {
    "Photo": "duban.evidence.models",
    "PhotoLimits": "duban.evidence.photos",
    "discard_photos": "duban.evidence.photos",
    "public_content_type": "duban.evidence.public",
    "public_photo_bytes": "duban.evidence.public",
    "save_photo": "duban.evidence.photos",
    "thumbnail_bytes": "duban.evidence.public",
}

__all__ = [
    "Photo",
    "PhotoLimits",
    "discard_photos",
    "public_content_type",
    "public_photo_bytes",
    "save_photo",
    "thumbnail_bytes",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
