"""Generating the unit grids (单元网格) of communities, with history: each community is cut
into cells of about a target area (:mod:`duban.places.gridgen`), and a regenerated grid
is a new version of the old one only where its shape changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.unitofwork import writing
from duban.places.coords import LocalProjection
from duban.places.gridgen import DEFAULT_TARGET_AREA_M2, generate_grid_cells
from duban.places.history import (
    IN_CHUNK,
    current_regions,
    region_geometry,
    same_geometry,
    write_versions,
)
from duban.places.models import Region

# --------------------------------------------------------------------------- grid generation


@dataclass
class GenerationReport:
    """What ``duban grids generate`` did."""

    communities: list[str] = field(default_factory=list)
    grids: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.grids} grid(s) for {len(self.communities)} communit(ies): "
            f"{self.created} new, {self.updated} redrawn, {self.unchanged} unchanged, "
            f"{self.retired} retired"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


def generate_grids_for(
    session: Session,
    *,
    now: datetime,
    community_codes: Sequence[str] | None = None,
    target_area_m2: float = DEFAULT_TARGET_AREA_M2,
) -> GenerationReport:
    """Cut communities into unit grids of about ``target_area_m2`` (万米单元网格).

    With ``community_codes`` those communities' grids are (re)generated: their current
    grids are redrawn, added or retired. Without, every current community that has no
    current grid gets grids; communities with grids are left alone (use the codes to
    regenerate them). Codes follow the 15-digit rule, numbered west→east, north→south.
    """
    if not (math.isfinite(target_area_m2) and target_area_m2 >= 100):
        raise InvalidInput("the target area must be at least 100 m²", field="target_area")
    with writing(session):
        communities = {row.code: row for row in current_regions(session, "community")}
        with_grids: set[str] = {
            parent
            for (parent,) in session.execute(
                select(Region.parent_code)
                .where(Region.level == "grid", Region.valid_to.is_(None))
                .distinct()
            )
            if parent is not None
        }
        report = GenerationReport()
        if community_codes is None:
            chosen = [code for code in sorted(communities) if code not in with_grids]
            for code in sorted(with_grids & set(communities)):
                report.skipped.append((code, "already has grids"))
        else:
            unknown = [code for code in community_codes if code not in communities]
            if unknown:
                raise InvalidInput(
                    Msg(
                        "no current community has the code(s) {choices}", choices=", ".join(unknown)
                    ),
                    field="community",
                )
            chosen = list(dict.fromkeys(community_codes))
        existing_grids: dict[str, list[Region]] = {}
        for start in range(0, len(chosen), IN_CHUNK):
            chunk = chosen[start : start + IN_CHUNK]
            for grid in session.scalars(
                select(Region).where(
                    Region.level == "grid", Region.valid_to.is_(None), Region.parent_code.in_(chunk)
                )
            ):
                existing_grids.setdefault(grid.parent_code or "", []).append(grid)

        new_rows: list[dict[str, Any]] = []
        close: list[tuple[Region, datetime]] = []
        for code in chosen:
            community = communities[code]
            try:
                cells = generate_grid_cells(
                    region_geometry(community), community_code12=code, target_area_m2=target_area_m2
                )
            except ValueError as err:
                report.skipped.append((code, str(err)))
                continue
            report.communities.append(code)
            report.grids += len(cells)
            old = {row.code: row for row in existing_grids.get(code, [])}
            for cell in cells:
                wkb = shapely.to_wkb(cell.polygon)
                row = old.pop(cell.code, None)
                if row is not None and same_geometry(row.geometry, wkb):
                    report.unchanged += 1
                    continue
                stamp = now
                if row is not None:
                    stamp = max(now, row.valid_from + timedelta(microseconds=1))
                    close.append((row, stamp))
                    report.updated += 1
                else:
                    report.created += 1
                minx, miny, maxx, maxy = cell.polygon.bounds
                new_rows.append(
                    {
                        "code": cell.code,
                        "level": "grid",
                        "name": f"{community.name}{int(cell.code[12:]):03d}号网格",
                        "parent_code": code,
                        "geometry": wkb,
                        "min_lon": minx,
                        "min_lat": miny,
                        "max_lon": maxx,
                        "max_lat": maxy,
                        "area_m2": cell.area_m2,
                        "attributes": {"generated": True, "row": cell.row, "col": cell.col},
                        "source": "generated",
                        "valid_from": stamp,
                        "valid_to": None,
                    }
                )
            for row in old.values():
                close.append((row, max(now, row.valid_from)))
                report.retired += 1
        write_versions(session, close, new_rows, now)
        return report


def local_projection_of(geoms: Sequence[Any]) -> LocalProjection:
    """A projection around some geometries (for callers that build regions in metres)."""
    return LocalProjection.around(np.array(list(geoms), dtype=object))
