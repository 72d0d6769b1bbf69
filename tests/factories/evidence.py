"""Evidence: real JPEG bytes, and photos stored through the real use case."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy.orm import Session

from duban.adapters.photostore import LocalPhotoStore
from duban.evidence.photos import PhotoLimits, save_photo
from duban.kernel.context import Actor
from tests.fakes import SHANGHAI, FixedClock

#: Generous limits: the tests of the limits themselves set their own.
LIMITS = PhotoLimits(10_000_000, 40_000_000)


def jpeg(
    colour: tuple[int, int, int] = (200, 40, 40),
    size: tuple[int, int] = (64, 48),
    exif: Image.Exif | None = None,
) -> bytes:
    """A small real JPEG of one colour (with ``exif`` when given)."""
    buf = io.BytesIO()
    image = Image.new("RGB", size, colour)
    if exif is not None:
        image.save(buf, "JPEG", exif=exif)
    else:
        image.save(buf, "JPEG")
    return buf.getvalue()


def stored_photo(
    session: Session,
    *,
    actor: Actor,
    clock: FixedClock,
    store: LocalPhotoStore,
    colour: tuple[int, int, int] = (10, 120, 30),
) -> str:
    """A photo saved by ``actor`` through :func:`save_photo`; its id."""
    photo = save_photo(
        session,
        actor=actor,
        clock=clock,
        store=store,
        data=jpeg(colour),
        limits=LIMITS,
        tz=SHANGHAI,
    )
    return photo.id
