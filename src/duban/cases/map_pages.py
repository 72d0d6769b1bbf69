"""The one map (一张图): the page, and the JSON it draws from.

The page works on a blank background: cases (and grids and regions, where the places
module provides them) are the map. Base-map tiles are optional — ``DUBAN_MAP_LAYERS``
names presets (天地图, 高德 in GCJ-02, OpenStreetMap) or layers of one's own (see
duban.web.tiles); with none configured nothing is fetched from anywhere else.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from duban.cases.access import get_visible_case
from duban.cases.mapdata import (
    BBox,
    case_extent,
    grid_counts,
    major_classes,
    map_data,
    region_choices,
)
from duban.cases.pages import case_filter_from
from duban.cases.presenters import deadline_view
from duban.cases.workbench import active_units
from duban.cases.workflow import OPEN, STATUS_LABELS
from duban.evaluation import find_hotspots, hotspots_geojson
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.roles import Role
from duban.places import parse_bbox, regions_geojson
from duban.reference import Category, load_policy
from duban.web.context import Ctx, pages
from duban.web.tiles import CRS_NAMES, map_crs

router = APIRouter(include_in_schema=False)

MAP_ROLES = (
    Role.OPERATOR,
    Role.SHIFT_LEAD,
    Role.DISPATCHER,
    Role.HANDLER,
    Role.SUPERVISOR,
    Role.LEADER,
    Role.ADMIN,
    Role.COLLECTOR,
)
#: Where the map opens when there are no cases yet (the demo city, 许昌).
DEFAULT_CENTRE = (34.0297, 113.8166)
#: The period of the hotspot layer when the filters name none: the last 90 days.
HOTSPOT_DAYS = 90
#: Most regions one request draws (a screenful of unit grids is a few hundred).
REGIONS_MAX = 3000


@router.get("/map")
@pages
def map_page(ctx: Ctx) -> Response:
    """The one map with its filters."""
    actor = ctx.staff(*MAP_ROLES)
    bounds = case_extent(ctx.db, actor=actor)
    _filters, seen = case_filter_from(ctx.request, load_policy(ctx.db).tz)
    majors = major_classes(ctx.db)
    return ctx.render(
        "map.html",
        bounds=bounds,
        centre=DEFAULT_CENTRE,
        units=active_units(ctx.db),
        majors=majors,
        regions=region_choices(ctx.db),
        seen=seen,
        # Open cases unless the link asks otherwise: the map is about what is not done.
        statuses=ctx.request.query_params.getlist("status") or sorted(s.value for s in OPEN),
        sources=ctx.request.query_params.getlist("source"),
        status_labels={
            s.value: [label[1] if ctx.lang == "en" else label[0], label[2]]
            for s, label in STATUS_LABELS.items()
        },
    )


@router.get("/map/regions.json")
@pages
def regions_json(ctx: Ctx, level: str = "district", bbox: str = "", crs: str = "") -> Response:
    """Region outlines for the map's background; unit grids carry their case counts."""
    actor = ctx.staff(*MAP_ROLES)
    if level not in ("district", "street", "community", "grid"):
        raise InvalidInput("level must be district, street, community or grid", field="level")
    if crs and crs not in CRS_NAMES:
        raise InvalidInput("crs must be wgs84 or gcj02", field="crs")
    box = parse_bbox(bbox) if bbox else None
    if level in ("community", "grid") and box is None:
        raise InvalidInput("communities and grids need a bbox", field="bbox")
    collection = regions_geojson(
        ctx.db, level=level, bbox=box, crs=crs or map_crs(ctx.settings), limit=REGIONS_MAX
    )
    if level == "grid":
        filters, _seen = case_filter_from(ctx.request, load_policy(ctx.db).tz)
        codes = [f["properties"]["code"] for f in collection["features"]]
        counts = grid_counts(
            ctx.db, actor=actor, filters=filters, now=ctx.clock.now(), grid_codes=codes
        )
        for feature in collection["features"]:
            n, open_, late = counts.get(feature["properties"]["code"], (0, 0, 0))
            feature["properties"].update(cases=n, open=open_, overdue=late)
    return ctx.respond(JSONResponse(collection))


@router.get("/map/data.json")
@pages
def map_json(ctx: Ctx, bbox: str = "", zoom: int = 12) -> Response:
    """Points (zoomed in) or counts per cell (zoomed out) of the filtered cases."""
    actor = ctx.staff(*MAP_ROLES)
    filters, _seen = case_filter_from(ctx.request, load_policy(ctx.db).tz)
    try:
        box = BBox.parse(bbox) if bbox else None
    except ValueError as err:
        raise InvalidInput(
            Msg("the map box '{bbox}' is not west,south,east,north in degrees", bbox=bbox),
            field="bbox",
        ) from err
    data = map_data(ctx.db, actor=actor, filters=filters, now=ctx.clock.now(), bbox=box, zoom=zoom)
    return ctx.respond(JSONResponse(data))


@router.get("/map/cases/{case_id}/popup")
@pages
def case_popup(ctx: Ctx, case_id: int) -> Response:
    """A marker's popup: 案卷号 (linking to the case), category name, address, the
    status light and the time left."""
    actor = ctx.staff(*MAP_ROLES)
    case = get_visible_case(ctx.db, actor, case_id)
    category = ctx.db.get(Category, case.category_code)
    return ctx.render(
        "partials/map_popup.html",
        case=case,
        category=category,
        d=deadline_view(case, load_policy(ctx.db), ctx.clock.now()),
    )


@router.get("/map/hotspots.geojson")
@pages
def hotspots_json(ctx: Ctx) -> Response:
    """The hotspot layer (回潮): place × category that keeps coming back, as GeoJSON points,
    over the filters' dates (default: the last 90 days) and major class."""
    actor = ctx.staff(*MAP_ROLES)
    tz = load_policy(ctx.db).tz
    query = ctx.request.query_params
    today = ctx.clock.now().astimezone(tz).date()
    start = query.get("from") or (today - timedelta(days=HOTSPOT_DAYS)).isoformat()
    end = query.get("to") or (today + timedelta(days=1)).isoformat()
    found = find_hotspots(
        ctx.db,
        actor=actor,
        start=start,
        end=end,
        days=query.get("days"),
        category=query.get("category") or None,
    )
    return ctx.respond(JSONResponse(hotspots_geojson(found)))
