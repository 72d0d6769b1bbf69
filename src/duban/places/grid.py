"""Which unit grid (单元网格) is a point in: an in-memory index for microsecond lookups.

Grids are loaded once (from the database, as WKB) into a `GridIndex` and then every case,
asset and patrol point is located against it. Lookups must be cheap: a single point in a few
microseconds, and millions of points per second in bulk (statistics, imports, re-assigning
cases after the grids change).

How it is fast (measured in ``bench/locate.py``; shapely's STRtree with a predicate was
2-4x slower on both paths, mostly from creating a Point per lookup):

* A uniform bucket grid over the extent, about half a grid cell wide, lists for each bucket
  the grids whose bounding box overlaps it, in code order. A point's bucket is one division.
* A single lookup checks those few candidates' bounding boxes in Python and asks GEOS
  (prepared geometry, no Point object) only for the survivors.
* A bulk lookup expands (point, candidate) pairs with numpy in cache-sized chunks and runs a
  crossing-number test on the candidates' edges. Pairs whose point lies within 1e-9° of an
  edge or vertex, where floating point could decide either way, are sent to GEOS instead, so
  the bulk answer is always the answer of the single lookup.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = ["GridIndex"]

# Bulk lookups work in chunks so the temporary arrays stay in cache; 32-64k points measured
# 3x faster than one pass over a million points.
_CHUNK_POINTS: Final = 32_768
# Points this close (degrees, ~0.1 mm) to an edge are decided by GEOS, not by the numpy test.
_EDGE_TOLERANCE_DEG: Final = 1e-9
# Grids with more edges than this are tested by GEOS (prepared, O(log n)) in bulk lookups:
# the numpy test costs time per edge.
_NUMPY_MAX_EDGES: Final = 48
# The bucket grid is at most this many buckets per grid (a sparse, scattered set of grids
# would otherwise make it huge), and never more than this in total.
_MAX_BUCKETS_PER_GRID: Final = 16
_MAX_BUCKETS: Final = 16_000_000


def _geos_intersects_xy() -> Any:
    # shapely >= 2.1 exposes a scalar fast path (~0.1 µs) next to the ufunc (~2-3 µs for one
    # point); both call GEOS's intersects on (prepared) geometry, so answers are the same.
    scalar = getattr(shapely.lib, "intersects_xy_scalar", None)
    if scalar is not None:
        return scalar

    def ufunc(geom: Any, x: float, y: float) -> bool:
        return bool(shapely.intersects_xy(geom, x, y))

    return ufunc


_intersects_xy: Final = _geos_intersects_xy()


def _flat(typecode: str, values: NDArray[Any]) -> array[Any]:
    flat = array(typecode)
    flat.frombytes(np.ascontiguousarray(values, dtype=flat.typecode).tobytes())
    return flat


class GridIndex:
    """An immutable index of unit grids (code → WGS84 polygon) answering "which grid?".

    Tie-break (a point on a shared edge or vertex belongs to exactly one grid): among all
    grids whose *closed* polygon covers the point (boundary included), the one with the
    smallest code wins. Codes compare as strings; for same-length digit codes such as the
    15-digit grid codes this is the numerically smallest. `locate` and `locate_many` apply
    the rule identically. A point covered by no grid has no grid (None, or -1 in bulk).

    Polygons should be valid (run `regions.validate_regions` before import). An invalid one
    is still indexed, and then every lookup near it is answered by GEOS alone.
    """

    __slots__ = (
        "_bounds_by_side",
        "_bounds_flat",
        "_bucket_offsets",
        "_bucket_offsets_flat",
        "_bucket_size",
        "_candidates",
        "_candidates_flat",
        "_codes",
        "_edge_offsets",
        "_edges",
        "_extent",
        "_geos_only",
        "_nx",
        "_ny",
        "_origin",
        "_polygons",
        "_polygons_list",
        "_position",
    )

    _bounds_flat: array[float]
    _bounds_by_side: NDArray[np.float64]
    _bucket_offsets: NDArray[np.int64]
    _bucket_offsets_flat: array[int]
    _bucket_size: float
    _candidates: NDArray[np.int64]
    _candidates_flat: array[int]
    _polygons_list: list[Any]
    _edge_offsets: NDArray[np.int64]
    _edges: NDArray[np.float64]
    _extent: tuple[float, float, float, float]
    _geos_only: NDArray[np.bool_]
    _nx: int
    _ny: int
    _origin: tuple[float, float]

    def __init__(self, grids: Iterable[tuple[str, Any]]) -> None:
        """Index `(code, polygon)` pairs; polygons are shapely Polygon/MultiPolygon in WGS84.

        Raises:
            ValueError: a duplicate code, or a geometry that is empty or not polygonal.
        """
        pairs = sorted(grids, key=lambda item: item[0])
        codes = tuple(code for code, _ in pairs)
        polygons = np.array([geom for _, geom in pairs], dtype=object)
        self._check(codes, polygons)
        self._codes: tuple[str, ...] = codes
        self._position: dict[str, int] = {code: i for i, code in enumerate(codes)}
        self._polygons: NDArray[np.object_] = polygons
        self._polygons_list = polygons.tolist()
        shapely.prepare(polygons)
        self._build()

    @classmethod
    def from_wkb(cls, rows: Iterable[tuple[str, bytes]]) -> GridIndex:
        """Build from `(code, wkb)` rows as they come from the database (WKB bytes or hex)."""
        rows = list(rows)
        geoms = shapely.from_wkb(np.array([wkb for _, wkb in rows], dtype=object))
        return cls(zip((code for code, _ in rows), geoms, strict=True))

    # --- introspection ---------------------------------------------------------------------------

    @property
    def codes(self) -> tuple[str, ...]:
        """All codes in ascending order; `locate_many` returns positions in this tuple."""
        return self._codes

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def polygon(self, code: str) -> Any:
        """The polygon of a grid.

        Raises:
            KeyError: no grid has this code.
        """
        return self._polygons[self._position[code]]

    def codes_at(self, positions: Sequence[int] | NDArray[np.integer[Any]]) -> list[str | None]:
        """Turn positions from `locate_many` into codes (None for -1)."""
        codes = self._codes
        return [codes[p] if p >= 0 else None for p in np.asarray(positions).tolist()]

    # --- lookups ---------------------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> str | None:
        """The code of the grid containing a WGS84 point, or None (also for NaN input)."""
        position = self.locate_position(lon, lat)
        return None if position < 0 else self._codes[position]

    def locate_position(self, lon: float, lat: float) -> int:
        """Like `locate` but returns the position in `codes`, or -1."""
        bounds = self._bounds_flat
        polygons = self._polygons_list
        # Candidates are in code order, so the first grid covering the point is the
        # smallest code: the tie-break rule.
        for p in self._bucket_candidates(lon, lat):
            b = 4 * p
            if (
                bounds[b] <= lon <= bounds[b + 2]
                and bounds[b + 1] <= lat <= bounds[b + 3]
                and _intersects_xy(polygons[p], lon, lat)
            ):
                return p
        return -1

    def covering(self, lon: float, lat: float) -> list[int]:
        """The positions in `codes` of every polygon covering a WGS84 point (boundary
        included), in code order: for overlapping polygons, such as responsibility zones,
        where `locate` gives only the first."""
        bounds = self._bounds_flat
        polygons = self._polygons_list
        return [
            p
            for p in self._bucket_candidates(lon, lat)
            if bounds[4 * p] <= lon <= bounds[4 * p + 2]
            and bounds[4 * p + 1] <= lat <= bounds[4 * p + 3]
            and _intersects_xy(polygons[p], lon, lat)
        ]

    def _bucket_candidates(self, lon: float, lat: float) -> Sequence[int]:
        """The positions, in code order, of the polygons whose bounding boxes share the
        point's bucket (empty outside the extent)."""
        minx, miny, maxx, maxy = self._extent
        if not (minx <= lon <= maxx and miny <= lat <= maxy):  # also rejects NaN
            return ()
        x0, y0 = self._origin
        size = self._bucket_size
        # Same arithmetic as the bulk path and as the build, so a point's bucket is always
        # one its grid's bounding box was registered in (floor of a rounded quotient is
        # monotonic).
        bucket = math.floor((lat - y0) / size) * self._nx + math.floor((lon - x0) / size)
        offsets = self._bucket_offsets_flat
        return self._candidates_flat[offsets[bucket] : offsets[bucket + 1]]

    def locate_many(self, lons: ArrayLike, lats: ArrayLike) -> NDArray[np.intp]:
        """Locate many WGS84 points at once.

        Returns an int array of positions in `codes` (-1 where no grid covers the point or the
        input is NaN), the same answers as `locate`. Use `codes_at` to get codes.
        """
        x = np.ascontiguousarray(lons, dtype=np.float64).ravel()
        y = np.ascontiguousarray(lats, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"lons and lats differ in length: {x.size} vs {y.size}")
        result = np.full(x.size, -1, dtype=np.intp)
        if len(self._codes) == 0:
            return result
        for start in range(0, x.size, _CHUNK_POINTS):
            stop = start + _CHUNK_POINTS
            result[start:stop] = self._locate_chunk(x[start:stop], y[start:stop])
        return result

    # --- internals -------------------------------------------------------------------------------

    @staticmethod
    def _check(codes: tuple[str, ...], polygons: NDArray[np.object_]) -> None:
        for earlier, later in itertools.pairwise(codes):
            if earlier == later:
                raise ValueError(f"grid code {later!r} appears more than once")
        if len(codes) == 0:
            return
        kinds = shapely.get_type_id(polygons)
        # 3 = Polygon, 6 = MultiPolygon; -1 = None.
        bad = ~np.isin(kinds, (3, 6)) | shapely.is_empty(polygons)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            geom = polygons[i]
            what = getattr(geom, "geom_type", "nothing")
            if geom is not None and geom.is_empty:
                what = f"an empty {what}"
            raise ValueError(
                f"grid {codes[i]!r} needs a non-empty Polygon or MultiPolygon, got {what}"
            )

    def _build(self) -> None:
        polygons = self._polygons
        n = len(polygons)
        if n == 0:
            self._extent = (math.inf, math.inf, -math.inf, -math.inf)
            self._origin = (0.0, 0.0)
            self._bucket_size = 1.0
            self._nx = self._ny = 1
            self._bounds_flat = array("d")
            self._bounds_by_side = np.zeros((4, 0))
            self._bucket_offsets = np.zeros(2, dtype=np.int64)
            self._bucket_offsets_flat = array("q", [0, 0])
            self._candidates = np.zeros(0, dtype=np.int64)
            self._candidates_flat = array("q")
            self._edges = np.zeros((4, 0))
            self._edge_offsets = np.zeros(1, dtype=np.int64)
            self._geos_only = np.zeros(0, dtype=bool)
            return
        bounds = shapely.bounds(polygons)
        minx, miny = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        maxx, maxy = float(bounds[:, 2].max()), float(bounds[:, 3].max())
        self._extent = (minx, miny, maxx, maxy)
        self._origin = (minx, miny)
        # The single lookup reads plain arrays (numpy scalars are slow to index and compare;
        # Python lists cost more to build); the bulk one reads one row per side.
        self._bounds_flat = _flat("d", bounds)
        self._bounds_by_side = np.ascontiguousarray(bounds.T)

        # Half a typical grid wide: ~2-4 candidates per bucket, of which the bounding-box
        # test keeps ~1.3.
        sides = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        size = float(np.median(sides)) / 2.0
        width, height = maxx - minx, maxy - miny
        if not size > 0.0:
            size = max(width, height, 1e-6)
        limit = min(_MAX_BUCKETS, _MAX_BUCKETS_PER_GRID * n + 1024)
        while (math.floor(width / size) + 1) * (math.floor(height / size) + 1) > limit:
            size *= 1.5
        self._bucket_size = size
        nx = math.floor(width / size) + 1
        ny = math.floor(height / size) + 1
        self._nx, self._ny = nx, ny

        i0 = np.floor((bounds[:, 0] - minx) / size).astype(np.int64)
        i1 = np.floor((bounds[:, 2] - minx) / size).astype(np.int64)
        j0 = np.floor((bounds[:, 1] - miny) / size).astype(np.int64)
        j1 = np.floor((bounds[:, 3] - miny) / size).astype(np.int64)
        cols = i1 - i0 + 1
        count = cols * (j1 - j0 + 1)
        owner = np.repeat(np.arange(n, dtype=np.int64), count)
        k = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        bucket = (j0[owner] + k // cols[owner]) * nx + (i0[owner] + k % cols[owner])
        # Sorted by bucket, then by position (= code order), which the tie-break relies on.
        order = np.lexsort((owner, bucket))
        self._candidates = owner[order]
        offsets = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=nx * ny), out=offsets[1:])
        self._bucket_offsets = offsets
        self._bucket_offsets_flat = _flat("q", offsets)
        self._candidates_flat = _flat("q", self._candidates)

        # Edges of every ring of every part, grouped by grid, for the numpy crossing test.
        simple = bool(
            np.all(shapely.get_type_id(polygons) == 3)
            and not np.any(shapely.get_num_interior_rings(polygons))
        )
        if simple:
            # The common case, one exterior ring per grid: skip splitting into rings (~20 % of
            # the build time).
            coords, coord_ring = shapely.get_coordinates(polygons, return_index=True)
            ring_owner = np.arange(n)
        else:
            parts, part_owner = shapely.get_parts(polygons, return_index=True)
            rings, ring_part = shapely.get_rings(parts, return_index=True)
            coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
            ring_owner = part_owner[ring_part]
        same_ring = coord_ring[:-1] == coord_ring[1:]
        start = coords[:-1][same_ring]
        end = coords[1:][same_ring]
        edge_owner = ring_owner[coord_ring[:-1][same_ring]]
        self._edges = np.stack([start[:, 0], start[:, 1], end[:, 0], end[:, 1]])
        edge_offsets = np.zeros(n + 1, dtype=np.int64)
        edge_count = np.bincount(edge_owner, minlength=n)
        np.cumsum(edge_count, out=edge_offsets[1:])
        self._edge_offsets = edge_offsets
        # Crossing parity is only the truth for valid polygons; GEOS answers for the rest.
        self._geos_only = (edge_count > _NUMPY_MAX_EDGES) | ~shapely.is_valid(polygons)

    def _locate_chunk(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.intp]:
        result = np.full(x.size, -1, dtype=np.intp)
        minx, miny, maxx, maxy = self._extent
        inside = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)  # False for NaN
        point = np.flatnonzero(inside)
        if point.size == 0:
            return result
        px, py = x[point], y[point]
        size = self._bucket_size
        bucket = np.floor((py - miny) / size).astype(np.int64) * self._nx + np.floor(
            (px - minx) / size
        ).astype(np.int64)
        first = self._bucket_offsets[bucket]
        count = self._bucket_offsets[bucket + 1] - first
        # (point, candidate) pairs, ordered by point and then by candidate position.
        pair_point = np.repeat(np.arange(point.size), count)
        ends = np.cumsum(count)
        slot = np.arange(pair_point.size) - np.repeat(ends - count - first, count)
        cand = self._candidates[slot]
        qx, qy = px[pair_point], py[pair_point]
        bounds = self._bounds_by_side
        keep = (
            (qx >= bounds[0, cand])
            & (qx <= bounds[2, cand])
            & (qy >= bounds[1, cand])
            & (qy <= bounds[3, cand])
        )
        pair_point, cand, qx, qy = pair_point[keep], cand[keep], qx[keep], qy[keep]
        if cand.size == 0:
            return result

        covered = np.zeros(cand.size, dtype=bool)
        by_geos = self._geos_only[cand]
        fast = np.flatnonzero(~by_geos)
        if fast.size:
            is_inside, is_near = self._crossing_test(cand[fast], qx[fast], qy[fast])
            covered[fast] = is_inside
            by_geos[fast[is_near]] = True
        slow = np.flatnonzero(by_geos)
        if slow.size:
            covered[slow] = shapely.intersects_xy(self._polygons[cand[slow]], qx[slow], qy[slow])

        # First covering candidate of each point = smallest code (pairs are in code order).
        hit_point, hit_cand = pair_point[covered], cand[covered]
        first_hit = np.ones(hit_point.size, dtype=bool)
        first_hit[1:] = hit_point[1:] != hit_point[:-1]
        result[point[hit_point[first_hit]]] = hit_cand[first_hit]
        return result

    def _crossing_test(
        self, cand: NDArray[np.int64], qx: NDArray[np.float64], qy: NDArray[np.float64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Even-odd crossing test of each (point, grid) pair against all the grid's rings.

        Returns (inside, near): `near` marks pairs whose point is within the tolerance of an
        edge or vertex, where `inside` may be wrong and GEOS must decide. Elsewhere every
        crossing decision has a margin far above rounding error, so `inside` is exact.
        """
        edge_first = self._edge_offsets[cand]
        edge_count = self._edge_offsets[cand + 1] - edge_first
        ends = np.cumsum(edge_count)
        starts = ends - edge_count
        row_pair = np.repeat(np.arange(cand.size), edge_count)
        edge = np.arange(int(ends[-1])) - np.repeat(starts - edge_first, edge_count)
        x1, y1, x2, y2 = (self._edges[k, edge] for k in range(4))
        x, y = qx[row_pair], qy[row_pair]
        # Half-open rule: an edge counts if it straddles the horizontal line through the point.
        straddles = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        crossings = straddles & (x < x_cross)
        tol = _EDGE_TOLERANCE_DEG
        # Near an edge along the ray, or level with a vertex/horizontal edge and within its
        # x-range: the only places a point can be on (or rounding-close to) the boundary.
        near = (straddles & (np.abs(x - x_cross) < tol)) | (
            (np.abs(y - y1) < tol)
            & (x >= np.minimum(x1, x2) - tol)
            & (x <= np.maximum(x1, x2) + tol)
        )
        inside = np.logical_xor.reduceat(crossings, starts)
        is_near = np.logical_or.reduceat(near, starts)
        return inside, is_near
