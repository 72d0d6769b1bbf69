"""Base-map tile layers, as configured: presets by name (天地图, 高德, OpenStreetMap) and
layers of one's own, each with the coordinate system its tiles are drawn in.

Cases are stored in WGS84; on a GCJ-02 layer (高德, Tencent) the browser shifts what it
draws by the national offset, and a position picked on such a layer is sent back with
``crs=gcj02`` for the server to shift back. No layer configured: the grid-only map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

from duban.config import Settings

CRS_NAMES = ("wgs84", "gcj02")


@dataclass(frozen=True)
class TileLayer:
    """One base layer: what the layer switcher names, where its tiles come from."""

    name: str
    url: str
    subdomains: str = ""
    attribution: str = ""
    crs: str = "wgs84"
    max_zoom: int = 18
    overlays: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """What the page hands to Leaflet (``data-layers``)."""
        return {
            "name": self.name,
            "url": self.url,
            "subdomains": self.subdomains,
            "attribution": self.attribution,
            "crs": self.crs,
            "max_zoom": self.max_zoom,
            "overlays": list(self.overlays),
        }


def presets() -> dict[str, dict[str, Any]]:
    """The shipped presets (src/duban/data/tile_layers.yaml)."""
    text = resources.files("duban.data").joinpath("tile_layers.yaml").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return loaded


def _layer(item: Any, key: str | None, where: str) -> TileLayer:
    if isinstance(item, str):
        known = presets()
        if item not in known:
            raise ValueError(
                f"DUBAN_MAP_LAYERS: no preset '{item}'; known: {', '.join(sorted(known))}"
            )
        item = dict(known[item])
    if not isinstance(item, dict):
        raise ValueError(f"DUBAN_MAP_LAYERS {where}: a preset name or an object")
    if item.pop("key", None) == "tianditu" and not key:
        raise ValueError("DUBAN_MAP_LAYERS: the 天地图 layers need DUBAN_TIANDITU_KEY (tk)")
    url = str(item.get("url") or "")
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"DUBAN_MAP_LAYERS {where}: url must be an http(s) url template")
    if not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise ValueError(f"DUBAN_MAP_LAYERS {where}: url needs {{z}}, {{x}} and {{y}}")
    crs = str(item.get("crs") or "wgs84").lower()
    if crs not in CRS_NAMES:
        raise ValueError(f"DUBAN_MAP_LAYERS {where}: crs must be wgs84 or gcj02, not '{crs}'")

    def fill(template: str) -> str:
        return template.replace("{tk}", key or "")

    return TileLayer(
        name=str(item.get("name") or parts.netloc),
        url=fill(url),
        subdomains=str(item.get("subdomains") or ""),
        attribution=str(item.get("attribution") or ""),
        crs=crs,
        max_zoom=int(item.get("max_zoom") or 18),
        overlays=tuple(fill(str(o)) for o in item.get("overlays") or ()),
    )


@lru_cache(maxsize=16)
def _parse(
    text: str, key: str | None, url: str | None, crs: str, attribution: str
) -> tuple[TileLayer, ...]:
    text = text.strip()
    items: list[Any]
    if text.startswith("["):
        try:
            items = list(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"DUBAN_MAP_LAYERS is not valid JSON: {err}") from err
    else:
        items = [name.strip() for name in text.split(",") if name.strip()]
    layers = [_layer(item, key, f"layer {n}") for n, item in enumerate(items, 1)]
    if url:  # DUBAN_MAP_TILE_URL: a tile server of one's own, first
        layers.insert(
            0,
            _layer(
                {
                    "name": urlsplit(url).netloc or "tiles",
                    "url": url,
                    "crs": crs,
                    "attribution": attribution,
                    "max_zoom": 19,
                },
                key,
                "DUBAN_MAP_TILE_URL",
            ),
        )
    return tuple(layers)


def tile_layers(settings: Settings) -> tuple[TileLayer, ...]:
    """The configured base layers, first shown first; ValueError names a bad setting."""
    return _parse(
        settings.map_layers,
        settings.tianditu_key,
        settings.map_tile_url,
        settings.map_tile_crs,
        settings.map_tile_attribution,
    )


def layers_json(settings: Settings) -> str:
    """``data-layers`` of a map element."""
    return json.dumps([layer.as_json() for layer in tile_layers(settings)], ensure_ascii=False)


def map_crs(settings: Settings) -> str:
    """The system the first (shown) layer is drawn in; wgs84 without layers."""
    layers = tile_layers(settings)
    return layers[0].crs if layers else "wgs84"


def image_sources(settings: Settings) -> list[str]:
    """The tile hosts, for the Content-Security-Policy's ``img-src``."""
    hosts: list[str] = []
    for layer in tile_layers(settings):
        for url in (layer.url, *layer.overlays):
            parts = urlsplit(url.replace("{s}", "SUB"))
            host = parts.netloc
            first, _, rest = host.partition(".")
            if "SUB" in first:  # t{s}.tianditu.gov.cn -> *.tianditu.gov.cn
                host = f"*.{rest}"
            source = f"{parts.scheme}://{host}"
            if source not in hosts:
                hosts.append(source)
    return hosts
