"""How places look to readers of other capabilities: a located region and a zone's
responsible person, as the API shows them (pydantic models, no routes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from duban.places.index import PlaceRef, ZoneRef


class PlaceRead(BaseModel):
    """A region: its level (grid, community, street, district), code and name."""

    level: str
    code: str
    name: str | None


class ResponsibleRead(BaseModel):
    """Who answers for a zone: a grid leader (网格长) or a road chief (路长)."""

    zone: str
    zone_name: str
    kind: str
    name: str
    phone: str | None
    username: str | None
    unit: str | None


def place_read(ref: PlaceRef | None) -> PlaceRead | None:
    """A located region as the API shows it."""
    return PlaceRead(level=ref.level, code=ref.code, name=ref.name) if ref else None


def responsible_read(zone: ZoneRef | None) -> ResponsibleRead | None:
    """A zone's responsible person as the API shows it."""
    if zone is None:
        return None
    return ResponsibleRead(
        zone=zone.code,
        zone_name=zone.name,
        kind=zone.kind,
        name=zone.person_name,
        phone=zone.person_phone,
        username=zone.username,
        unit=zone.unit_code,
    )
