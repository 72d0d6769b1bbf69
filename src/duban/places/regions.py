"""Checking a set of regions (区/街道/社区/单元网格) before it is imported.

`validate_regions` looks at all regions of one level at once and returns every problem it
finds, so that whoever prepared the file can fix them in one pass: malformed or duplicate
codes, parents that don't exist or don't match the code, broken geometry, regions that
overlap, leave their parent, or leave holes in it. It changes nothing and does no I/O; the
import service decides what to do with the problems (normally: refuse the import and show
them).

Geometry is WGS84. The areas compared with the tolerances (overlaps, parts outside the
parent, gaps) are measured in degree space and scaled by the ground size of a degree at
their latitude (`_sliver_areas_m2`): these pieces are slivers between two boundaries, and
projecting their vertices one by one would bend long straight edges and turn a degenerate
sliver along a 4 km edge into tens of "square metres".
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
import shapely
from pypinyin import lazy_pinyin

from duban.kernel.errors import Msg, Name

__all__ = [
    "CODE_LENGTH",
    "Problem",
    "ProblemKind",
    "RegionInput",
    "RegionLevel",
    "validate_regions",
]


class RegionLevel(StrEnum):
    """The levels of the region hierarchy, largest first."""

    DISTRICT = "district"  # 区/县, 6 digits (GB/T 2260)
    STREET = "street"  # 街道/乡镇, 9 digits
    COMMUNITY = "community"  # 社区/村, 12 digits
    GRID = "grid"  # 单元网格, 15 digits

    @property
    def parent(self) -> RegionLevel | None:
        """The level above, or None for districts."""
        return _PARENT[self]

    @property
    def label(self) -> str:
        """The Chinese name."""
        return _LABELS[self]

    @property
    def term(self) -> Name:
        """Its name in Chinese and English, for messages (区县 / district)."""
        return Name(_LABELS[self], _ENGLISH_LABELS[self])


_PARENT: Final[Mapping[RegionLevel, RegionLevel | None]] = {
    level: (list(RegionLevel)[i - 1] if i > 0 else None) for i, level in enumerate(RegionLevel)
}
CODE_LENGTH: Final[Mapping[RegionLevel, int]] = {
    RegionLevel.DISTRICT: 6,
    RegionLevel.STREET: 9,
    RegionLevel.COMMUNITY: 12,
    RegionLevel.GRID: 15,
}
_LABELS: Final[Mapping[RegionLevel, str]] = {
    RegionLevel.DISTRICT: "区县",
    RegionLevel.STREET: "街道",
    RegionLevel.COMMUNITY: "社区",
    RegionLevel.GRID: "单元网格",
}
_ENGLISH_LABELS: Final[Mapping[RegionLevel, str]] = {
    RegionLevel.DISTRICT: "district",
    RegionLevel.STREET: "street",
    RegionLevel.COMMUNITY: "community",
    RegionLevel.GRID: "unit grid",
}


class ProblemKind(StrEnum):
    """What is wrong; the order here is the order problems are reported in."""

    MALFORMED_CODE = "malformed_code"
    DUPLICATE_CODE = "duplicate_code"
    MISSING_PARENT = "missing_parent"
    UNKNOWN_PARENT = "unknown_parent"
    PARENT_MISMATCH = "parent_mismatch"  # the code does not start with the parent's code
    INVALID_PARENT = "invalid_parent"  # the parent's boundary is unusable; nothing checked
    EMPTY_GEOMETRY = "empty_geometry"
    INVALID_GEOMETRY = "invalid_geometry"
    SELF_INTERSECTION = "self_intersection"
    OVERLAP = "overlap"
    OUTSIDE_PARENT = "outside_parent"
    GAP = "gap"

    @property
    def heading(self) -> Msg:
        """What is wrong in a few words, for a column of a report (编码重复)."""
        return _KIND_TITLES[self]


_KIND_TITLES: Final[Mapping[ProblemKind, Msg]] = {
    ProblemKind.MALFORMED_CODE: Msg("malformed code"),
    ProblemKind.DUPLICATE_CODE: Msg("duplicate code"),
    ProblemKind.MISSING_PARENT: Msg("no parent given"),
    ProblemKind.UNKNOWN_PARENT: Msg("unknown parent"),
    ProblemKind.PARENT_MISMATCH: Msg("code and parent disagree"),
    ProblemKind.INVALID_PARENT: Msg("parent boundary unusable"),
    ProblemKind.EMPTY_GEOMETRY: Msg("no boundary"),
    ProblemKind.INVALID_GEOMETRY: Msg("invalid boundary"),
    ProblemKind.SELF_INTERSECTION: Msg("boundary crosses itself"),
    ProblemKind.OVERLAP: Msg("overlap"),
    ProblemKind.OUTSIDE_PARENT: Msg("outside its parent"),
    ProblemKind.GAP: Msg("gap in the parent"),
}


@dataclass(frozen=True, slots=True)
class RegionInput:
    """One region as read from an import file; geometry is a shapely geometry in WGS84."""

    code: str
    name: str
    parent_code: str | None
    geometry: Any
    #: Its English name (the English face shows the Chinese one where there is none).
    name_en: str | None = None


#: The generic part of a region's Chinese name and its English, longest first (the
#: usage of English-language maps of China: 魏都区 Weidu District, 西大街道 Xida Subdistrict).
_GENERIC_EN: Final = (
    ("街道办事处", "Subdistrict"),
    ("居民委员会", "Community"),
    ("村民委员会", "Village"),
    ("自治县", "Autonomous County"),
    ("居委会", "Community"),
    ("村委会", "Village"),
    ("街道", "Subdistrict"),
    ("社区", "Community"),
    ("网格", "Grid"),
    ("区", "District"),
    ("县", "County"),
    ("市", "City"),
    ("镇", "Town"),
    ("乡", "Township"),
    ("村", "Village"),
)
#: Numbers in a name that English writes as numbers (一社区: Community 1).
_NUMERALS: Final = dict(zip("一二三四五六七八九十", range(1, 11), strict=True))


def english_place_name(name: str) -> str:
    """A region's English name from its Chinese one: the proper name in pinyin, the generic
    part in English, a note in brackets spelled too: ``文昌街道`` → ``Wenchang Subdistrict``,
    ``文昌一社区`` → ``Wenchang Community 1``, ``魏都区`` → ``Weidu District``."""
    note = ""
    for opening in ("（", "("):
        if opening in name:
            name, _, rest = name.partition(opening)
            note = " (" + _spelled(rest.rstrip("）)")) + ")"
    generic = ""
    for chinese, english in _GENERIC_EN:
        if name.endswith(chinese) and len(name) > len(chinese):
            name, generic = name.removesuffix(chinese), english
            break
    number = ""
    if name and name[-1] in _NUMERALS and len(name) > 1:
        name, number = name[:-1], f" {_NUMERALS[name[-1]]}"
    parts = [p for p in (_spelled(name), generic) if p]
    return " ".join(parts) + number + note


#: Place names that pypinyin's phrase dictionary reads wrongly, as maps spell them.
#: Only known misreadings: the dictionary's word segmentation gets the rest right.
_READINGS: Final = {"魏都": "Weidu", "长葛": "Changge", "朝阳": "Chaoyang"}


def _spelled(text: str) -> str:
    """Chinese in pinyin, one capitalised word (other characters kept): read by words (the
    dictionary's phrases, 成都 Chengdu, 六安 Lu'an), with an apostrophe where a syllable
    starting with a, o or e would run into the one before (建安 Jian'an)."""
    for chinese, spelled in _READINGS.items():
        if text.startswith(chinese):
            rest = _spelled(text.removeprefix(chinese)).lower()
            return spelled + ("'" if rest[:1] in ("a", "o", "e") else "") + rest
    word = ""
    for syllable in lazy_pinyin(text):
        if word and syllable[:1] in ("a", "o", "e") and word[-1:].isalpha():
            word += "'"
        word += syllable
    return word.strip().capitalize()


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix before the import can go ahead.

    `code` is the region the problem is about (for a gap: the parent with the hole);
    `text` says what is wrong for people (a catalogue template and its values, rendered in
    the reader's language); `detail` carries numbers and ids for programs (e.g.
    ``area_m2``, ``other_code``, and ``lon``/``lat`` of a point in the problem area to
    look at).
    """

    code: str
    kind: ProblemKind
    text: Msg
    detail: Mapping[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The English."""
        return str(self.text)


def validate_regions(
    items: Sequence[RegionInput],
    *,
    level: RegionLevel | str,
    parents: Mapping[str, Any] | None = None,
    overlap_tolerance_m2: float = 1.0,
    gap_tolerance_m2: float = 1.0,
) -> list[Problem]:
    """Check regions of one level before import; returns all problems found (empty if none).

    Checks:
    * codes: the level's length (district 6, street 9, community 12, grid 15) in ASCII
      digits; no code twice; every level below districts names a parent, and its code
      starts with the parent's code;
    * geometry: a non-empty, valid Polygon/MultiPolygon in longitude/latitude;
    * no two regions overlap by more than `overlap_tolerance_m2` (siblings or not: regions
      of one level never share ground);
    * only when `parents` (parent code → geometry) is given: every parent code is known,
      no region reaches outside its parent by more than `overlap_tolerance_m2`, and the
      children of a parent leave no hole in it larger than `gap_tolerance_m2`. Parents
      without any child in `items` are not checked for gaps, so a partial import (one
      street's communities) can be validated against all streets.

    Problems with a region's geometry exclude it from the spatial checks.
    """
    level = RegionLevel(level)
    problems: list[Problem] = []
    problems += _check_codes(items, level, parents)
    usable = _check_geometries(items, level, problems)
    if usable:
        geoms = np.array([items[i].geometry for i in usable], dtype=object)
        problems += _check_overlaps(items, usable, geoms, level, overlap_tolerance_m2)
        if parents is not None:
            problems += _check_parents(
                items, usable, geoms, level, parents,
                overlap_tolerance_m2, gap_tolerance_m2,
            )  # fmt: skip
    order = {kind: i for i, kind in enumerate(ProblemKind)}
    problems.sort(key=lambda p: (order[p.kind], p.code))
    return problems


# --- codes ---------------------------------------------------------------------------------------


def _is_digits(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and value.isascii() and value.isdigit()


def _check_codes(
    items: Sequence[RegionInput], level: RegionLevel, parents: Mapping[str, Any] | None
) -> list[Problem]:
    problems: list[Problem] = []
    length = CODE_LENGTH[level]
    parent_level = level.parent
    counts = Counter(item.code for item in items)
    for code, count in counts.items():
        if count > 1:
            names = sorted({item.name for item in items if item.code == code})
            problems.append(
                Problem(
                    code,
                    ProblemKind.DUPLICATE_CODE,
                    Msg(
                        "{level} code {code} is used {count} times ({names}); "
                        "each region needs its own code",
                        level=level.term,
                        code=code,
                        count=count,
                        names="、".join(names),
                    ),
                    {"count": count, "names": names},
                )
            )
    for item in items:
        if not _is_digits(item.code, length):
            problems.append(
                Problem(
                    str(item.code),
                    ProblemKind.MALFORMED_CODE,
                    Msg(
                        "{level} {name}: code '{code}' should be {length} digits (0-9, half-width)",
                        level=level.term,
                        name=_name(item),
                        code=str(item.code),
                        length=length,
                    ),
                    {"expected_length": length, "name": item.name},
                )
            )
            continue
        if parent_level is None:
            continue
        parent_length = CODE_LENGTH[parent_level]
        expected = item.code[:parent_length]
        if item.parent_code is None:
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.MISSING_PARENT,
                    Msg(
                        "{level} {name} ({code}) has no parent {parent_level}; "
                        "its code says it should be {expected_code}",
                        level=level.term,
                        name=_name(item),
                        code=item.code,
                        parent_level=parent_level.term,
                        expected_code=expected,
                    ),
                    {"expected_parent_code": expected, "name": item.name},
                )
            )
            continue
        if item.parent_code != expected:
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.PARENT_MISMATCH,
                    Msg(
                        "{level} {name} ({code}) is filed under {parent_level} "
                        "{parent_code}, but its code starts with {expected_code}; "
                        "fix the code or the parent",
                        level=level.term,
                        name=_name(item),
                        code=item.code,
                        parent_level=parent_level.term,
                        parent_code=item.parent_code,
                        expected_code=expected,
                    ),
                    {
                        "parent_code": item.parent_code,
                        "expected_parent_code": expected,
                        "name": item.name,
                    },
                )
            )
        if parents is not None and item.parent_code not in parents:
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.UNKNOWN_PARENT,
                    Msg(
                        "{level} {name} ({code}): parent {parent_level} {parent_code} "
                        "does not exist; import it first or fix the parent code",
                        level=level.term,
                        name=_name(item),
                        code=item.code,
                        parent_level=parent_level.term,
                        parent_code=item.parent_code,
                    ),
                    {"parent_code": item.parent_code, "name": item.name},
                )
            )
    return problems


