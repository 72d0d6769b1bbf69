"""Response schema of an uploaded photo."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PhotoRead(BaseModel):
    id: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    taken_at: datetime | None
    gps_lat: float | None
    gps_lon: float | None
    url: str
