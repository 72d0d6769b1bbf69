"""Places: which grid, community, street and district a point is in, and who answers for it.

The current regions (``regions`` rows with ``valid_to IS NULL``) and active zones are
loaded once per process into a :class:`PlacesIndex` (one :class:`~duban.places.grid.GridIndex`
per level, a shapely STRtree over the zones) and looked up in microseconds. Every change
of regions or zones bumps a version stamp in the ``settings`` table
(:func:`bump_places_version`); each request reads that one row (a primary-key lookup) and
rebuilds the index only when the stamp has changed, so every process sees a new map on its
next request.

Locate: the point's unit grid gives its community, street and district through the
codes' parents (a grid code starts with its community's code, and so on). Where no grid
covers the point, the communities, then the streets, then the districts are asked, so a
point in a district without drawn grids still has a district.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.cases import Case
from duban.kernel.db.models import Setting
from duban.kernel.db.session import request_memo
from duban.kernel.db.stamps import (
    PLACES_VERSION_KEY,
    StampedCache,
    database_key,
    forget_stamps,
    places_token,
    stamp,
)
from duban.kernel.errors import InvalidInput, Msg
from duban.places.grid import GridIndex
from duban.places.models import REGION_LEVELS, ZONE_KINDS, Region, Zone
from duban.places.regions import CODE_LENGTH, RegionLevel
from duban.reference import PlacesPolicy

#: Levels from the finest to the coarsest: the order locate asks them in.
LEVELS_FINE_FIRST: Final = ("grid", "community", "street", "district")
ZONE_LABELS: Final[Mapping[str, str]] = {
    "leader_grid": "网格分包",
    "road_segment": "路长制",
    "shopfront": "门前三包",
}
LEVEL_LABELS: Final[Mapping[str, str]] = {level.value: level.label for level in RegionLevel}


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class PlaceRef:
    """A region a point is in: its level, code and (if the region is known) name."""

    level: str
    code: str
    name: str | None = None
    name_en: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneRef:
    """A responsibility zone a point is in, with the person who answers for it."""

    id: int
    code: str
    kind: str
    name: str
    person_name: str
    person_phone: str | None
    username: str | None
    unit_code: str | None


@dataclass(frozen=True)
class Location:
    """Where a WGS84 point is: its regions from grid to district and its zones."""

    lon: float
    lat: float
    grid: PlaceRef | None = None
    community: PlaceRef | None = None
    street: PlaceRef | None = None
    district: PlaceRef | None = None
    zones: tuple[ZoneRef, ...] = ()
    #: Filed to the policy's catch-all grid because no grid covers the point.
    catch_all: bool = False

    def at(self, level: str) -> PlaceRef | None:
        """The region of ``level`` (grid, community, street, district), if any."""
        ref: PlaceRef | None = getattr(self, level)
        return ref

    def code_at(self, level: str) -> str | None:
        """The code of the region of ``level``, if any."""
        ref = self.at(level)
        return ref.code if ref else None

    @property
    def found(self) -> bool:
        """Whether any region covers the point."""
        return any(self.at(level) for level in LEVELS_FINE_FIRST)

    def zone_of(self, kind: str) -> ZoneRef | None:
        """The first zone of ``kind`` (zones are ordered: nearest road segment first)."""
        return next((z for z in self.zones if z.kind == kind), None)

    @property
    def grid_leader(self) -> ZoneRef | None:
        """The leader grid (网格分包) the point is in."""
        return self.zone_of("leader_grid")

    @property
    def road_chief(self) -> ZoneRef | None:
        """The road segment (路长制) the point is on."""
        return self.zone_of("road_segment")


@dataclass(frozen=True, slots=True)
class _RegionInfo:
    level: str
    name: str
    parent_code: str | None
    name_en: str | None = None


@dataclass(frozen=True, slots=True)
class _ZoneRow:
    ref: ZoneRef
    geometry: Any
    area: Any


# --------------------------------------------------------------------------- the index


class PlacesIndex:
    """The current regions and zones of the city, ready for microsecond lookups."""

    def __init__(
        self,
        regions: Iterable[tuple[str, str, str, str | None, Any]],
        zones: Iterable[_ZoneRow] = (),
        token: str | None = None,
        english: Mapping[str, str] | None = None,
    ) -> None:
        """Index ``(code, level, name, parent_code, shapely polygon)`` rows and zones;
        ``english`` maps codes to the regions' English names."""
        self.token = token
        by_level: dict[str, list[tuple[str, Any]]] = {level: [] for level in REGION_LEVELS}
        self._info: dict[str, _RegionInfo] = {}
        for code, level, name, parent_code, geom in regions:
            by_level[level].append((code, geom))
            self._info[code] = _RegionInfo(level, name, parent_code, (english or {}).get(code))
        self.levels: dict[str, GridIndex] = {
            level: GridIndex(items) for level, items in by_level.items()
        }
        self._chains: dict[tuple[str, str], dict[str, PlaceRef]] = {}
        self._zones = list(zones)
        # Zones overlap (a leader grid, a road, a shop front): all those covering a point
        # are wanted, found as grids are (no Point object per lookup).
        self._zone_index = (
            GridIndex((f"{i:09d}", z.area) for i, z in enumerate(self._zones))
            if self._zones
            else None
        )

    @property
    def has_grids(self) -> bool:
        """Whether the city has any unit grid."""
        return len(self.levels["grid"]) > 0

    def count(self, level: str) -> int:
        """How many current regions of ``level`` there are."""
        return len(self.levels[level])

    def ref(self, level: str, code: str) -> PlaceRef:
        """The region ``code`` as a place reference, with its names if it is current."""
        info = self._info.get(code)
        return PlaceRef(level, code, info.name if info else None, info.name_en if info else None)

    def name_of(self, code: str) -> str | None:
        """The name of a current region."""
        info = self._info.get(code)
        return info.name if info else None

    def level_of(self, code: str) -> str | None:
        """The level of a current region."""
        info = self._info.get(code)
        return info.level if info else None

    def locate(self, lon: float, lat: float) -> Location:
        """Where a WGS84 point is (an empty :class:`Location` outside every region)."""
        for level in LEVELS_FINE_FIRST:
            code = self.levels[level].locate(lon, lat)
            if code is not None:
                return self.location_of(level, code, lon, lat)
        return Location(lon, lat, zones=self.zones_at(lon, lat))

    def location_of(
        self, level: str, code: str, lon: float, lat: float, *, catch_all: bool = False
    ) -> Location:
        """The location of a point known to be in region ``code`` of ``level``."""
        refs = self._chain(level, code)
        return Location(
            lon,
            lat,
            grid=refs.get("grid"),
            community=refs.get("community"),
            street=refs.get("street"),
            district=refs.get("district"),
            zones=self.zones_at(lon, lat),
            catch_all=catch_all,
        )

    def location_from_codes(
        self, codes: Mapping[str, str | None], lon: float, lat: float
    ) -> Location:
        """A location from stored codes (a case keeps the codes it was filed with)."""
        refs = {
            level: self.ref(level, code)
            for level in LEVELS_FINE_FIRST
            if (code := codes.get(level))
        }
        return Location(
            lon,
            lat,
            grid=refs.get("grid"),
            community=refs.get("community"),
            street=refs.get("street"),
            district=refs.get("district"),
            zones=self.zones_at(lon, lat),
        )

    def zones_at(self, lon: float, lat: float) -> tuple[ZoneRef, ...]:
        """The active zones containing a point: leader grids, then road segments (nearest
        line first), then shopfronts."""
        if self._zone_index is None or not (math.isfinite(lon) and math.isfinite(lat)):
            return ()
        rows = [self._zones[i] for i in self._zone_index.covering(lon, lat)]
        if len(rows) <= 1:
            return tuple(row.ref for row in rows)
        order = {kind: i for i, kind in enumerate(ZONE_KINDS)}
        point = shapely.Point(lon, lat)

        def key(row: _ZoneRow) -> tuple[int, float, str]:
            distance = float(shapely.distance(row.geometry, point))
            return (order.get(row.ref.kind, 99), distance, row.ref.code)

        return tuple(row.ref for row in sorted(rows, key=key))

    def _chain(self, level: str, code: str) -> dict[str, PlaceRef]:
        """``code`` and its ancestors up to the district, by parent codes (else prefixes);
        worked out once per region (the index never changes)."""
        key = (level, code)
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains.setdefault(key, self._walk_up(level, code))
        return chain

    def _walk_up(self, level: str, code: str) -> dict[str, PlaceRef]:
        refs: dict[str, PlaceRef] = {}
        current: str | None = code
        current_level: RegionLevel | None = RegionLevel(level)
        while current is not None and current_level is not None:
            info = self._info.get(current)
            refs[current_level.value] = self.ref(current_level.value, current)
            parent_level = current_level.parent
            if parent_level is None:
                break
            parent = info.parent_code if info else None
            length = CODE_LENGTH[parent_level]
            if parent is None or len(parent) != length:
                parent = current[:length] if len(current) > length else None
            current, current_level = parent, parent_level
        return refs


