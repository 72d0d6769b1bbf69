"""Short-term: the names ``tests/api/conftest.py`` had before the tests moved to their
capabilities, for the branches that were open at the move (new tests there import them
from here). New tests import from :mod:`tests.http`, :mod:`tests.factories.evidence` and
use the fixtures of ``tests/conftest.py``. Delete this package once nothing imports it.
"""

from __future__ import annotations

from PIL import Image

from tests.conftest import api, app, client, fresh_session, live_server, settings, world
from tests.factories.evidence import jpeg
from tests.http import (
    API,
    SECRET,
    Api,
    assert_error,
    count_cases,
    free_port,
    last_event,
    login,
    make_settings,
    user_id,
)

__all__ = [
    "API",
    "SECRET",
    "Api",
    "api",
    "app",
    "assert_error",
    "client",
    "count_cases",
    "free_port",
    "fresh_session",
    "jpeg_bytes",
    "last_event",
    "live_server",
    "login",
    "make_settings",
    "settings",
    "user_id",
    "world",
]


def jpeg_bytes(
    size: tuple[int, int] = (64, 48),
    colour: tuple[int, int, int] = (200, 40, 40),
    exif: Image.Exif | None = None,
) -> bytes:
    """A small real JPEG (the old argument order of :func:`tests.factories.evidence.jpeg`)."""
    return jpeg(colour, size, exif)
