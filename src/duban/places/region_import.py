"""Importing regions (and zones) from files, all or nothing, with a report of every problem.

An import reads a file (:mod:`duban.places.region_files`), maps property names to code /
name / parent, and validates everything (:func:`duban.places.regions.validate_regions`)
before it writes: together with the regions of the same level already in the database,
against the parents in the database. A file with any problem is refused whole and
nothing is written; the report lists every problem. Writing keeps history
(:mod:`duban.places.history`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.kernel.errors import InvalidInput, Msg, Name
from duban.kernel.unitofwork import discard, writing
from duban.places.coords import CRS, UNKNOWN_CRS, approx_areas_m2
from duban.places.history import (
    IN_CHUNK,
    current_regions,
    region_geometry,
    same_geometry,
    write_versions,
)
from duban.places.index import ZONE_LABELS
from duban.places.models import Region
from duban.places.region_files import (
    Feature,
    check_file_crs,
    code_text,
    read_features,
    to_wgs84_geometry,
)
from duban.places.regions import (
    CODE_LENGTH,
    Problem,
    ProblemKind,
    RegionInput,
    RegionLevel,
    english_place_name,
    validate_regions,
)

MAX_PROBLEMS_SHOWN: Final = 200


@dataclass(frozen=True)
class ImportProblem:
    """Something that stops an import: the region, what is wrong (``kind``, stable for
    programs; ``text``, a catalogue message for people), and details."""

    code: str
    kind: str
    text: Msg
    detail: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, problem: Problem) -> ImportProblem:
        return cls(problem.code, problem.kind.value, problem.text, dict(problem.detail))

    @property
    def message(self) -> str:
        """The English."""
        return str(self.text)

    @property
    def heading(self) -> Msg:
        """The kind in a few words, for a column of a report."""
        if self.kind == RETIRE_WITH_CHILDREN:
            return Msg("would retire a region with children")
        return ProblemKind(self.kind).heading

    def as_dict(self, render: Callable[[Msg], str] = str) -> dict[str, Any]:
        """For programs; ``render`` writes the message in the reader's language."""
        return {
            "code": self.code,
            "kind": self.kind,
            "message": render(self.text),
            "detail": dict(self.detail),
        }


_LEVELS: Final = frozenset(level.value for level in RegionLevel)
#: The kind of problem of a region ``--replace`` would retire while it has children.
RETIRE_WITH_CHILDREN: Final = "retire_with_children"


@dataclass
class ImportReport:
    """What an import found and did. ``written`` is False whenever ``problems`` is not empty."""

    level: str
    source: str
    features: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    warnings: list[Msg] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """Whether the file passed validation."""
        return not self.problems

    def summary(self) -> str:
        """One line for people, in English (for programs: ``summary`` of :meth:`as_dict`)."""
        return str(self.summary_text())

    def summary_text(self) -> Msg:
        """One line for people, as a catalogue message each face renders."""
        level = RegionLevel(self.level).term if self.level in _LEVELS else self.level
        counts = {
            "level": level,
            "features": self.features,
            "source": self.source,
        }
        if self.problems:
            return Msg(
                "refused: {count} problem(s) in {features} {level} feature(s) of {source}; "
                "nothing was written",
                count=len(self.problems),
                **counts,
            )
        done = {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "retired": len(self.retired),
        }
        if self.dry_run:
            return Msg(
                "{level}: {features} feature(s) from {source} valid; would write: {created} "
                "new, {updated} redrawn (new version), {unchanged} unchanged, {retired} retired",
                **counts,
                **done,
            )
        return Msg(
            "{level}: {features} feature(s) from {source} valid; written: {created} new, "
            "{updated} redrawn (new version), {unchanged} unchanged, {retired} retired",
            **counts,
            **done,
        )

    def as_dict(self, render: Callable[[Msg], str] = str) -> dict[str, Any]:
        """For programs; ``render`` writes the problems' messages in the reader's language."""
        return {
            "level": self.level,
            "source": self.source,
            "features": self.features,
            "ok": self.ok,
            "written": self.written,
            "dry_run": self.dry_run,
            "summary": self.summary(),
            "problems": [p.as_dict(render) for p in self.problems[:MAX_PROBLEMS_SHOWN]],
            "problem_count": len(self.problems),
            "warnings": [render(w) for w in self.warnings],
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "retired": len(self.retired),
        }