# --------------------------------------------------------------------------- loading & cache

_cache: StampedCache[PlacesIndex] = StampedCache()


def _token(session: Session) -> str | None:
    return places_token(stamp(session, PLACES_VERSION_KEY).value)


def bump_places_version(session: Session, now: datetime) -> str:
    """Record that regions or zones changed (in the caller's transaction).

    The token is random, so a database that was emptied and refilled never matches a
    cached index of its earlier contents.
    """
    row = session.get(Setting, PLACES_VERSION_KEY)
    token = uuid.uuid4().hex
    memo = request_memo(session)
    if memo is not None:
        memo.pop(PLACES_VERSION_KEY, None)
    forget_stamps(session)
    if row is None:
        session.add(
            Setting(key=PLACES_VERSION_KEY, value={"version": 1, "token": token}, updated_at=now)
        )
    else:
        version = int((row.value or {}).get("version", 0)) + 1
        row.value = {"version": version, "token": token}
        row.updated_at = now
    return token


def wkb_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else bytes(value)


def build_places_index(session: Session) -> PlacesIndex:
    """Read the current regions and active zones and index them (no cache)."""
    token = _token(session)
    rows = session.execute(
        select(
            Region.code,
            Region.level,
            Region.name,
            Region.parent_code,
            Region.geometry,
            Region.name_en,
        ).where(Region.valid_to.is_(None))
    ).all()
    geoms = shapely.from_wkb(np.array([wkb_bytes(r.geometry) for r in rows], dtype=object))
    regions = [
        (r.code, r.level, r.name, r.parent_code, g) for r, g in zip(rows, geoms, strict=True)
    ]
    zone_rows = session.execute(
        select(Zone, User.username, Unit.code)
        .outerjoin(User, User.id == Zone.user_id)
        .outerjoin(Unit, Unit.id == Zone.unit_id)
        .where(Zone.is_active)
    ).all()
    zones = [
        _ZoneRow(
            ref=ZoneRef(
                id=zone.id,
                code=zone.code,
                kind=zone.kind,
                name=zone.name,
                person_name=zone.person_name,
                person_phone=zone.person_phone,
                username=username,
                unit_code=unit_code,
            ),
            geometry=shapely.from_wkb(wkb_bytes(zone.geometry)),
            area=shapely.from_wkb(wkb_bytes(zone.area)),
        )
        for zone, username, unit_code in zone_rows
    ]
    english = {r.code: r.name_en for r in rows if r.name_en}
    return PlacesIndex(regions, zones, token, english)


