"""Evidence files of a sign-off: the type by content (not by name), the size limit."""

from __future__ import annotations

import io
import zipfile
from typing import Final

from PIL import Image, UnidentifiedImageError

_OFFICE: Final = {
    "word/document.xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    "xl/workbook.xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
}
_IMAGES: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: Entries of a DOCX/XLSX evidence file, and what they may unpack to in all.
_MAX_ENTRIES: Final = 2000
_MAX_UNPACKED: Final = 200 * 1024 * 1024


def sniff(data: bytes) -> tuple[str, str] | None:
    """``(content type, extension)`` of a photo, PDF, DOCX or XLSX read from its bytes;
    ``None`` for anything else (a renamed file included)."""
    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if len(infos) > _MAX_ENTRIES or sum(i.file_size for i in infos) > _MAX_UNPACKED:
            return None
        names = {i.filename for i in infos}
        if "[Content_Types].xml" not in names:
            return None
        for marker, kind in _OFFICE.items():
            if marker in names:
                return kind
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    if fmt in _IMAGES:
        return _IMAGES[fmt], fmt.lower().replace("jpeg", "jpg")
    return None
