"""Photo upload: size and pixel limits, format check, EXIF time and GPS, content hash."""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, UnidentifiedImageError
from pillow_heif import register_heif_opener
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duban.evidence.models import Photo
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.ports import PhotoStore
from duban.kernel.unitofwork import after_commit, writing

register_heif_opener()  # HEIC/HEIF, what most phones shoot

ALLOWED_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "HEIF": ("image/heic", "heic"),
}


@dataclass(frozen=True)
class PhotoLimits:
    """Upload limits (from settings)."""

    max_bytes: int
    max_pixels: int


def _exif_details(
    image: Image.Image, tz: ZoneInfo
) -> tuple[datetime | None, float | None, float | None]:
    try:
        exif = image.getexif()
    except Exception:
        return None, None, None
    taken: datetime | None = None
    sub = exif.get_ifd(ExifTags.IFD.Exif) if exif else {}
    raw = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if isinstance(raw, str):
        try:
            # EXIF times carry no zone; cameras and phones here are on the city's time.
            taken = datetime.strptime(raw.strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=tz)
            taken = taken.astimezone(UTC)
        except ValueError:
            taken = None
    lat = lon = None
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if exif else {}
    try:
        if gps and 2 in gps and 4 in gps:
            lat = _dms(gps[2]) * (-1 if gps.get(1) == "S" else 1)
            lon = _dms(gps[4]) * (-1 if gps.get(3) == "W" else 1)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                lat = lon = None
    except (TypeError, ValueError, ZeroDivisionError):
        lat = lon = None
    return taken, lat, lon


#: Channels of each PNG colour type (IHDR): grey, RGB, palette, grey+alpha, RGBA.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Bits per pixel of Pillow's modes that are not 8 bits per band.
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}
#: Decoding may take this many bytes per allowed pixel (8-bit RGBA at the pixel limit).
DECODE_BYTES_PER_PIXEL = 4


def decoded_bytes(image: Image.Image, data: bytes) -> int:
    """What decoding ``image`` costs in bytes: pixels × bits per pixel, as the file
    stores them (a 16-bit PNG is read as 8-bit RGB by Pillow, but decoded at 16)."""
    width, height = image.size
    bits = _MODE_BITS.get(image.mode, 8 * len(image.getbands()))
    if image.format == "PNG" and len(data) >= 26 and data[12:16] == b"IHDR":
        depth, colour = data[24], data[25]
        bits = max(bits, depth * _PNG_CHANNELS.get(colour, 4))
    return (width * height * bits + 7) // 8


def _dms(value: tuple[float, float, float]) -> float:
    d, m, s = (float(x) for x in value)
    return d + m / 60 + s / 3600


def _check_complete(data: bytes) -> None:
    """Raise OSError (or SyntaxError) if the image is truncated or corrupt.

    ``verify()`` checks structure and checksums (PNG) but barely looks at JPEG data, and
    it must run on a freshly opened image; decoding catches a cut-off JPEG or WebP. JPEGs
    are decoded at 1/8 scale (every byte is still read), which keeps the check cheap.
    """
    with Image.open(io.BytesIO(data)) as image:
        if image.format != "HEIF":  # pillow-heif has no verify(); decoding checks it
            image.verify()
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG":
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()


def content_key(digest: str, ext: str) -> str:
    """Where a file lives in the store: by its SHA-256 (the same bytes are kept once)."""
    return f"{digest[:2]}/{digest}.{ext}"