def places_index(session: Session) -> PlacesIndex:
    """The process's index of the current map, rebuilt when the version stamp moved."""
    memo = request_memo(session)  # the stamp is checked once per request
    if memo is not None and PLACES_VERSION_KEY in memo:
        memoized: PlacesIndex = memo[PLACES_VERSION_KEY]
        return memoized
    url = database_key(session.get_bind().engine)
    token = _token(session)
    cached = cached_places_index(url, token)
    index = cached if cached is not None else _cache.put(url, token, build_places_index(session))
    if memo is not None:
        memo[PLACES_VERSION_KEY] = index
    return index


def cached_places_index(database: str, token: str | None) -> PlacesIndex | None:
    """The index this process holds for ``database`` if its map version is ``token``."""
    return _cache.get(database, token)


def forget_places_index() -> None:
    """Drop every cached index (tests; a later request reloads)."""
    _cache.clear()


# --------------------------------------------------------------------------- locate


def locate(session: Session, lon: float, lat: float) -> Location:
    """Where a WGS84 point is."""
    return places_index(session).locate(lon, lat)


def locate_for_intake(session: Session, lon: float, lat: float, policy: PlacesPolicy) -> Location:
    """Where a reported point is, applying the city's rule for points outside every grid.

    With no grids at all, any point is accepted (the grid is then unknown). Otherwise a
    point no grid covers is refused (:class:`InvalidInput`, code ``outside_grids``), or
    filed to the catch-all grid, or accepted without a grid, as ``places.outside_grids``
    says.
    """
    return locate_in(places_index(session), lon, lat, policy)


