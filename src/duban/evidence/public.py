"""Public copies of photos: what anyone may download carries no EXIF.

A phone's photo holds the exact place it was taken, the time, the device and sometimes
the owner's name. The stored original keeps them (the EXIF time and place are evidence
for staff); the copy served to the public (Open311 ``media_url``, the public tracking
pages) is re-encoded without any metadata, turned upright first (the orientation was
EXIF too). The copy is made once, on first request, and kept beside the original under
``public/``.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

from PIL import Image, ImageOps

from duban.evidence.models import Photo
from duban.kernel.ports import PhotoStore

PUBLIC_PREFIX: Final = "public/"
THUMB_PREFIX: Final = "thumbs/"
#: Long side of a thumbnail, in pixels.
THUMB_SIDE: Final = 320
# HEIC is re-encoded as JPEG: browsers other than Safari do not show HEIC.
_FORMAT_OF: Final = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "JPEG",
}
_TYPE_OF: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def public_content_type(content_type: str) -> str:
    """The media type of the public copy of a photo stored as ``content_type``."""
    return _TYPE_OF[_FORMAT_OF.get(content_type, "PNG")]


def strip_metadata(data: bytes, content_type: str) -> bytes:
    """``data`` re-encoded in its own format without EXIF, XMP, text chunks or comments."""
    fmt = _FORMAT_OF.get(content_type, "PNG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened) or opened
            # Only the pixels go on: a fresh image has no info, no exif, no xmp.
            clean = Image.frombytes(image.mode, image.size, image.tobytes())
            if fmt == "JPEG" and clean.mode not in ("RGB", "L", "CMYK"):
                clean = clean.convert("RGB")
            out = io.BytesIO()
            options: dict[str, object] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
            palette = image.getpalette() if image.mode == "P" else None
            if palette is not None:
                clean.putpalette(palette)
            clean.save(out, format=fmt, **options)
    return out.getvalue()


def public_photo_bytes(store: PhotoStore, photo: Photo) -> bytes:
    """The bytes of ``photo`` safe to show anyone: the stripped copy (made once)."""
    key = PUBLIC_PREFIX + photo.storage_key
    try:
        return store.get(key)
    except FileNotFoundError:
        pass
    data = strip_metadata(store.get(photo.storage_key), photo.content_type)
    store.put(key, data)
    return data


def thumbnail_bytes(store: PhotoStore, photo: Photo) -> bytes:
    """A small upright JPEG of ``photo`` without metadata, made once and kept in the store."""
    key = THUMB_PREFIX + photo.storage_key + ".jpg"
    try:
        return store.get(key)
    except FileNotFoundError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(store.get(photo.storage_key))) as opened:
            if opened.format == "JPEG":
                opened.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
            image = ImageOps.exif_transpose(opened) or opened
            small = image.convert("RGB")
            small.thumbnail((THUMB_SIDE, THUMB_SIDE))
            clean = Image.frombytes("RGB", small.size, small.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=80)
    data = out.getvalue()
    store.put(key, data)
    return data