# --- geometry ------------------------------------------------------------------------------------


def _location(geom: Any) -> dict[str, object]:
    point = shapely.point_on_surface(geom)
    if point is None or point.is_empty:
        return {}
    return {"lon": round(float(point.x), 7), "lat": round(float(point.y), 7)}


def _name(item: RegionInput) -> Name:
    return Name(item.name, item.name_en)


def _near(detail: Mapping[str, object]) -> dict[str, str]:
    """The ``lon``/``lat`` values of a message: the point of ``detail`` to look at."""
    if "lon" in detail:
        return {"lon": f"{detail['lon']:.6f}", "lat": f"{detail['lat']:.6f}"}
    return {"lon": "?", "lat": "?"}


def _check_geometries(
    items: Sequence[RegionInput], level: RegionLevel, problems: list[Problem]
) -> list[int]:
    """Append geometry problems; return the indexes of items fit for spatial checks."""
    usable: list[int] = []
    for i, item in enumerate(items):
        geom = item.geometry
        who = {"level": level.term, "name": _name(item), "code": item.code}
        kind = getattr(geom, "geom_type", None)
        if geom is None or (kind is not None and geom.is_empty):
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.EMPTY_GEOMETRY,
                    Msg("{level} {name} ({code}) has no boundary", **who),
                    {},
                )
            )
            continue
        if kind not in ("Polygon", "MultiPolygon"):
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.INVALID_GEOMETRY,
                    Msg(
                        "{level} {name} ({code}): the boundary must be a Polygon or "
                        "MultiPolygon, not {geom_type}",
                        **who,
                        geom_type=str(kind),
                    ),
                    {"geom_type": kind},
                )
            )
            continue
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.INVALID_GEOMETRY,
                    Msg(
                        "{level} {name} ({code}): coordinates {bounds} are not "
                        "longitude/latitude; is the file in a projected system?",
                        **who,
                        bounds=", ".join(f"{v:g}" for v in geom.bounds),
                    ),
                    {"bounds": list(geom.bounds)},
                )
            )
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            # GEOS reports e.g. "Self-intersection[113.81 34.02]"; keep the point for the user.
            detail: dict[str, object] = {"reason": reason}
            if "[" in reason and reason.endswith("]"):
                xy = reason[reason.index("[") + 1 : -1].split()
                if len(xy) >= 2:
                    detail.update(lon=float(xy[0]), lat=float(xy[1]))
            is_self = reason.lower().startswith(("self-intersection", "ring self-intersection"))
            # GEOS's reason is English for developers: it stays in detail, people read ours.
            if is_self:
                text = Msg(
                    "{level} {name} ({code}): the boundary crosses itself near {lon}, {lat}; "
                    "redraw it there",
                    **who,
                    **_near(detail),
                )
            elif "lon" in detail:
                text = Msg(
                    "{level} {name} ({code}): the boundary is not a valid polygon near "
                    "{lon}, {lat}; redraw it there",
                    **who,
                    **_near(detail),
                )
            else:
                text = Msg(
                    "{level} {name} ({code}): the boundary is not a valid polygon; redraw it",
                    **who,
                )
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.SELF_INTERSECTION if is_self else ProblemKind.INVALID_GEOMETRY,
                    text,
                    detail,
                )
            )
            continue
        usable.append(i)
    return usable


