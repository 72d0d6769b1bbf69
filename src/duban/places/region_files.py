"""Reading region files: GeoJSON, GeoPackage, Shapefile (anything GDAL reads, through
pyogrio) into features, with the file's CRS checked and GCJ-02 or BD-09 converted to
WGS84.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely

from duban.kernel.errors import InvalidInput, Msg
from duban.places.coords import CRS, to_wgs84_array

#: Geographic coordinate systems a file may declare (lon/lat in degrees).
_GEOGRAPHIC: Final = ("EPSG:4326", "EPSG:4490", "OGC:CRS84", "CRS84", "EPSG:4610")

#: Why GDAL could not read a file, as people read it (its own message goes to detail).
UNREADABLE = Msg("the file is damaged or in a format that cannot be read")


@dataclass(frozen=True)
class Feature:
    """One feature of a file: its properties and its geometry (shapely, file coordinates)."""

    index: int
    properties: Mapping[str, Any]
    geometry: Any


def _plain(value: Any) -> Any:
    """numpy values → JSON-safe Python values."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def read_features(
    path: str | Path, *, layer: str | None = None
) -> tuple[list[Feature], str | None, list[str], list[str]]:
    """Read a vector file: ``(features, declared CRS, field names, reader warnings)``.

    Raises:
        InvalidInput: the file cannot be read, or it has several layers and none was named.
    """
    import pyogrio  # deferred: GDAL is only needed to read files
    import pyogrio.raw

    path = Path(path)
    if not path.exists():
        raise InvalidInput(Msg("{path} does not exist", path=path), field="file")
    try:
        layers = pyogrio.list_layers(path)
    except Exception as err:  # GDAL raises its own errors for unreadable files
        raise InvalidInput(
            Msg("cannot read {path_name}: {err}", path_name=path.name, err=UNREADABLE),
            field="file",
            cause=str(err),
        ) from err
    names = [str(row[0]) for row in layers]
    if layer is None and len(names) > 1:
        raise InvalidInput(
            Msg(
                "{path_name} has {count} layers ({choices}); name one with --layer",
                path_name=path.name,
                count=len(names),
                choices=", ".join(names),
            ),
            field="layer",
        )
    if layer is not None and layer not in names:
        raise InvalidInput(
            Msg(
                "{path_name} has no layer '{layer}'; its layers: {choices}",
                path_name=path.name,
                layer=layer,
                choices=", ".join(names),
            ),
            field="layer",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta, _fids, geometry, field_data = pyogrio.raw.read(path, layer=layer, force_2d=True)
        except Exception as err:
            raise InvalidInput(
                Msg("cannot read {path_name}: {err}", path_name=path.name, err=UNREADABLE),
                field="file",
                cause=str(err),
            ) from err
    fields = [str(name) for name in meta["fields"]]
    crs = meta.get("crs")
    geoms = (
        shapely.from_wkb(np.array(list(geometry), dtype=object))
        if geometry is not None
        else np.full(len(field_data[0]) if field_data else 0, None, dtype=object)
    )
    count = len(geoms)
    columns = [[_plain(v) for v in column] for column in field_data]
    features = [
        Feature(i, {name: columns[k][i] for k, name in enumerate(fields)}, geoms[i])
        for i in range(count)
    ]
    return features, str(crs) if crs else None, fields, [str(w.message) for w in caught]


def code_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def to_wgs84_geometry(geom: Any, crs: CRS) -> Any:
    if crs is CRS.WGS84 or geom is None:
        return geom

    def convert(coords: Any) -> Any:
        x, y = to_wgs84_array(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([x, y])

    return shapely.transform(geom, convert)


def check_file_crs(declared: str | None, path: Path) -> None:
    if declared is None:
        return
    text = declared.upper()
    if any(name in text for name in _GEOGRAPHIC):
        return
    raise InvalidInput(
        Msg(
            "{path_name} is in the coordinate system {declared}, not "
            "longitude/latitude; Duban reads WGS84/CGCS2000 degrees (or "
            "GCJ-02/BD-09 with --crs). Reproject it first, e.g. `ogr2ogr -t_srs "
            "EPSG:4326 out.geojson in.shp`",
            path_name=path.name,
            declared=declared,
        ),
        field="crs",
    )
