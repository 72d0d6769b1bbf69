"""Request and response schemas of places: regions, zones, locate, nearby cases, routing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from duban.api.schemas import Strict
from duban.cases import CaseStatus
from duban.places.presenters import PlaceRead, ResponsibleRead

if TYPE_CHECKING:
    pass


class ZoneRead(BaseModel):
    code: str
    kind: str
    kind_label: str
    name: str
    person_name: str
    person_phone: str | None
    username: str | None
    unit: str | None


class LocateRead(BaseModel):
    lat: float = Field(description="WGS84")
    lon: float = Field(description="WGS84")
    input: dict[str, Any]
    grid: PlaceRead | None
    community: PlaceRead | None
    street: PlaceRead | None
    district: PlaceRead | None
    grid_leader: ResponsibleRead | None
    road_chief: ResponsibleRead | None
    zones: list[ZoneRead]


class RegionVersionRead(BaseModel):
    code: str
    level: str
    name: str
    parent_code: str | None
    area_m2: float
    source: str
    valid_from: datetime
    valid_to: datetime | None


class GenerateRequest(Strict):
    communities: list[str] | None = Field(
        default=None, description="community codes; none: every community without grids"
    )
    target_area_m2: float = Field(default=10_000, ge=100, le=1_000_000)


class TerritorialRead(BaseModel):
    region: str
    region_name: str | None
    unit: str
    unit_name: str


class TerritorialSet(Strict):
    unit: str = Field(min_length=1, max_length=32)


class NearbyItem(BaseModel):
    id: int
    code: str
    status: CaseStatus
    status_label: str
    category_code: str
    distance_m: float
    lat: float
    lon: float
    created_at: datetime
    closed_at: datetime | None
    address: str | None = None
    description: str | None = None


class NearbyRead(BaseModel):
    lat: float = Field(description="WGS84")
    lon: float = Field(description="WGS84")
    radius_m: float
    open_since: datetime
    closed_since: datetime
    items: list[NearbyItem]
    others: int = Field(
        default=0,
        description="cases nearby that the caller may not see: counted, not shown",
    )


class RuleRead(BaseModel):
    id: int
    category_code: str | None
    condition_code: str | None
    place_level: str | None
    place_code: str | None
    unit: str
    helper_units: list[str]
    priority: int
    note: str
    is_active: bool
    description: str


class RuleCreate(Strict):
    unit: str = Field(min_length=1, max_length=32, description="lead unit code (主办)")
    helper_units: list[str] = Field(default_factory=list, max_length=10)
    category_code: str | None = Field(default=None, max_length=32, description="any if empty")
    condition_code: str | None = Field(default=None, max_length=40)
    place_level: str | None = Field(
        default=None, description="district | street | community | grid | zone; any if empty"
    )
    place_code: str | None = Field(default=None, max_length=64)
    priority: int = Field(default=0, ge=-1000, le=1000)
    note: str = Field(default="", max_length=500)