def _check_overlaps(
    items: Sequence[RegionInput],
    usable: list[int],
    geoms: Any,
    level: RegionLevel,
    tolerance_m2: float,
) -> list[Problem]:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    # Neighbours that only share an edge are the usual case; skip them before the costly
    # intersection.
    interior = ~shapely.touches(geoms[left], geoms[right])
    left, right = left[interior], right[interior]
    if left.size == 0:
        return []
    shared = shapely.intersection(geoms[left], geoms[right])
    areas = _sliver_areas_m2(shared)
    problems: list[Problem] = []
    for a, b, geom, area in zip(left, right, shared, areas, strict=True):
        if area <= tolerance_m2:
            continue
        one, other = items[usable[a]], items[usable[b]]
        if other.code < one.code:
            one, other = other, one
        detail: dict[str, object] = {
            "other_code": other.code,
            "area_m2": round(float(area), 2),
            **_location(geom),
        }
        values = {
            "level": level.term,
            "name": _name(one),
            "code": one.code,
            "other_name": _name(other),
            "other_code": other.code,
            "area": f"{area:.1f}",
            **_near(detail),
        }
        if one.parent_code == other.parent_code:
            text = Msg(
                "{level} {name} ({code}) and {other_name} ({other_code}) overlap by "
                "{area} m² near {lon}, {lat}; each place must belong to one region",
                **values,
            )
        else:
            text = Msg(
                "{level} {name} ({code}) and {other_name} ({other_code}), in different "
                "parents, overlap by {area} m² near {lon}, {lat}; each place must belong "
                "to one region",
                **values,
            )
        problems.append(Problem(one.code, ProblemKind.OVERLAP, text, detail))
    return problems