def _polygonal(geom: Any) -> Any:
    """The polygonal part of a repaired geometry (make_valid may add lines and points)."""
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return shapely.Polygon()
    return shapely.union_all(polys)


def features_to_regions(
    features: Sequence[Feature],
    *,
    level: RegionLevel,
    code_field: str,
    name_field: str,
    parent_field: str | None,
    fields: Sequence[str],
    crs: CRS,
    repair: bool,
) -> tuple[list[RegionInput], list[dict[str, Any]], list[ImportProblem], list[Msg]]:
    """Map file features to regions: ``(regions, other attributes, problems, warnings)``."""
    missing = [
        f"--{what} '{name}'"
        for what, name in (
            ("code-field", code_field),
            ("name-field", name_field),
            ("parent-field", parent_field),
        )
        if name is not None and name not in fields
    ]
    if missing:
        raise InvalidInput(
            Msg(
                "the file has no field {choices}; its fields: {choices2}",
                choices=", ".join(missing),
                choices2=", ".join(fields),
            ),
            field="fields",
        )
    regions: list[RegionInput] = []
    attributes: list[dict[str, Any]] = []
    problems: list[ImportProblem] = []
    notes: list[Msg] = []
    parent_level = level.parent
    mapped = {code_field, name_field, parent_field}
    for feature in features:
        props = feature.properties
        code = code_text(props.get(code_field))
        name = code_text(props.get(name_field)) or code
        where = f"feature #{feature.index + 1}"
        if not code:
            problems.append(
                ImportProblem(
                    where,
                    ProblemKind.MALFORMED_CODE.value,
                    Msg(
                        "feature #{number} ({name}) has an empty '{field}'",
                        number=feature.index + 1,
                        name=name,
                        field=code_field,
                    ),
                    {},
                )
            )
            continue
        parent: str | None = None
        if parent_field is not None:
            parent = code_text(props.get(parent_field)) or None
        elif parent_level is not None and len(code) > CODE_LENGTH[parent_level]:
            # The code says it: a community code starts with its street's code.
            parent = code[: CODE_LENGTH[parent_level]]
        # DataV/Amap files give parents as JSON text, e.g. '{ "adcode": 411000 }'.
        if parent and parent.startswith("{") and "adcode" in parent:
            digits = "".join(ch for ch in parent if ch.isdigit())
            parent = digits or None
        geom = to_wgs84_geometry(feature.geometry, crs)
        if repair and geom is not None and not geom.is_empty and not geom.is_valid:
            fixed = _polygonal(shapely.make_valid(geom))
            if not fixed.is_empty and fixed.is_valid:
                # GEOS's English reason stays out of the sentence (as for the problems).
                notes.append(
                    Msg(
                        "{level} {name} ({code}): an invalid boundary was repaired",
                        level=level.term,
                        name=Name(name, english_place_name(name) if name else name),
                        code=code,
                    )
                )
                geom = fixed
        # A file names places in Chinese; the English face reads them in pinyin, as the
        # generated demo's do.
        regions.append(
            RegionInput(
                code=code,
                name=name,
                parent_code=parent,
                geometry=geom,
                name_en=english_place_name(name) if name else None,
            )
        )
        attributes.append({k: v for k, v in props.items() if k not in mapped and v is not None})
    return regions, attributes, problems, notes


