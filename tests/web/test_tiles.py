"""Base-map layers as configuration: presets, layers of one's own, the 天地图 key, the
coordinate system of each, and the Content-Security-Policy that lets their tiles in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from duban.config import Settings
from duban.web.context import content_policy
from duban.web.tiles import image_sources, layers_json, map_crs, tile_layers
from tests.http import make_settings


def settings_with(tmp_path: Path, **values: object) -> Settings:
    return make_settings("sqlite://", tmp_path, **values)


def test_no_layer_configured_is_the_grid_only_map(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    assert tile_layers(settings) == ()
    assert layers_json(settings) == "[]"
    assert map_crs(settings) == "wgs84"
    assert "img-src 'self' data: blob:;" in content_policy(settings)


def test_presets_by_name_carry_their_system_key_and_hosts(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, map_layers="amap, tianditu ,osm", tianditu_key="K123")
    amap, tianditu, osm = tile_layers(settings)
    assert (amap.name, amap.crs, amap.subdomains, amap.max_zoom) == (
        "高德地图",
        "gcj02",
        "1234",
        18,
    )
    assert amap.url.startswith("https://webrd0{s}.is.autonavi.com/appmaptile?")
    assert tianditu.crs == "wgs84"
    assert tianditu.subdomains == "01234567"
    assert "LAYER=vec" in tianditu.url
    assert tianditu.url.endswith("tk=K123")
    assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in tianditu.url
    assert len(tianditu.overlays) == 1
    assert "LAYER=cva" in tianditu.overlays[0]
    assert osm.url == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "OpenStreetMap" in osm.attribution
    assert map_crs(settings) == "gcj02"  # the first layer is shown first
    policy = content_policy(settings)
    for host in (
        "https://*.is.autonavi.com",
        "https://*.tianditu.gov.cn",
        "https://tile.openstreetmap.org",
    ):
        assert host in policy
    assert image_sources(settings).count("https://*.tianditu.gov.cn") == 1
    data = json.loads(layers_json(settings))
    assert [d["name"] for d in data] == ["高德地图", "天地图 矢量", "OpenStreetMap"]
    assert set(data[0]) == {
        "name",
        "url",
        "subdomains",
        "attribution",
        "crs",
        "max_zoom",
        "overlays",
    }


def test_a_layer_of_ones_own_as_json_and_the_legacy_tile_url(tmp_path: Path) -> None:
    own = [
        {
            "name": "区划底图",
            "url": "https://{s}.gis.example.cn/{z}/{x}/{y}.png",
            "subdomains": "ab",
            "crs": "GCJ02",
            "max_zoom": 17,
        },
        "osm",
    ]
    settings = settings_with(
        tmp_path,
        map_layers=json.dumps(own),
        map_tile_url="https://tiles.city.example/{z}/{x}/{y}.png",
        map_tile_attribution="© 城市",
    )
    legacy, mine, osm = tile_layers(settings)
    assert (legacy.url, legacy.crs, legacy.attribution) == (
        "https://tiles.city.example/{z}/{x}/{y}.png",
        "wgs84",
        "© 城市",
    )
    assert (mine.name, mine.crs, mine.max_zoom) == ("区划底图", "gcj02", 17)
    assert osm.name == "OpenStreetMap"
    assert "https://*.gis.example.cn" in content_policy(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"map_layers": "tianditu"}, "DUBAN_TIANDITU_KEY"),
        ({"map_layers": "google"}, "no preset 'google'; known: amap, osm, tianditu"),
        ({"map_layers": '[{"url": "ftp://x/{z}/{x}/{y}"}]'}, "http(s) url template"),
        ({"map_layers": '[{"url": "https://x.example/tiles"}]'}, "{z}, {x} and {y}"),
        (
            {"map_layers": '[{"url": "https://x.example/{z}/{x}/{y}", "crs": "bd09"}]'},
            "crs must be wgs84 or gcj02",
        ),
        ({"map_layers": '[{"url": '}, "not valid JSON"),
        ({"map_layers": "[3]"}, "a preset name or an object"),
    ],
)
def test_a_bad_layer_setting_is_named(tmp_path: Path, values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        tile_layers(settings_with(tmp_path, **values))


def test_the_layers_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUBAN_MAP_LAYERS", "osm")
    monkeypatch.setenv("DUBAN_TIANDITU_KEY", "abc")
    settings = Settings(database_url="sqlite://")
    assert [layer.name for layer in tile_layers(settings)] == ["OpenStreetMap"]
    assert settings.tianditu_key == "abc"