def _check_parents(
    items: Sequence[RegionInput],
    usable: list[int],
    geoms: Any,
    level: RegionLevel,
    parents: Mapping[str, Any],
    outside_tolerance_m2: float,
    gap_tolerance_m2: float,
) -> list[Problem]:
    problems: list[Problem] = []
    parent_level = level.parent.term if level.parent else Name("上级", "parent")
    children: dict[str, list[int]] = defaultdict(list)
    for k, i in enumerate(usable):
        parent_code = items[i].parent_code
        if parent_code is not None and parent_code in parents:
            children[parent_code].append(k)  # others are reported as missing/unknown parents
    broken = sorted(code for code in children if not _usable_parent(parents[code]))
    for parent_code in broken:
        del children[parent_code]
        problems.append(
            Problem(
                parent_code,
                ProblemKind.INVALID_PARENT,
                Msg(
                    "{parent_level} {parent_code} has no valid boundary, so its {level} "
                    "regions were not checked against it; fix the {parent_level} first",
                    parent_level=parent_level,
                    parent_code=parent_code,
                    level=level.term,
                ),
                {},
            )
        )
    if not children:
        return problems

    # Outside the parent. Prepared parents answer "covers" fast, so the costly difference is
    # only computed for children that do reach out. Preparing is a cache on the caller's
    # geometries; it is undone afterwards.
    parent_array = np.array([parents[code] for code in children], dtype=object)
    was_prepared = shapely.is_prepared(parent_array)
    shapely.prepare(parent_array)
    try:
        ks = np.array([k for members in children.values() for k in members], dtype=np.intp)
        parent_of = np.repeat(np.arange(len(children)), [len(m) for m in children.values()])
        reaching = ~shapely.covers(parent_array[parent_of], geoms[ks])
    finally:
        shapely.destroy_prepared(parent_array[~was_prepared])
    ks, parent_of = ks[reaching], parent_of[reaching]
    if ks.size:
        outside = shapely.difference(geoms[ks], parent_array[parent_of])
        areas = _sliver_areas_m2(outside)
        for k, geom, area in zip(ks.tolist(), outside, areas, strict=True):
            if area <= outside_tolerance_m2:
                continue
            item = items[usable[k]]
            detail: dict[str, object] = {
                "parent_code": item.parent_code,
                "area_m2": round(float(area), 2),
                **_location(geom),
            }
            problems.append(
                Problem(
                    item.code,
                    ProblemKind.OUTSIDE_PARENT,
                    Msg(
                        "{level} {name} ({code}) reaches {area} m² outside its "
                        "{parent_level} {parent_code} near {lon}, {lat}; "
                        "trim it to the parent's boundary",
                        level=level.term,
                        name=_name(item),
                        code=item.code,
                        area=f"{area:.1f}",
                        parent_level=parent_level,
                        parent_code=item.parent_code,
                        **_near(detail),
                    ),
                    detail,
                )
            )

    # Holes in a parent not covered by any child.
    for parent_code, members in sorted(children.items()):
        covered = shapely.union_all(geoms[members])
        gaps = shapely.get_parts(shapely.difference(parents[parent_code], covered))
        gaps = gaps[shapely.get_type_id(gaps) == 3] if gaps.size else gaps
        areas = _sliver_areas_m2(gaps)
        for n, (geom, area) in enumerate(
            itertools.islice(
                sorted(zip(gaps, areas, strict=True), key=lambda g: -g[1]), _MAX_GAPS_PER_PARENT
            )
        ):
            if area <= gap_tolerance_m2:
                break
            detail = {"area_m2": round(float(area), 2), "gap_index": n, **_location(geom)}
            problems.append(
                Problem(
                    parent_code,
                    ProblemKind.GAP,
                    Msg(
                        "{parent_level} {parent_code}: {area} m² near {lon}, {lat} belongs "
                        "to no {level}; extend a neighbouring {level} or add one",
                        parent_level=parent_level,
                        parent_code=parent_code,
                        area=f"{area:.1f}",
                        level=level.term,
                        **_near(detail),
                    ),
                    detail,
                )
            )
    return problems


