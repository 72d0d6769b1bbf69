"""Importing regions from files: the happy path, history, and every refusal (all or nothing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from sqlalchemy import select

from duban.kernel.errors import InvalidInput
from duban.places.coords import from_wgs84_array
from duban.places.history import region_at, region_history
from duban.places.models import Region
from duban.places.region_import import import_regions
from duban.web.i18n import translate
from tests.places.conftest import (
    DISTRICT,
    EAST,
    NW,
    WEST,
    City,
    lonlat,
    rect,
    region_count,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
XUCHANG_DISTRICTS = SHARED / "xuchang-districts-gcj02.geojson"


def geojson(path: Path, features: list[tuple[dict[str, Any], Any]]) -> Path:
    """Write a FeatureCollection of (properties, shapely geometry)."""
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": props,
                        "geometry": json.loads(shapely.to_geojson(geom)),
                    }
                    for props, geom in features
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


def streets_file(tmp_path: Path, *extra: tuple[dict[str, Any], Any]) -> Path:
    return geojson(
        tmp_path / "streets.geojson",
        [
            ({"code": WEST, "name": "西区街道"}, rect(-1000, -1000, 0, 1000)),
            ({"code": EAST, "name": "东区街道"}, rect(0, -1000, 1000, 1000)),
            *extra,
        ],
    )


def district_only(city: City) -> None:
    from duban.places.region_import import import_region_items
    from duban.places.regions import RegionInput

    report = import_region_items(
        city.session,
        [RegionInput(DISTRICT, "魏都区", None, rect(-1000, -1000, 1000, 1000))],
        level="district",
        now=city.clock.now(),
        source="test",
    )
    assert report.written


def run(city: City, path: Path, level: str = "street", **kw: Any) -> Any:
    return import_regions(
        city.session,
        path,
        level=level,
        code_field=kw.pop("code_field", "code"),
        name_field=kw.pop("name_field", "name"),
        now=city.clock.now(),
        **kw,
    )


# --------------------------------------------------------------------------- happy paths


def test_a_geojson_file_is_imported_with_parents_from_the_codes(city: City, tmp_path: Path) -> None:
    district_only(city)
    report = run(city, streets_file(tmp_path))
    assert report.written, report.problems
    assert sorted(report.created) == [WEST, EAST]
    rows = city.session.scalars(select(Region).where(Region.level == "street")).all()
    assert {(r.code, r.parent_code, r.name) for r in rows} == {
        (WEST, DISTRICT, "西区街道"),
        (EAST, DISTRICT, "东区街道"),
    }
    for row in rows:
        assert row.valid_to is None
        assert row.area_m2 == pytest.approx(2_000_000, rel=1e-3)
        geom = shapely.from_wkb(row.geometry)
        assert (row.min_lon, row.min_lat, row.max_lon, row.max_lat) == geom.bounds


def test_a_second_import_of_the_same_file_changes_nothing(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = streets_file(tmp_path)
    run(city, path)
    again = run(city, path)
    assert again.written
    assert sorted(again.unchanged) == [WEST, EAST]
    assert not again.created
    assert not again.updated
    assert region_count(city.factory) == 3


def test_geopackage_and_shapefile_read_through_pyogrio(city: City, tmp_path: Path) -> None:
    import pyogrio.raw

    district_only(city)
    geoms = np.array(
        [shapely.to_wkb(rect(-1000, -1000, 0, 1000)), shapely.to_wkb(rect(0, -1000, 1000, 1000))],
        dtype=object,
    )
    fields = [
        np.array(["411002001", "411002002"], dtype=object),
        np.array(["西区街道", "东区街道"], dtype=object),
    ]
    gpkg = tmp_path / "streets.gpkg"
    pyogrio.raw.write(
        gpkg,
        geoms,
        fields,
        ["jdcode", "jdname"],
        geometry_type="Polygon",
        crs="EPSG:4490",
        layer="streets",
        driver="GPKG",
    )
    report = run(city, gpkg, code_field="jdcode", name_field="jdname")
    assert report.written
    assert sorted(report.created) == [WEST, EAST]

    shp = tmp_path / "streets.shp"
    pyogrio.raw.write(
        shp,
        geoms,
        fields,
        ["jdcode", "jdname"],
        geometry_type="Polygon",
        crs="EPSG:4326",
        driver="ESRI Shapefile",
        encoding="UTF-8",
    )
    again = run(city, shp, code_field="jdcode", name_field="jdname")
    assert again.ok, again.problems
    assert sorted(again.unchanged) == [WEST, EAST]


def test_gcj02_files_are_converted_to_wgs84(city: City, tmp_path: Path) -> None:
    district_only(city)
    west, east = rect(-1000, -1000, 0, 1000), rect(0, -1000, 1000, 1000)

    def to_gcj(geom: Any) -> Any:
        def convert(coords: Any) -> Any:
            x, y = from_wgs84_array(coords[:, 0], coords[:, 1], "gcj02")
            return np.column_stack([x, y])

        return shapely.transform(geom, convert)

    path = geojson(
        tmp_path / "gcj.geojson",
        [
            ({"code": WEST, "name": "西"}, to_gcj(west)),
            ({"code": EAST, "name": "东"}, to_gcj(east)),
        ],
    )
    # Read as WGS84 the file is ~600 m off and sticks out of the district: refused.
    wrong = run(city, path)
    assert not wrong.ok
    assert {p.kind for p in wrong.problems} >= {"outside_parent"}
    report = run(city, path, crs="gcj02")
    assert report.written, report.problems
    row = city.session.scalars(select(Region).where(Region.code == WEST)).one()
    stored = shapely.from_wkb(row.geometry)
    assert shapely.hausdorff_distance(stored, west) < 1e-9  # back to the original


def test_a_redrawn_region_keeps_its_history(city: City, tmp_path: Path) -> None:
    city.build()
    before = city.clock.now()
    city.clock.advance(days=1)
    # East street swaps 100 m with the west one: both are redrawn, the district unchanged.
    path = geojson(
        tmp_path / "streets.geojson",
        [
            ({"code": WEST, "name": "西区街道"}, rect(-1000, -1000, 100, 1000)),
            ({"code": EAST, "name": "东区街道（新）"}, rect(100, -1000, 1000, 1000)),
        ],
    )
    report = run(city, path)
    assert report.written, report.problems
    assert sorted(report.updated) == [WEST, EAST]
    history = region_history(city.session, EAST)
    assert [h.name for h in history] == ["东区街道", "东区街道（新）"]
    assert history[0].valid_to == history[1].valid_from == city.clock.now()
    assert region_at(city.session, EAST, before).name == "东区街道"  # type: ignore[union-attr]
    assert region_at(city.session, EAST, city.clock.now()).name == "东区街道（新）"  # type: ignore[union-attr]
    # The communities now reach outside their streets; that is a later import's business.
    assert report.warnings == []


def test_replace_retires_regions_the_file_leaves_out(city: City, tmp_path: Path) -> None:
    district_only(city)
    run(city, streets_file(tmp_path))
    only_one = geojson(
        tmp_path / "one.geojson",
        [({"code": WEST, "name": "全区街道"}, rect(-1000, -1000, 1000, 1000))],
    )
    report = run(city, only_one, replace=True)
    assert report.written, report.problems
    assert report.retired == [EAST]
    assert report.updated == [WEST]
    current = city.session.scalars(
        select(Region.code).where(Region.level == "street", Region.valid_to.is_(None))
    ).all()
    assert current == [WEST]


def test_replace_refuses_to_retire_a_region_with_children(city: City, tmp_path: Path) -> None:
    city.build(grids=False)
    only_one = geojson(
        tmp_path / "one.geojson",
        [({"code": WEST, "name": "全区街道"}, rect(-1000, -1000, 1000, 1000))],
    )
    before = region_count(city.factory)
    report = run(city, only_one, replace=True)
    assert not report.written
    assert [(p.kind, p.code) for p in report.problems] == [("retire_with_children", EAST)]
    assert region_count(city.factory) == before


def test_dry_run_validates_and_writes_nothing(city: City, tmp_path: Path) -> None:
    district_only(city)
    report = run(city, streets_file(tmp_path), dry_run=True)
    assert report.ok
    assert not report.written
    assert sorted(report.created) == [WEST, EAST]
    assert region_count(city.factory) == 1


# --------------------------------------------------------------------------- refusals


def refused(city: City, path: Path, level: str = "street", **kw: Any) -> list[tuple[str, str]]:
    """Import, expect a refusal with nothing written; the (kind, code) of the problems."""
    before = region_count(city.factory)
    report = run(city, path, level=level, **kw)
    assert not report.ok
    assert not report.written
    assert report.summary().startswith("refused")
    assert region_count(city.factory) == before
    return sorted((p.kind, p.code) for p in report.problems)


def bowtie(x0: float, y0: float, x1: float, y1: float) -> Any:
    return shapely.Polygon([lonlat(x0, y0), lonlat(x1, y1), lonlat(x1, y0), lonlat(x0, y1)])


def test_a_self_intersecting_polygon_refuses_the_file(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = geojson(
        tmp_path / "bad.geojson",
        [
            ({"code": WEST, "name": "西"}, bowtie(-1000, -1000, 0, 1000)),
            ({"code": EAST, "name": "东"}, rect(0, -1000, 1000, 1000)),
        ],
    )
    problems = refused(city, path)
    assert ("self_intersection", WEST) in problems
    # --repair mends it, and says so.
    report = run(city, path, repair=True)
    assert not any(p.kind == "self_intersection" for p in report.problems)
    assert any("repaired" in str(w) for w in report.warnings)
    assert any("无效边界已自动修复" in translate(w, "zh") for w in report.warnings)


def test_an_invalid_or_empty_geometry_refuses_the_file(city: City, tmp_path: Path) -> None:
    district_only(city)
    line = shapely.LineString([lonlat(0, 0), lonlat(10, 10)])
    path = geojson(
        tmp_path / "bad.geojson",
        [
            ({"code": WEST, "name": "西"}, line),
            ({"code": EAST, "name": "东"}, rect(0, -1000, 1000, 1000)),
        ],
    )
    assert ("invalid_geometry", WEST) in refused(city, path)


def test_overlapping_siblings_refuse_the_file(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = geojson(
        tmp_path / "overlap.geojson",
        [
            ({"code": WEST, "name": "西"}, rect(-1000, -1000, 50, 1000)),
            ({"code": EAST, "name": "东"}, rect(0, -1000, 1000, 1000)),
        ],
    )
    problems = refused(city, path)
    assert ("overlap", WEST) in problems


def test_an_overlap_with_a_region_already_imported_refuses_the_file(
    city: City, tmp_path: Path
) -> None:
    district_only(city)
    first = run(
        city,
        geojson(
            tmp_path / "w.geojson", [({"code": WEST, "name": "西"}, rect(-1000, -1000, 0, 1000))]
        ),
        gap_tolerance_m2=1e7,  # the east half comes later
    )
    assert first.written
    east = geojson(
        tmp_path / "e.geojson", [({"code": EAST, "name": "东"}, rect(-100, -1000, 1000, 1000))]
    )
    assert ("overlap", WEST) in refused(city, east)


def test_a_gap_between_siblings_refuses_the_file(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = geojson(
        tmp_path / "gap.geojson",
        [
            ({"code": WEST, "name": "西"}, rect(-1000, -1000, -20, 1000)),
            ({"code": EAST, "name": "东"}, rect(0, -1000, 1000, 1000)),
        ],
    )
    problems = refused(city, path)
    assert ("gap", DISTRICT) in problems
    # A gap below the tolerance is no problem.
    assert run(city, path, gap_tolerance_m2=50_000).written


def test_a_child_outside_its_parent_refuses_the_file(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = geojson(
        tmp_path / "out.geojson",
        [
            ({"code": WEST, "name": "西"}, rect(-1200, -1000, 0, 1000)),
            ({"code": EAST, "name": "东"}, rect(0, -1000, 1000, 1000)),
        ],
    )
    assert ("outside_parent", WEST) in refused(city, path)


def test_duplicate_and_malformed_codes_refuse_the_file(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = geojson(
        tmp_path / "codes.geojson",
        [
            ({"code": WEST, "name": "西"}, rect(-1000, -1000, 0, 0)),
            ({"code": WEST, "name": "西二"}, rect(-1000, 0, 0, 1000)),
            ({"code": "41100200X", "name": "坏"}, rect(0, -1000, 1000, 0)),
            ({"code": "４１１００２００３", "name": "全角"}, rect(0, 0, 1000, 1000)),
        ],
    )
    problems = refused(city, path)
    assert ("duplicate_code", WEST) in problems
    assert ("malformed_code", "41100200X") in problems
    assert ("malformed_code", "４１１００２００３") in problems


def test_a_parent_that_does_not_exist_or_does_not_match_refuses_the_file(
    city: City, tmp_path: Path
) -> None:
    district_only(city)
    path = geojson(
        tmp_path / "parents.geojson",
        [
            ({"code": WEST, "name": "西", "up": "411003"}, rect(-1000, -1000, 0, 1000)),
            ({"code": "411009002", "name": "东", "up": "411009"}, rect(0, -1000, 1000, 1000)),
        ],
    )
    problems = refused(city, path, parent_field="up")
    assert ("parent_mismatch", WEST) in problems
    assert ("unknown_parent", "411009002") in problems


def test_the_file_cannot_be_read_or_mapped(city: City, tmp_path: Path) -> None:
    district_only(city)
    path = streets_file(tmp_path)
    with pytest.raises(InvalidInput, match="no field --code-field 'jdcode'"):
        run(city, path, code_field="jdcode")
    with pytest.raises(InvalidInput, match="does not exist"):
        run(city, tmp_path / "missing.geojson")
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot read"):
        run(city, junk)
    with pytest.raises(InvalidInput, match="unknown coordinate system"):
        run(city, path, crs="mars")
    assert region_count(city.factory) == 1


def test_a_projected_file_is_refused_with_advice(city: City, tmp_path: Path) -> None:
    import pyogrio.raw

    district_only(city)
    square = shapely.box(500_000, 3_760_000, 501_000, 3_761_000)  # CGCS2000 / 3-degree GK
    path = tmp_path / "projected.gpkg"
    pyogrio.raw.write(
        path,
        np.array([shapely.to_wkb(square)], dtype=object),
        [np.array([WEST], dtype=object)],
        ["code"],
        geometry_type="Polygon",
        crs="EPSG:4547",
        driver="GPKG",
    )
    with pytest.raises(InvalidInput, match="ogr2ogr"):
        run(city, path, name_field="code")


def test_a_geopackage_with_several_layers_needs_a_layer(city: City, tmp_path: Path) -> None:
    import pyogrio.raw

    district_only(city)
    path = tmp_path / "two.gpkg"
    for layer, code, geom in (
        ("west", WEST, rect(-1000, -1000, 0, 1000)),
        ("east", EAST, rect(0, -1000, 1000, 1000)),
    ):
        pyogrio.raw.write(
            path,
            np.array([shapely.to_wkb(geom)], dtype=object),
            [np.array([code], dtype=object), np.array([code], dtype=object)],
            ["code", "name"],
            geometry_type="Polygon",
            crs="EPSG:4326",
            driver="GPKG",
            layer=layer,
            append=path.exists(),
        )
    with pytest.raises(InvalidInput, match="has 2 layers"):
        run(city, path)
    report = run(city, path, layer="west", gap_tolerance_m2=1e7)
    assert report.written
    assert report.created == [WEST]


def test_communities_without_streets_are_imported_with_a_warning(
    city: City, tmp_path: Path
) -> None:
    path = geojson(
        tmp_path / "c.geojson", [({"code": NW, "name": "西北"}, rect(-1000, 0, 0, 1000))]
    )
    report = run(city, path, level="community")
    assert report.written
    assert any("no street regions" in str(w) for w in report.warnings)
    # and in Chinese on the Chinese page (a catalogue message, not English written out)
    assert any("尚无街道" in translate(w, "zh") for w in report.warnings)


@pytest.mark.skipif(not XUCHANG_DISTRICTS.exists(), reason=f"{XUCHANG_DISTRICTS} is not there")
def test_the_real_xuchang_districts_import_from_gcj02(city: City) -> None:
    """DataV's 许昌 file: 建安区's boundary crosses itself; refused, then repaired."""
    problems = refused(
        city,
        XUCHANG_DISTRICTS,
        level="district",
        code_field="adcode",
        parent_field="parent",
        crs="gcj02",
    )
    assert problems == [("self_intersection", "411003")]
    report = run(
        city,
        XUCHANG_DISTRICTS,
        level="district",
        code_field="adcode",
        parent_field="parent",
        crs="gcj02",
        repair=True,
    )
    assert report.written
    assert sorted(report.created) == ["411002", "411003", "411024", "411025", "411081", "411082"]
    weidu = city.session.scalars(select(Region).where(Region.code == "411002")).one()
    assert weidu.name == "魏都区"
    assert weidu.area_m2 == pytest.approx(88.2e6, rel=0.01)
    # The DataV "parent" property is JSON text; its adcode becomes the parent code.
    assert weidu.parent_code == "411000"
    assert weidu.attributes["level"] == "district"


def test_names_read_from_a_file_get_their_english_in_pinyin(city: City, tmp_path: Path) -> None:
    """A real file names places in Chinese only; each gets the English the generated demo's
    places have, read by words (魏都 Weidu, not Weidou; 建安 Jian'an)."""
    path = geojson(
        tmp_path / "district.geojson",
        [({"code": DISTRICT, "name": "魏都区"}, rect(-1000, -1000, 1000, 1000))],
    )
    assert run(city, path, level="district").written
    assert run(city, streets_file(tmp_path)).written
    district = city.session.scalars(select(Region).where(Region.code == DISTRICT)).one()
    assert district.name_en == "Weidu District"
    west = city.session.scalars(select(Region).where(Region.code == WEST)).one()
    assert west.name_en == "Xiqu Subdistrict"


def test_place_names_are_spelled_by_words() -> None:
    from duban.places.regions import english_place_name

    assert english_place_name("魏都区") == "Weidu District"
    assert english_place_name("长葛市") == "Changge City"
    assert english_place_name("建安区") == "Jian'an District"
    assert english_place_name("成都市") == "Chengdu City"
    assert english_place_name("文昌一社区") == "Wenchang Community 1"
