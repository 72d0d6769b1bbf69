"""Request and response schemas of sign-in, "who am I" and the admin's units and users."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from duban.api.schemas import Strict
from duban.kernel.roles import Role


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    role_label: str
    unit: str | None
    unit_name: str | None
    region: str | None = Field(
        default=None, description="the district or street the caller works in (none: city-wide)"
    )


class UnitCreate(Strict):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(
        default=None, max_length=200, description="English name for English pages (optional)"
    )
    kind: str = Field(default="professional", pattern="^(professional|territorial)$")


class UnitRead(BaseModel):
    code: str
    name: str
    name_en: str | None = None
    kind: str
    is_active: bool


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    unit: str | None = None
    display_name: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    beat: dict[str, Any] | None = Field(default=None, description="GeoJSON (Multi)Polygon")
    region: str | None = Field(
        default=None,
        max_length=32,
        description="territory: a district or street code; its staff see its cases only",
    )


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    unit: str | None
    is_active: bool
    region: str | None = None


class BeatRead(BaseModel):
    username: str
    beat: dict[str, Any] | None = Field(description="the beat's GeoJSON geometry (none: cleared)")
    grids: int = Field(description="the unit grids the beat covers (漏报 counts in them)")