def import_regions(
    session: Session,
    path: str | Path,
    *,
    level: RegionLevel | str,
    code_field: str,
    name_field: str,
    now: datetime,
    parent_field: str | None = None,
    crs: CRS | str = CRS.WGS84,
    layer: str | None = None,
    replace: bool = False,
    repair: bool = False,
    dry_run: bool = False,
    overlap_tolerance_m2: float = 1.0,
    gap_tolerance_m2: float = 1.0,
) -> ImportReport:
    """Import the regions of one level from a vector file (validated first; all or nothing).

    ``parent_field`` names the parent's code; without it a street's, community's or grid's
    parent is read from its code (the first 6, 9 or 12 digits). ``replace`` retires the
    current regions of this level under the same parents (all districts, for districts)
    that the file leaves out. ``repair`` mends invalid polygons (``make_valid``) and lists
    each repair as a warning; without it they are problems.

    Raises:
        InvalidInput: the file cannot be read at all (missing, several layers, a field
            that is not there, a projected coordinate system). Everything else is reported.
    """
    try:
        level = RegionLevel(level)
    except ValueError as err:
        known = " | ".join(lv.value for lv in RegionLevel)
        raise InvalidInput(
            Msg("unknown level {level!r}; one of: {known}", level=level, known=known), field="level"
        ) from err
    try:
        in_crs = CRS.parse(crs)
    except ValueError as err:
        raise InvalidInput(Msg(UNKNOWN_CRS, crs=crs), field="crs") from err
    path = Path(path)
    features, declared, fields, reader_notes = read_features(path, layer=layer)
    check_file_crs(declared, path)
    regions, attributes, problems, notes = features_to_regions(
        features,
        level=level,
        code_field=code_field,
        name_field=name_field,
        parent_field=parent_field,
        fields=fields,
        crs=in_crs,
        repair=repair,
    )
    report = import_region_items(
        session,
        regions,
        level=level,
        now=now,
        source=path.name,
        attributes=attributes,
        replace=replace,
        dry_run=dry_run,
        overlap_tolerance_m2=overlap_tolerance_m2,
        gap_tolerance_m2=gap_tolerance_m2,
        problems=problems,
    )
    report.features = len(features)
    # The file reader's own warnings are GDAL's English: shown as its words, in a sentence.
    read = [Msg("the file reader reported: {words}", words=note) for note in reader_notes]
    report.warnings[:0] = read + notes
    return report


def import_region_items(
    session: Session,
    items: Sequence[RegionInput],
    *,
    level: RegionLevel | str,
    now: datetime,
    source: str,
    attributes: Sequence[Mapping[str, Any]] | None = None,
    replace: bool = False,
    dry_run: bool = False,
    overlap_tolerance_m2: float = 1.0,
    gap_tolerance_m2: float = 1.0,
    problems: Sequence[ImportProblem] = (),
    validate: bool = True,
) -> ImportReport:
    """Validate regions of one level against the database, then write them (or nothing).

    The check runs over the file's regions together with the current regions of the same
    level that stay (those under the file's parents or near its extent), and against the
    current parents; see :func:`import_regions` for ``replace``.
    """
    level = RegionLevel(level)
    report = ImportReport(level=level.value, source=source, features=len(items))
    report.problems.extend(problems)
    report.dry_run = dry_run
    with writing(session):
        codes = {item.code for item in items}
        parents_in_file: set[str | None] = {item.parent_code for item in items if item.parent_code}
        existing = current_regions(session, level.value)
        by_code = {row.code: row for row in existing}
        if replace:
            retire = [
                row
                for row in existing
                if row.code not in codes
                and (level is RegionLevel.DISTRICT or row.parent_code in parents_in_file)
            ]
        else:
            retire = []
        retire_codes = {row.code for row in retire}

        if validate:
            staying = _neighbours(existing, items, codes | retire_codes, parents_in_file)
            check = list(items) + [
                RegionInput(row.code, row.name, row.parent_code, region_geometry(row))
                for row in staying
            ]
            parents, parent_note = _parents(session, level)
            if parent_note:
                report.warnings.append(parent_note)
            found = validate_regions(
                check,
                level=level,
                parents=parents,
                overlap_tolerance_m2=overlap_tolerance_m2,
                gap_tolerance_m2=gap_tolerance_m2,
            )
            report.problems.extend(ImportProblem.of(p) for p in found)
            report.problems.extend(_retire_problems(session, level, retire))

        if report.problems:
            discard(session)
            return report

        geoms = np.array([item.geometry for item in items], dtype=object)
        areas = approx_areas_m2(geoms) if len(items) else np.zeros(0)
        new_rows: list[dict[str, Any]] = []
        close: list[tuple[Region, datetime]] = []
        for item, area, attrs in zip(items, areas, attributes or [{}] * len(items), strict=True):
            row = by_code.get(item.code)
            wkb = shapely.to_wkb(item.geometry)
            if (
                row is not None
                and row.name == item.name
                and row.name_en == item.name_en
                and row.parent_code == item.parent_code
                and same_geometry(row.geometry, wkb)
            ):
                report.unchanged.append(item.code)
                continue
            (report.updated if row is not None else report.created).append(item.code)
            stamp = now
            if row is not None:
                stamp = max(now, row.valid_from + timedelta(microseconds=1))
                close.append((row, stamp))
            minx, miny, maxx, maxy = item.geometry.bounds
            new_rows.append(
                {
                    "code": item.code,
                    "level": level.value,
                    "name": item.name[:200],
                    "name_en": item.name_en[:200] if item.name_en else None,
                    "parent_code": item.parent_code,
                    "geometry": wkb,
                    "min_lon": minx,
                    "min_lat": miny,
                    "max_lon": maxx,
                    "max_lat": maxy,
                    "area_m2": float(area),
                    "attributes": dict(attrs),
                    "source": source[:200],
                    "valid_from": stamp,
                    "valid_to": None,
                }
            )
        report.retired = sorted(retire_codes)
        close.extend((row, max(now, row.valid_from)) for row in retire)
        if not dry_run:
            write_versions(session, close, new_rows, now)
        if dry_run:
            discard(session)
            return report
        session.flush()
        report.written = True
        return report


