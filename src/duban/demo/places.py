"""The demo city's places: districts, streets, communities, unit grids, zones and routing.

Two sources, one result:

* **Real places** (``duban demo --places-data DIR`` or ``$DUBAN_DEMO_DATA``): the six
  districts of 许昌市 from ``xuchang-districts-gcj02.geojson`` (DataV/Amap boundaries in
  GCJ-02, converted to WGS84 on import), and the streets and communities of 魏都区 with
  their official codes and names from ``xuchang-towns-communities-adcode-gcj02.csv``
  (Vonng/adcode, CC BY 4.0). Those files have no street or community boundaries, so they
  are generated here: Voronoi cells around each street's (and community's) published point,
  clipped to the district (street); where a point is missing, a seed is placed in the
  emptiest part. Grids are generated from the communities.
* **A generated city** (the default; nothing is read from disk): a made-up district shape
  around central 许昌 with four made-up streets and sixteen communities, produced by this
  module. The package ships no boundary data.

In both, each street gets a territorial unit (属地), every street is a leader grid
(网格分包) with a leader, two made-up roads have road chiefs (路长制), two shopfronts have
their keepers (门前三包), and a few routing rules send cases to the demo's units.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit, User
from duban.accounts.users import create_unit
from duban.kernel.unitofwork import writing
from duban.places.coords import LocalProjection, from_local_metric, to_wgs84
from duban.places.grids import generate_grids_for
from duban.places.index import summary
from duban.places.models import Region
from duban.places.region_import import ImportReport, import_region_items, import_regions
from duban.places.regions import RegionInput, RegionLevel, english_place_name
from duban.places.routing import add_rule
from duban.places.territory import set_territorial_unit
from duban.places.zones import save_zone
from duban.reference.policy import load_policy

#: The demo city's centre (许昌市魏都区, WGS84); the sample cases are around it.
CENTRE_LON, CENTRE_LAT = 113.8166, 34.0297
DISTRICTS_FILE: Final = "xuchang-districts-gcj02.geojson"
COMMUNITIES_FILE: Final = "xuchang-towns-communities-adcode-gcj02.csv"
WEIDU: Final = "411002"
#: The demo's own unit for 西大街道 (411002001) in the real data.
XIDA_STREET: Final = "411002001"
XIDA_UNIT: Final = ("WDJD", "魏都区西大街街道办事处")

# The generated city: a made-up district shape and made-up streets (codes 9xx never clash
# with real street codes).
GENERATED_DISTRICT: Final = (WEIDU, "魏都区（示范）", "Weidu District (demo)")
GENERATED_STREETS: Final = [
    ("411002901", "文昌街道", (-2400.0, 1800.0)),
    ("411002902", "莲城街道", (900.0, 500.0)),  # the old town at the centre
    ("411002903", "春秋街道", (-1500.0, -2300.0)),
    ("411002904", "曹魏街道", (2300.0, -2000.0)),
]
GENERATED_COMMUNITY_SUFFIXES: Final = ("一社区", "二社区", "三社区", "四社区")
LEADERS: Final = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周涛",
                  "吴霞", "徐斌", "孙丽", "马骏"]  # fmt: skip


@dataclass
class DemoPlacesReport:
    """What was installed, and which parts are real."""

    mode: str  # "real" | "generated"
    lines: list[str] = field(default_factory=list)


def data_dir_from_env() -> Path | None:
    """``$DUBAN_DEMO_DATA`` as a path, if set."""
    value = os.environ.get("DUBAN_DEMO_DATA", "").strip()
    return Path(value) if value else None


# --------------------------------------------------------------------------- geometry helpers


def _polygonal(geom: Any) -> Any:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    return merged if merged.is_valid else shapely.make_valid(merged)


def _spread_seeds(
    boundary: Any, seeds: list[tuple[float, float]], wanted: int, scale: float
) -> list[tuple[float, float]]:
    """Add seeds inside ``boundary`` until there are ``wanted``, each in the emptiest spot."""
    seeds = list(seeds)
    if len(seeds) >= wanted:
        return seeds
    minx, miny, maxx, maxy = boundary.bounds
    xs, ys = np.meshgrid(np.linspace(minx, maxx, 40), np.linspace(miny, maxy, 40))
    candidates = np.column_stack([xs.ravel(), ys.ravel()])
    inside = shapely.contains_xy(boundary, candidates[:, 0], candidates[:, 1])
    candidates = candidates[inside]
    if candidates.size == 0:
        point = boundary.representative_point()
        candidates = np.array([[point.x, point.y]])
    while len(seeds) < wanted:
        if seeds:
            have = np.array(seeds)
            dx = (candidates[:, None, 0] - have[None, :, 0]) * scale
            dy = candidates[:, None, 1] - have[None, :, 1]
            best = int(np.argmax(np.min(dx * dx + dy * dy, axis=1)))
        else:
            best = len(candidates) // 2
        seeds.append((float(candidates[best, 0]), float(candidates[best, 1])))
    return seeds


def _voronoi(boundary: Any, seeds: Sequence[tuple[float, float]]) -> list[Any]:
    """Voronoi cells of ``seeds`` (lon/lat, distances as on the ground) clipped to ``boundary``.

    Neighbouring cells share their edges exactly, so the cells tile the boundary.
    """
    if len(seeds) == 1:
        return [boundary]
    scale = math.cos(math.radians(boundary.centroid.y))
    points = shapely.multipoints([(x * scale, y) for x, y in seeds])
    minx, miny, maxx, maxy = boundary.bounds
    frame = shapely.box(minx * scale - 1, miny - 1, maxx * scale + 1, maxy + 1)
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=frame, ordered=True))

    def unscale(coords: Any) -> Any:
        return np.column_stack([coords[:, 0] / scale, coords[:, 1]])

    cells = shapely.transform(cells, unscale)
    return [_polygonal(shapely.intersection(cell, boundary)) for cell in cells]


def _clean_name(name: str) -> str:
    for suffix in ("居民委员会", "居委会", "村民委员会", "村委会", "办事处"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------- the two sources


@dataclass
class _Street:
    code: str
    name: str
    seed: tuple[float, float] | None
    communities: list[tuple[str, str, tuple[float, float] | None]] = field(default_factory=list)


def _read_weidu(csv_path: Path) -> list[_Street]:
    """Streets and communities of 魏都区 from the adcode CSV (GCJ-02 points → WGS84)."""
    streets: dict[str, _Street] = {}
    communities: list[tuple[str, str, tuple[float, float] | None]] = []
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["code"]
            if not code.startswith(WEIDU):
                continue
            point = None
            if row.get("longitude") and row.get("latitude"):
                point = to_wgs84(float(row["longitude"]), float(row["latitude"]), "gcj02")
            if row["level"] == "town":
                streets[code[:9]] = _Street(code[:9], _clean_name(row["name"]), point)
            elif row["level"] == "village":
                communities.append((code, _clean_name(row["name"]), point))
    for code, name, point in communities:
        street = streets.get(code[:9])
        if street is not None:
            street.communities.append((code, name, point))
    return [streets[code] for code in sorted(streets)]


def _generated_city() -> tuple[Any, list[_Street]]:
    """A made-up district around the centre, ~67 km², and four streets of four communities."""
    projection = LocalProjection(CENTRE_LON, CENTRE_LAT)
    theta = np.linspace(0, 2 * math.pi, 97)[:-1]
    # A squarish shape (superellipse) that covers the demo's and the benchmarks' sample area
    # (113.82E 34.03N ± 0.03°) with room to spare.
    a, b = 4000.0, 4500.0
    r = (np.abs(np.cos(theta) / a) ** 4 + np.abs(np.sin(theta) / b) ** 4) ** -0.25
    r = r * (1 + 0.025 * np.sin(3 * theta + 0.7) + 0.015 * np.sin(7 * theta + 2.1))
    ring = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    district = from_local_metric(shapely.Polygon(ring), projection)
    streets = []
    for code, name, (x, y) in GENERATED_STREETS:
        lon, lat = projection.inverse_xy(x, y)
        street = _Street(code, name, (float(lon), float(lat)))
        short = name.removesuffix("街道")
        street.communities = [
            (f"{code}{k:03d}", f"{short}{suffix}", None)
            for k, suffix in enumerate(GENERATED_COMMUNITY_SUFFIXES, start=1)
        ]
        streets.append(street)
    return district, streets


# --------------------------------------------------------------------------- install


def _check(report: ImportReport) -> None:
    if not report.ok:
        details = "; ".join(p.message for p in report.problems[:5])
        raise RuntimeError(f"demo places: {report.summary()}: {details}")


def _unit(session: Session, code: str, name: str, kind: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    return unit or create_unit(session, code=code, name=name, kind=kind)


def check_data_dir(data_dir: Path) -> None:
    """Raise :class:`FileNotFoundError` unless ``data_dir`` has both Xuchang files."""
    missing = [n for n in (DISTRICTS_FILE, COMMUNITIES_FILE) if not (data_dir / n).exists()]
    if missing:
        raise FileNotFoundError(
            f"{data_dir} lacks {', '.join(missing)} (see shared/datasets/SOURCES.md)"
        )


def install_demo_places(
    session: Session, *, now: datetime, data_dir: Path | None = None
) -> DemoPlacesReport:
    """Install the demo's places once (nothing happens if any region exists).

    Raises:
        FileNotFoundError: ``data_dir`` was given but lacks the two Xuchang files.
    """
    if session.scalars(select(Region.id).limit(1)).first() is not None:
        return DemoPlacesReport(mode="existing", lines=["Places were already there; kept."])
    if data_dir is not None:
        check_data_dir(data_dir)
        report = _install_real(session, now=now, data_dir=data_dir)
    else:
        report = _install_generated(session, now=now)
    _install_zones_and_rules(session, now=now, report=report)
    counts = summary(session)
    names = {"district": "district", "street": "street", "community": "community",
             "grid": "unit grid", "leader_grid": "leader grid", "road_segment": "road segment",
             "shopfront": "shopfront"}  # fmt: skip

    def count(n: int, key: str) -> str:
        name = names[key]
        if n == 1:
            return f"1 {name}"
        return f"{n} {name[:-1] + 'ies' if name.endswith('y') else name + 's'}"

    report.lines.append(
        "Places: "
        + ", ".join(count(n, level) for level, n in counts.counts.items())
        + "; "
        + ", ".join(count(n, kind) for kind, n in sorted(counts.zones.items()))
    )
    return report


def _install_real(session: Session, *, now: datetime, data_dir: Path) -> DemoPlacesReport:
    report = DemoPlacesReport(mode="real")
    districts = import_regions(
        session,
        data_dir / DISTRICTS_FILE,
        level="district",
        code_field="adcode",
        name_field="name",
        parent_field="parent",  # DataV: '{ "adcode": 411000 }'
        crs="gcj02",
        repair=True,  # 建安区's boundary crosses itself in the DataV file
        now=now,
    )
    _check(districts)
    weidu_row = session.scalars(
        select(Region).where(Region.code == WEIDU, Region.valid_to.is_(None))
    ).one()
    weidu = shapely.from_wkb(bytes(weidu_row.geometry))
    streets = _read_weidu(data_dir / COMMUNITIES_FILE)
    _build_streets(session, now=now, district=weidu, streets=streets, source=COMMUNITIES_FILE)
    report.lines += [
        f"Real places from {data_dir}: the six districts of 许昌市 (DataV/Amap boundaries, "
        "GCJ-02 converted to WGS84) and the streets and communities of 魏都区 with their "
        "official codes and names (Vonng/adcode, CC BY 4.0).",
        "Generated: street and community boundaries (Voronoi cells around their published "
        "points, clipped to 魏都区), unit grids, zones, people and routing rules.",
    ]
    for warning in districts.warnings:
        report.lines.append(f"  ({warning})")
    return report


def _install_generated(session: Session, *, now: datetime) -> DemoPlacesReport:
    report = DemoPlacesReport(mode="generated")
    district, streets = _generated_city()
    code, name, name_en = GENERATED_DISTRICT
    _check(
        import_region_items(
            session,
            [RegionInput(code, name, "411000", district, name_en)],
            level="district",
            now=now,
            source="generated",
        )
    )
    _build_streets(session, now=now, district=district, streets=streets, source="generated")
    report.lines.append(
        "Generated demo city (no real boundaries): a made-up 魏都区 shape around central 许昌 "
        "with four made-up streets, sixteen communities, unit grids, zones and routing rules. "
        "Run `duban demo --places-data DIR` with the Xuchang files for real places."
    )
    return report


def _build_streets(
    session: Session, *, now: datetime, district: Any, streets: list[_Street], source: str
) -> None:
    with writing(session):
        scale = math.cos(math.radians(district.centroid.y))
        min_gap = 0.0006  # ~60 m: seeds closer than this would make slivers

        def usable(point: tuple[float, float] | None, inside: Any, taken: list[Any]) -> bool:
            if point is None or not shapely.contains_xy(inside, *point):
                return False
            return all(math.hypot((point[0] - x) * scale, point[1] - y) > min_gap for x, y in taken)

        # Street seeds: its own point, else the mean of its communities' points, else the
        # emptiest spot.
        seeds: list[tuple[float, float]] = []
        for street in streets:
            point = street.seed
            if not usable(point, district, seeds):
                known = [p for _, _, p in street.communities if p is not None]
                point = (
                    (sum(p[0] for p in known) / len(known), sum(p[1] for p in known) / len(known))
                    if known
                    else None
                )
            if not usable(point, district, seeds):
                point = _spread_seeds(district, seeds, len(seeds) + 1, scale)[-1]
            assert point is not None
            seeds.append(point)
        street_cells = _voronoi(district, seeds)
        street_items = [
            RegionInput(s.code, s.name, s.code[:6], cell, english_place_name(s.name))
            for s, cell in zip(streets, street_cells, strict=True)
        ]
        _check(
            import_region_items(
                session, street_items, level=RegionLevel.STREET, now=now, source=source
            )
        )
        community_items: list[RegionInput] = []
        for street, cell in zip(streets, street_cells, strict=True):
            if not street.communities:
                continue
            chosen: list[tuple[float, float]] = []
            community_seeds: list[tuple[float, float] | None] = [None] * len(street.communities)
            for k, (_, _, point) in enumerate(street.communities):
                if point is not None and usable(point, cell, chosen):
                    community_seeds[k] = point
                    chosen.append(point)
            extra = _spread_seeds(cell, chosen, len(street.communities), scale)[len(chosen) :]
            it = iter(extra)
            filled = [p if p is not None else next(it) for p in community_seeds]
            for (code, name, _), part in zip(
                street.communities, _voronoi(cell, filled), strict=True
            ):
                community_items.append(
                    RegionInput(code, name, street.code, part, english_place_name(name))
                )
        _check(
            import_region_items(
                session, community_items, level=RegionLevel.COMMUNITY, now=now, source=source
            )
        )
        generate_grids_for(session, now=now)
        # Territorial units (属地): one street office per street; 西大街道 is the demo's WDJD.
        for street in streets:
            code, name = (
                XIDA_UNIT
                if street.code == XIDA_STREET
                else (f"JD{street.code}", f"{street.name}办事处")
            )
            _unit(session, code, name, "territorial")
            set_territorial_unit(session, street.code, code)


def _install_zones_and_rules(session: Session, *, now: datetime, report: DemoPlacesReport) -> None:
    with writing(session):
        policy = load_policy(session).places
        projection = LocalProjection(CENTRE_LON, CENTRE_LAT)
        leader = session.scalars(select(User).where(User.username == "leader")).first()
        centre = shapely.Point(CENTRE_LON, CENTRE_LAT)
        streets = list(
            session.scalars(
                select(Region)
                .where(Region.level == "street", Region.valid_to.is_(None))
                .order_by(Region.code)
            )
        )
        # 网格分包: every street is a leader grid with a leader; the demo user `leader` leads
        # the one at the centre.
        for k, street in enumerate(streets):
            geom = shapely.from_wkb(bytes(street.geometry))
            is_centre = geom.covers(centre)
            save_zone(
                session,
                kind="leader_grid",
                code=f"WG{street.code}",
                name=f"{street.name}网格",
                geometry=geom,
                now=now,
                policy=policy,
                person_name=f"网格长 {LEADERS[k % len(LEADERS)]}",
                person_phone=f"1390374{k:04d}",
                username=leader.username if leader is not None and is_centre else None,
            )
        # 路长制: two made-up roads through the centre.
        roads = [
            ("LZ-001", "示范东西大道（魏武路段）", [(-2500.0, 150.0), (0.0, 0.0), (2600.0, -120.0)],
             "路长 郑国强", "13903740101"),
            ("LZ-002", "示范南北大街（文峰段）", [(-100.0, -2800.0), (60.0, 0.0), (0.0, 2900.0)],
             "路长 何丽", "13903740102"),
        ]  # fmt: skip
        for code, name, coords, person, phone in roads:
            line = from_local_metric(shapely.LineString(coords), projection)
            save_zone(
                session,
                kind="road_segment",
                code=code,
                name=name,
                geometry=line,
                now=now,
                policy=policy,
                person_name=person,
                person_phone=phone,
            )
        # 门前三包: two shopfronts on the east-west road.
        shops = [
            ("MQ-001", "示范大道 18 号 便民超市门前", (300.0, 0.0), "店主 钱多多", "13903740201"),
            ("MQ-002", "示范大道 26 号 老街烩面馆门前", (420.0, 0.0), "店主 孙小美", "13903740202"),
        ]
        for code, name, (x, y), person, phone in shops:
            frontage = from_local_metric(shapely.box(x - 40, y - 12, x + 40, y + 12), projection)
            save_zone(
                session,
                kind="shopfront",
                code=code,
                name=name,
                geometry=frontage,
                now=now,
                policy=policy,
                person_name=person,
                person_phone=phone,
            )
        # Routing rules: the demo's professional units by major class; everything else falls
        # to the street's territorial unit (属地兜底). One place rule shows specificity:
        # illegal small ads (E0201) in the centre's street go to its street office, with the
        # enforcement brigade helping.
        centre_street = next(
            (s for s in streets if shapely.from_wkb(bytes(s.geometry)).covers(centre)), None
        )
        rules: list[dict[str, Any]] = [
            {"category_code": "C01", "unit_code": "SZGC", "note": "公用设施 → 市政"},
            {"category_code": "C04", "unit_code": "YLC", "note": "园林绿化 → 园林"},
            {"category_code": "E01", "unit_code": "HWC", "note": "市容环境 → 环卫"},
            {"category_code": "E02", "unit_code": "ZFDD", "note": "宣传广告 → 执法"},
            {"category_code": "E05", "unit_code": "ZFDD", "note": "街面秩序 → 执法"},
        ]
        if centre_street is not None:
            territorial = session.scalars(
                select(Unit).where(
                    Unit.code.in_([XIDA_UNIT[0], f"JD{centre_street.code}"]),
                    Unit.kind == "territorial",
                )
            ).first()
            if territorial is not None:
                rules.append(
                    {
                        "category_code": "E0201",
                        "place_level": "street",
                        "place_code": centre_street.code,
                        "unit_code": territorial.code,
                        "helper_units": ["ZFDD"],
                        "note": "本街道小广告由街道牵头、执法配合",
                    }
                )
        for rule in rules:
            if session.scalars(select(Unit).where(Unit.code == rule["unit_code"])).first() is None:
                continue
            add_rule(session, now=now, **rule)