def _sliver_areas_m2(geoms: Any) -> Any:
    """Areas in m² of small WGS84 pieces: degree² × the ground size of a degree there.

    A straight edge in lon/lat is straight here, so a piece that is degenerate in lon/lat
    (a boundary and the same boundary with extra collinear vertices) measures ~0 m², as it
    should; projecting vertex by vertex would not. For pieces up to a district the error is
    that of treating a degree as constant across the piece (well under 1 %).
    """
    array = np.asarray(geoms, dtype=object)
    areas = np.zeros(array.shape, dtype=np.float64)
    present = ~shapely.is_missing(array) & ~shapely.is_empty(array)
    if not present.any():
        return areas
    parts = array[present]
    lat = np.radians(shapely.get_y(shapely.centroid(parts)))
    # Metres per degree of latitude and of longitude on the WGS84 ellipsoid.
    e2 = 6.69437999014e-3
    w = np.sqrt(1 - e2 * np.sin(lat) ** 2)
    per_lat = np.pi / 180 * 6378137.0 * (1 - e2) / w**3
    per_lon = np.pi / 180 * 6378137.0 * np.cos(lat) / w
    areas[present] = shapely.area(parts) * per_lat * per_lon
    return areas


# A parent cut into hundreds of gaps is one problem to its author; list the largest few.
_MAX_GAPS_PER_PARENT: Final = 50


def _usable_parent(geom: Any) -> bool:
    return (
        getattr(geom, "geom_type", None) in ("Polygon", "MultiPolygon")
        and not geom.is_empty
        and bool(geom.is_valid)
    )
