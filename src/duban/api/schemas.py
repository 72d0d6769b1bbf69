"""What every capability's API schemas share: the strict request base and common texts.

Each capability keeps its own request and response models beside its routes
(``<capability>/schemas.py``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: How to say which coordinate system lat/lon are in (map apps in China give gcj02/bd09).
CRS_DESCRIPTION = "wgs84 (GPS, default), gcj02 (Amap/高德, Tencent) or bd09 (Baidu)"


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")