def save_photo(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    store: PhotoStore,
    data: bytes,
    limits: PhotoLimits,
    tz: ZoneInfo,
) -> Photo:
    """Check and keep an uploaded photo; it can then be attached to reports and actions.

    Refused with :class:`InvalidInput` (nothing stored): empty or oversized files, files
    that are not JPEG/PNG/WebP/HEIC, truncated images, and images over the pixel limit
    (decompression bombs are caught from the header, before decoding).
    """
    if not data:
        raise InvalidInput("the uploaded file is empty", field="file")
    if len(data) > limits.max_bytes:
        raise InvalidInput(
            Msg(
                "the photo is {count} bytes; the limit is {max_bytes} bytes",
                count=len(data),
                max_bytes=limits.max_bytes,
            ),
            field="file",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            width, height = image.size
            if width * height > limits.max_pixels:
                raise InvalidInput(
                    Msg(
                        "the photo is {width}×{height} = {value} pixels; the limit is {max_pixels}",
                        width=width,
                        height=height,
                        value=width * height,
                        max_pixels=limits.max_pixels,
                    ),
                    field="file",
                )
            cost = decoded_bytes(image, data)
            budget = limits.max_pixels * DECODE_BYTES_PER_PIXEL
            if cost > budget:
                raise InvalidInput(
                    Msg(
                        "the photo would take {cost} bytes to decode ({width}×{height} pixels "
                        "of {mode}, as stored); the limit is {budget}",
                        cost=cost,
                        width=width,
                        height=height,
                        mode=image.mode,
                        budget=budget,
                    ),
                    field="file",
                )
            if fmt not in ALLOWED_FORMATS:
                raise InvalidInput(
                    Msg(
                        "unsupported image format {value}; send JPEG, PNG, WebP or HEIC",
                        value=fmt or "unknown",
                    ),
                    field="file",
                )
            taken_at, lat, lon = _exif_details(image, tz)
            _check_complete(data)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as err:
        raise InvalidInput("the file is not a readable image", field="file") from err
    from duban.photochecks import record_print, take_print  # deferred: photochecks import us

    content_type, ext = ALLOWED_FORMATS[fmt]
    digest = hashlib.sha256(data).hexdigest()
    key = content_key(digest, ext)
    try:
        fingerprint = take_print(data)  # decoded once, at reduced scale, for the photo checks
    except (OSError, ValueError, SyntaxError) as err:
        raise InvalidInput("the file is not a readable image", field="file") from err
    store.put(key, data)
    photo = Photo(
        id=str(uuid.uuid4()),
        sha256=digest,
        content_type=content_type,
        size_bytes=len(data),
        width=width,
        height=height,
        storage_key=key,
        taken_at=taken_at,
        gps_lat=lat,
        gps_lon=lon,
        uploaded_by_id=actor.user_id,
        created_at=clock.now(),
    )
    with writing(session):
        session.add(photo)
        session.flush()
        record_print(session, photo.id, fingerprint, photo.created_at)
    return photo


def discard_photos(session: Session, store: PhotoStore, photo_ids: Sequence[str]) -> int:
    """Delete uploads of a refused report: the rows no case refers to, and their files
    (and public copies) when no other photo shares them, once the deletion has committed.
    Returns how many went."""
    from duban.cases import CasePhoto  # deferred: cases import evidence
    from duban.evidence.public import PUBLIC_PREFIX, THUMB_PREFIX

    if not photo_ids:
        return 0
    session.rollback()  # whatever the refused report left half-done
    used = set(session.scalars(select(CasePhoto.photo_id).where(CasePhoto.photo_id.in_(photo_ids))))
    doomed = [
        p for p in session.scalars(select(Photo).where(Photo.id.in_(photo_ids))) if p.id not in used
    ]
    keys = {p.storage_key for p in doomed}
    ids = [p.id for p in doomed]
    if not ids:
        return 0
    with writing(session):
        session.execute(delete(Photo).where(Photo.id.in_(ids)))
        shared = set(session.scalars(select(Photo.storage_key).where(Photo.storage_key.in_(keys))))

        def remove_files() -> None:
            for key in keys - shared:
                store.delete(key)
                store.delete(PUBLIC_PREFIX + key)
                store.delete(THUMB_PREFIX + key + ".jpg")

        after_commit(session, remove_files)
    return len(ids)