def locate_in(index: PlacesIndex, lon: float, lat: float, policy: PlacesPolicy) -> Location:
    """:func:`locate_for_intake` on a given index."""
    location = index.locate(lon, lat)
    if location.grid is not None or not index.has_grids or policy.outside_grids == "accept":
        return location
    if policy.outside_grids == "catch_all" and policy.catch_all_grid:
        return index.location_of("grid", policy.catch_all_grid, lon, lat, catch_all=True)
    where = ""
    if location.district is not None:
        district = location.district.name or location.district.code
        where = f" (it is in {district}, which has no grids there)"
    raise InvalidInput(
        Msg(
            "the point {lon:.6f}, {lat:.6f} (WGS84) lies outside every unit grid "
            "of the city{where}; check the location and its coordinate system "
            "('crs': wgs84, gcj02 or bd09 — map apps in China give gcj02 or bd09)",
            lon=lon,
            lat=lat,
            where=where,
        ),
        field="location",
        code="outside_grids",
        lon=round(lon, 7),
        lat=round(lat, 7),
    )


def location_codes(location: Location) -> dict[str, str | None]:
    """A location's region codes by level (grid, community, street, district)."""
    return {level: location.code_at(level) for level in LEVELS_FINE_FIRST}


def apply_location(case: Case, location: Location) -> dict[str, str | None]:
    """Store a location's codes on a case; returns them (for an event payload)."""
    codes = location_codes(location)
    case.grid_code = codes["grid"]
    case.community_code = codes["community"]
    case.street_code = codes["street"]
    case.district_code = codes["district"]
    return codes


def case_location(session: Session, case: Case) -> Location:
    """The location a case was filed with (its stored codes) and the zones at its point."""
    index = places_index(session)
    return index.location_from_codes(
        {
            "grid": case.grid_code,
            "community": case.community_code,
            "street": case.street_code,
            "district": case.district_code,
        },
        case.lon,
        case.lat,
    )


def case_locations(session: Session, cases: Sequence[Case]) -> list[Location]:
    """:func:`case_location` of many cases, with names (one index, one name query)."""
    if not cases:
        return []
    index = places_index(session)
    found = [
        index.location_from_codes(
            {
                "grid": case.grid_code,
                "community": case.community_code,
                "street": case.street_code,
                "district": case.district_code,
            },
            case.lon,
            case.lat,
        )
        for case in cases
    ]
    return fill_names(session, found)


def fill_names(session: Session, locations: Sequence[Location]) -> list[Location]:
    """Give names to codes the current map no longer has (retired regions keep theirs)."""
    missing = {
        ref.code
        for loc in locations
        for level in LEVELS_FINE_FIRST
        if (ref := loc.at(level)) is not None and ref.name is None
    }
    if not missing:
        return list(locations)
    names: dict[str, tuple[str, str | None]] = {}
    for code, name, name_en in session.execute(
        select(Region.code, Region.name, Region.name_en)
        .where(Region.code.in_(sorted(missing)))
        .order_by(Region.valid_from)
    ):
        names[code] = (name, name_en)  # the latest version's names win
    out: list[Location] = []
    for loc in locations:
        refs = {}
        for level in LEVELS_FINE_FIRST:
            ref = loc.at(level)
            if ref is not None and ref.name is None and ref.code in names:
                ref = PlaceRef(ref.level, ref.code, *names[ref.code])
            refs[level] = ref
        out.append(
            Location(
                loc.lon,
                loc.lat,
                grid=refs["grid"],
                community=refs["community"],
                street=refs["street"],
                district=refs["district"],
                zones=loc.zones,
                catch_all=loc.catch_all,
            )
        )
    return out


@dataclass(frozen=True)
class PlacesSummary:
    """How much of the map there is (for ``duban demo`` and admins)."""

    counts: dict[str, int] = field(default_factory=dict)
    zones: dict[str, int] = field(default_factory=dict)


def summary(session: Session) -> PlacesSummary:
    """Counts of current regions per level and active zones per kind."""
    index = places_index(session)
    zones: dict[str, int] = {}
    for (kind,) in session.execute(select(Zone.kind).where(Zone.is_active)):
        zones[kind] = zones.get(kind, 0) + 1
    return PlacesSummary({level: index.count(level) for level in REGION_LEVELS}, zones)
