"""Unit-grid (单元网格) codes and generating grids for a community.

A unit grid code has 15 digits (DB11/T 2157-2023, and the common 12 + 3 practice):

    411002 001 002 017
    │      │   │   └─ sequence in the community, 001-999, west→east then north→south
    │      │   └───── community (社区/村), 3 digits
    │      └───────── street or town (街道/乡镇), 3 digits
    └──────────────── county-level division (GB/T 2260), 6 digits

The first 12 digits are the community's statistical code, so a grid code starts with its
community's code, which starts with its street's, which starts with its district's.

Real grids follow roads, walls and rivers and are drawn by people. `generate_grids` gives a
city without drawn grids a usable first version: the community cut into cells of about
10,000 m² ("万米单元网格"), to be redrawn later where it matters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely

from duban.places.coords import (
    LocalProjection,
    approx_areas_m2,
    to_local_metric,
)

__all__ = [
    "DEFAULT_TARGET_AREA_M2",
    "MAX_GRIDS_PER_COMMUNITY",
    "GeneratedGrid",
    "generate_grid_cells",
    "generate_grids",
    "grid_code",
    "parse_grid_code",
]

DEFAULT_TARGET_AREA_M2: Final = 10_000.0
MAX_GRIDS_PER_COMMUNITY: Final = 999  # the sequence has 3 digits
# By default a piece smaller than this share of a cell (a corner clipped by the community
# boundary, or a sliver) is merged into a neighbour: a 300 m² grid is noise on a patrol map.
DEFAULT_MIN_AREA_FRACTION: Final = 0.2
# Relative overshoot of the community's extent over a whole number of cells that still counts
# as fitting.
_FIT_SLACK: Final = 1e-6

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts "１" and "٣"


def _check_digits(value: object, length: int, what: str) -> str:
    if not isinstance(value, str) or len(value) != length or not _DIGITS.fullmatch(value):
        raise ValueError(f"{what} must be {length} ASCII digits, got {value!r}")
    return value


def grid_code(admin6: str, street3: str, community3: str, seq: int) -> str:
    """Compose a 15-digit unit-grid code.

    Raises:
        ValueError: a part has the wrong length or non-digits, or `seq` is not 1-999.
    """
    _check_digits(admin6, 6, "administrative division code (区县代码)")
    _check_digits(street3, 3, "street code (街道代码)")
    _check_digits(community3, 3, "community code (社区代码)")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= 999:
        raise ValueError(f"grid sequence number (顺序码) must be an int 1-999, got {seq!r}")
    return f"{admin6}{street3}{community3}{seq:03d}"


def parse_grid_code(code: str) -> tuple[str, str, str, int]:
    """Split a 15-digit grid code into (admin6, street3, community3, seq).

    Raises:
        ValueError: not 15 ASCII digits, or a sequence of 000.
    """
    _check_digits(code, 15, "unit grid code (单元网格编码)")
    seq = int(code[12:])
    if seq == 0:
        raise ValueError(f"grid sequence number (顺序码) 000 is not valid in {code!r}")
    return code[:6], code[6:9], code[9:12], seq


@dataclass(frozen=True, slots=True)
class GeneratedGrid:
    """One generated grid: its code, WGS84 polygon, lattice row/column and area."""

    code: str
    polygon: Any
    row: int  # 0 = northernmost row of the lattice
    col: int  # 0 = westernmost column
    area_m2: float


@dataclass(slots=True)
class _Piece:
    geom: Any
    area_m2: float
    row: int
    col: int
    x: float  # representative longitude, orders pieces of one lattice cell
    members: list[int]


def generate_grids(
    community_polygon: Any,
    *,
    community_code12: str,
    target_area_m2: float = DEFAULT_TARGET_AREA_M2,
    min_area_m2: float | None = None,
) -> list[tuple[str, Any]]:
    """Cut a community polygon (WGS84) into unit grids of about `target_area_m2`.

    Returns `(code15, polygon)` in code order; see `generate_grid_cells` for the rules.
    """
    cells = generate_grid_cells(
        community_polygon,
        community_code12=community_code12,
        target_area_m2=target_area_m2,
        min_area_m2=min_area_m2,
    )
    return [(cell.code, cell.polygon) for cell in cells]


def generate_grid_cells(
    community_polygon: Any,
    *,
    community_code12: str,
    target_area_m2: float = DEFAULT_TARGET_AREA_M2,
    min_area_m2: float | None = None,
) -> list[GeneratedGrid]:
    """Cut a community polygon (WGS84) into unit grids of about `target_area_m2`.

    A lattice of squares of `target_area_m2` (in metres, on a local projection around the
    community) is laid from the community's north-west corner and clipped to the community.
    The grids cover the community exactly, without overlaps: neighbouring cells share their
    corner coordinates, and only the community's own boundary is cut.

    * A clipped piece smaller than `min_area_m2` (default: a fifth of the target) is merged
      into the neighbour it shares the longest boundary with, so corners and slivers don't
      become grids of their own. A piece touching no other piece (a small island of a
      MultiPolygon community) stays a grid.
    * A cell cut into several pieces by the boundary gives several grids.
    * Grids are numbered 001, 002, … by lattice row from north to south, and within a row
      from west to east (a merged grid takes the place of the piece it was merged into).
    * If more than 999 grids would be needed, the cells are made larger until the
      community fits into 999, so the area of each is then above the target.

    Raises:
        ValueError: a malformed community code, a non-positive target, or a community
            geometry that is not a valid, non-empty (Multi)Polygon in longitude/latitude.
    """
    _check_digits(community_code12, 12, "community code (社区统计代码)")
    if not (math.isfinite(target_area_m2) and target_area_m2 > 0):
        raise ValueError(f"target_area_m2 must be a positive number, got {target_area_m2!r}")
    if min_area_m2 is None:
        min_area_m2 = DEFAULT_MIN_AREA_FRACTION * target_area_m2
    _check_community(community_polygon)

    projection = LocalProjection.around(community_polygon)
    metric = to_local_metric(community_polygon, projection)
    area_m2 = float(metric.area)
    side = max(math.sqrt(target_area_m2), math.sqrt(area_m2 / MAX_GRIDS_PER_COMMUNITY))
    while True:
        pieces = _cut(community_polygon, projection, metric.bounds, side)
        pieces = _merge_small(pieces, min_area_m2, projection)
        if len(pieces) <= MAX_GRIDS_PER_COMMUNITY:
            break
        # Boundary pieces make the count overshoot area/side²; grow and try again.
        side *= max(1.02, math.sqrt(len(pieces) / MAX_GRIDS_PER_COMMUNITY) * 1.01)

    pieces.sort(key=lambda p: (p.row, p.col, p.x))
    return [
        GeneratedGrid(
            code=f"{community_code12}{seq:03d}",
            polygon=piece.geom,
            row=piece.row,
            col=piece.col,
            area_m2=piece.area_m2,
        )
        for seq, piece in enumerate(pieces, start=1)
    ]


def _check_community(geom: Any) -> None:
    kind = getattr(geom, "geom_type", None)
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"community must be a Polygon or MultiPolygon, got {kind or geom!r}")
    if geom.is_empty:
        raise ValueError("community polygon is empty")
    if not geom.is_valid:
        raise ValueError(f"community polygon is not valid: {shapely.is_valid_reason(geom)}")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValueError(
            "community polygon is not in longitude/latitude degrees "
            f"(bounds {geom.bounds}); convert it to WGS84 first"
        )


def _cut(
    community: Any,
    projection: LocalProjection,
    metric_bounds: tuple[float, float, float, float],
    side: float,
) -> list[_Piece]:
    """Clip a lattice of `side`-metre squares, anchored north-west, to the community."""
    minx, miny, maxx, maxy = metric_bounds
    # A community that is an exact multiple of the cell size must not get an extra column of
    # zero-width cells from rounding.
    nx = max(1, math.ceil((maxx - minx) / side - _FIT_SLACK))
    ny = max(1, math.ceil((maxy - miny) / side - _FIT_SLACK))
    xs = minx + side * np.arange(nx + 1)
    ys = maxy - side * np.arange(ny + 1)
    # The outer lattice lines are pushed a cell outwards: clipping gives the same grids, and
    # no community vertex can fall outside the lattice through degree ↔ metre rounding.
    xs[0] -= side
    xs[-1] = max(xs[-1], maxx) + side
    ys[0] += side
    ys[-1] = min(ys[-1], miny) - side
    # Corners are converted once and shared by the four cells around them, so neighbouring
    # cells have identical edges in degrees: no gaps, no overlaps.
    lon, lat = projection.inverse_xy(*np.meshgrid(xs, ys))
    corners = np.stack([lon, lat], axis=-1)  # [row, col, xy]
    rings = np.stack(
        [
            corners[:-1, :-1],  # north-west
            corners[:-1, 1:],  # north-east
            corners[1:, 1:],  # south-east
            corners[1:, :-1],  # south-west
            corners[:-1, :-1],
        ],
        axis=2,
    ).reshape(ny * nx, 5, 2)
    cells = shapely.polygons(rings)
    touching = np.flatnonzero(shapely.intersects(community, cells))
    clipped = shapely.intersection(cells[touching], community)
    parts, part_of = shapely.get_parts(clipped, return_index=True)
    # Intersections can include the lines and points where a cell only touches the
    # community; they have no area and are not grids.
    polygonal = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    parts, part_of = parts[polygonal], part_of[polygonal]
    areas = approx_areas_m2(parts, projection)
    cell_index = touching[part_of]
    xs_rep = shapely.get_x(shapely.point_on_surface(parts))
    return [
        _Piece(
            geom=geom,
            area_m2=float(area),
            row=int(cell // nx),
            col=int(cell % nx),
            x=float(x),
            members=[k],
        )
        for k, (geom, area, cell, x) in enumerate(
            zip(parts, areas, cell_index, xs_rep, strict=True)
        )
    ]


def _merge_small(
    pieces: list[_Piece], min_area_m2: float, projection: LocalProjection
) -> list[_Piece]:
    """Merge pieces below `min_area_m2` into the neighbour sharing the longest boundary."""
    if len(pieces) < 2 or min_area_m2 <= 0:
        return pieces
    originals = np.array([p.geom for p in pieces], dtype=object)
    tree = shapely.STRtree(originals)
    owner = list(range(len(pieces)))  # original piece → index of the piece that holds it
    alive = set(range(len(pieces)))
    isolated: set[int] = set()

    def find(k: int) -> int:
        while owner[k] != k:
            owner[k] = owner[owner[k]]
            k = owner[k]
        return k

    while True:
        small = [i for i in alive if pieces[i].area_m2 < min_area_m2 and i not in isolated]
        if not small:
            break
        i = min(small, key=lambda k: (pieces[k].area_m2, k))
        piece = pieces[i]
        near = tree.query(originals[piece.members], predicate="intersects")[1]
        neighbours = sorted({find(int(k)) for k in near} - {i})
        best: tuple[float, float, int] | None = None
        for j in neighbours:
            shared = shapely.intersection(piece.geom.boundary, pieces[j].geom.boundary)
            length = float(shapely.length(to_local_metric(shared, projection)))
            if length <= 0:  # touching at a point only; merging would make a bow-tie
                continue
            key = (length, pieces[j].area_m2, -j)
            if best is None or key > best:
                best = key
        if best is None:
            isolated.add(i)
            continue
        j = -best[2]
        target = pieces[j]
        target.geom = shapely.union(target.geom, piece.geom)
        target.area_m2 += piece.area_m2
        target.members.extend(piece.members)
        for k in piece.members:
            owner[k] = j
        alive.discard(i)
        isolated.clear()  # a grown neighbour may now border an isolated piece
    return [pieces[i] for i in sorted(alive)]
