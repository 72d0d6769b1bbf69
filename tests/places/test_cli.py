"""The command line: import regions, generate grids, routing rules, locate."""

from __future__ import annotations

import json
from pathlib import Path

import shapely
from typer.testing import CliRunner

from duban.cli import app
from tests.places.conftest import NW, WEST, City, lonlat, rect, region_count


def write(path: Path, features: list[tuple[dict[str, str], object]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": p,
                        "geometry": json.loads(shapely.to_geojson(g)),
                    }
                    for p, g in features
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


def test_import_generate_route_and_locate(city: City, cli: CliRunner, tmp_path: Path) -> None:
    districts = write(
        tmp_path / "d.geojson",
        [({"adcode": "411002", "name": "魏都区"}, rect(-1000, -1000, 1000, 1000))],
    )
    result = cli.invoke(
        app,
        [
            "import",
            "regions",
            str(districts),
            "--level",
            "district",
            "--code-field",
            "adcode",
            "--name-field",
            "name",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    communities = write(
        tmp_path / "c.geojson", [({"code": NW, "name": "西北社区"}, rect(-1000, -1000, 1000, 1000))]
    )
    result = cli.invoke(
        app,
        [
            "import",
            "regions",
            str(communities),
            "--level",
            "community",
            "--code-field",
            "code",
            "--name-field",
            "name",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "no street regions" in result.output  # warned: parents not checked
    result = cli.invoke(app, ["grids", "generate", "--all", "--target-area", "40000"])
    assert result.exit_code == 0, result.output
    assert "100 grid(s) for 1 communit(ies): 100 new" in result.output
    result = cli.invoke(
        app,
        [
            "routing",
            "add",
            "--unit",
            "HWC",
            "--category",
            "E0102",
            "--place-level",
            "community",
            "--place",
            NW,
            "--helpers",
            "SZGC",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Exposed garbage · Xibei Community → " in result.output, result.output
    assert ", helped by " in result.output
    result = cli.invoke(app, ["routing", "list"])
    assert "rule #1" in result.output
    lon, lat = lonlat(-990, 990)
    result = cli.invoke(app, ["locate", str(lon), str(lat)])
    assert result.exit_code == 0, result.output
    assert f"{NW}001" in result.output
    assert "411002001" in result.output  # the street by its code, though not imported
    result = cli.invoke(app, ["routing", "remove", "1"])
    assert result.exit_code == 0, result.output


def test_a_refused_import_prints_the_problems_and_exits_1(
    city: City, cli: CliRunner, tmp_path: Path
) -> None:
    city.build(grids=False)
    bad = write(
        tmp_path / "s.geojson", [({"code": WEST, "name": "西"}, rect(-1200, -1000, 0, 1000))]
    )
    before = region_count(city.factory)
    result = cli.invoke(
        app,
        [
            "import",
            "regions",
            str(bad),
            "--level",
            "street",
            "--code-field",
            "code",
            "--name-field",
            "name",
        ],
    )
    assert result.exit_code == 1
    assert "outside its parent" in result.output
    assert "reaches 400000.0 m² outside its district 411002" in result.output
    assert "refused" in result.output
    assert region_count(city.factory) == before
    # An operator with a Chinese locale reads the problem in Chinese.
    args = ["import", "regions", str(bad), "--level", "street"]
    args += ["--code-field", "code", "--name-field", "name"]
    chinese = cli.invoke(app, args, env={"LC_ALL": "zh_CN.UTF-8"})
    assert chinese.exit_code == 1
    assert "超出上级范围" in chinese.output
    assert "街道“西”（411002001）" in chinese.output
    assert "超出所属区县 411002 400000.0 平方米" in chinese.output
    assert "outside" not in chinese.output
    result = cli.invoke(app, ["grids", "generate"])
    assert result.exit_code == 2
    result = cli.invoke(
        app,
        [
            "import",
            "regions",
            str(bad),
            "--level",
            "street",
            "--code-field",
            "nope",
            "--name-field",
            "name",
        ],
    )
    assert result.exit_code == 2
    assert "no field" in result.output


def test_zones_import_from_a_file(city: City, cli: CliRunner, tmp_path: Path) -> None:
    city.build()
    roads = write(
        tmp_path / "roads.geojson",
        [
            (
                {"id": "LZ-1", "road": "人民路", "chief": "路长 何丽", "tel": "139"},
                shapely.LineString([lonlat(-900, 0), lonlat(900, 0)]),
            )
        ],
    )
    result = cli.invoke(
        app,
        [
            "import",
            "zones",
            str(roads),
            "--kind",
            "road_segment",
            "--code-field",
            "id",
            "--name-field",
            "road",
            "--person-field",
            "chief",
            "--phone-field",
            "tel",
        ],
    )
    assert result.exit_code == 0, result.output
    lon, lat = lonlat(0, 10)
    result = cli.invoke(app, ["locate", str(lon), str(lat)])
    assert "路长 何丽" in result.output


def test_a_refused_zones_import_speaks_the_operators_language(
    city: City, cli: CliRunner, tmp_path: Path
) -> None:
    city.build()
    line = shapely.LineString([lonlat(-900, 0), lonlat(900, 0)])
    twice = write(
        tmp_path / "roads.geojson",
        [({"id": "LZ-1", "road": "人民路"}, line), ({"id": "LZ-1", "road": "人民路"}, line)],
    )
    args = ["import", "zones", str(twice), "--kind", "road_segment"]
    args += ["--code-field", "id", "--name-field", "road"]
    chinese = cli.invoke(app, args, env={"LC_ALL": "zh_CN.UTF-8"})
    assert chinese.exit_code == 1
    assert "第 2 个要素（LZ-1）：编码出现了不止一次" in chinese.output
    assert "已拒收：roads.geojson 的 2 个要素中有 1 处问题" in chinese.output
    english = cli.invoke(app, args, env={"LC_ALL": "C.UTF-8"})
    assert english.exit_code == 1
    assert "feature #2 (LZ-1): the code appears more than once" in english.output