def _neighbours(
    existing: Sequence[Region],
    items: Sequence[RegionInput],
    leaving: set[str],
    parents_in_file: set[str | None],
) -> list[Region]:
    """Current regions that stay and could overlap the file's or share a parent with them."""
    usable = [
        item.geometry
        for item in items
        if item.geometry is not None and not getattr(item.geometry, "is_empty", True)
    ]
    if usable:
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(usable))
    else:
        minx = miny = math.inf
        maxx = maxy = -math.inf
    return [
        row
        for row in existing
        if row.code not in leaving
        and (
            row.parent_code in parents_in_file
            or (
                row.max_lon >= minx
                and row.min_lon <= maxx
                and row.max_lat >= miny
                and row.min_lat <= maxy
            )
        )
    ]


def _parents(session: Session, level: RegionLevel) -> tuple[dict[str, Any] | None, Msg | None]:
    parent_level = level.parent
    if parent_level is None:
        return None, None
    rows = current_regions(session, parent_level.value)
    if not rows:
        return None, (
            Msg(
                "there are no {parent} regions yet, so the {level} regions were not checked "
                "against their parents; import the {parent} level first to have that checked",
                parent=parent_level.term,
                level=level.term,
            )
        )
    return {row.code: region_geometry(row) for row in rows}, None


def _retire_problems(
    session: Session, level: RegionLevel, retire: Sequence[Region]
) -> list[ImportProblem]:
    """A region that would be retired while it still has current children."""
    child_level = _child_level(level)
    if child_level is None or not retire:
        return []
    codes = [row.code for row in retire]
    counts: dict[str, int] = {}
    for start in range(0, len(codes), IN_CHUNK):
        chunk = codes[start : start + IN_CHUNK]
        for (parent,) in session.execute(
            select(Region.parent_code).where(
                Region.level == child_level.value,
                Region.valid_to.is_(None),
                Region.parent_code.in_(chunk),
            )
        ):
            if parent is not None:
                counts[parent] = counts.get(parent, 0) + 1
    names = {row.code: Name(row.name, row.name_en) for row in retire}
    return [
        ImportProblem(
            code,
            RETIRE_WITH_CHILDREN,
            Msg(
                "{level} {name} ({code}) is not in the file, so --replace would retire it, "
                "but it still has {count} current {child_level} region(s); keep it in the "
                "file or replace its children first",
                level=level.term,
                name=names[code],
                code=code,
                count=count,
                child_level=child_level.term,
            ),
            {"children": count},
        )
        for code, count in sorted(counts.items())
    ]


def _child_level(level: RegionLevel) -> RegionLevel | None:
    levels = list(RegionLevel)
    i = levels.index(level)
    return levels[i + 1] if i + 1 < len(levels) else None


# --------------------------------------------------------------------------- zones from files


@dataclass
class ZoneImportReport:
    """What ``duban import zones`` found and did (all or nothing, like regions)."""

    kind: str
    source: str
    features: int = 0
    #: What is wrong, feature by feature, as catalogue messages.
    problems: list[Msg] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for people, in English."""
        return str(self.summary_text())

    def summary_text(self) -> Msg:
        """One line for people, as a catalogue message each face renders."""
        if self.problems:
            return Msg(
                "refused: {count} problem(s) in {features} feature(s) of {source}; "
                "nothing was written",
                count=len(self.problems),
                features=self.features,
                source=self.source,
            )
        return Msg(
            "{count} zone(s) of the kind {kind} saved from {source}",
            count=len(self.saved),
            kind=Name(ZONE_LABELS.get(self.kind, self.kind), self.kind.replace("_", " ")),
            source=self.source,
        )


def import_zones(
    session: Session,
    path: str | Path,
    *,
    kind: str,
    code_field: str,
    name_field: str,
    now: datetime,
    policy: Any,
    person_field: str | None = None,
    phone_field: str | None = None,
    user_field: str | None = None,
    buffer_m: float | None = None,
    crs: CRS | str = CRS.WGS84,
    layer: str | None = None,
) -> ZoneImportReport:
    """Import responsibility zones (leader grids, road segments, shopfronts) from a file.

    ``person_field`` / ``phone_field`` name the responsible person (网格长, 路长, 责任人);
    ``user_field`` a Duban username. Any bad feature refuses the whole file.
    """
    from duban.kernel.errors import DubanError
    from duban.places.zones import save_zone

    try:
        in_crs = CRS.parse(crs)
    except ValueError as err:
        raise InvalidInput(Msg(UNKNOWN_CRS, crs=crs), field="crs") from err
    path = Path(path)
    features, declared, fields, _notes = read_features(path, layer=layer)
    check_file_crs(declared, path)
    missing = [
        name
        for name in (code_field, name_field, person_field, phone_field, user_field)
        if name is not None and name not in fields
    ]
    if missing:
        raise InvalidInput(
            Msg(
                "the file has no field {choices}; its fields: {choices2}",
                choices=", ".join(missing),
                choices2=", ".join(fields),
            ),
            field="fields",
        )
    report = ZoneImportReport(kind=kind, source=path.name, features=len(features))
    with writing(session):
        seen: set[str] = set()
        for feature in features:
            props = feature.properties
            code = code_text(props.get(code_field))
            number = feature.index + 1
            if code in seen:
                report.problems.append(
                    Msg(
                        "feature #{number} ({code}): the code appears more than once",
                        number=number,
                        code=code,
                    )
                )
                continue
            seen.add(code)
            try:
                with session.begin_nested():
                    zone = save_zone(
                        session,
                        kind=kind,
                        code=code,
                        name=code_text(props.get(name_field)) or code,
                        geometry=to_wgs84_geometry(feature.geometry, in_crs),
                        now=now,
                        policy=policy,
                        buffer_m=buffer_m,
                        person_name=code_text(props.get(person_field)) if person_field else "",
                        person_phone=code_text(props.get(phone_field)) if phone_field else None,
                        username=code_text(props.get(user_field)) or None if user_field else None,
                    )
                report.saved.append(zone.code)
            except DubanError as err:
                report.problems.append(
                    Msg(
                        "feature #{number} ({code}): {problem}",
                        number=number,
                        code=code or "-",
                        problem=err.text,
                    )
                )
        if report.problems:
            discard(session)
            report.saved.clear()
        return report
