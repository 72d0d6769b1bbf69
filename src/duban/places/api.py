"""Places: locate a point, regions and zones for the map, nearby cases, routing rules.

``GET /cases/nearby`` lives here and this router is mounted before the cases router, so
that ``/cases/nearby`` is not taken for ``/cases/{case_id}``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.api.limits import request_lang, translate
from duban.api.schemas import CRS_DESCRIPTION
from duban.cases import CITY_WIDE, STATUS_LABELS, can_see, is_staff, nearby_cases
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.roles import Role
from duban.places.coords import to_wgs84_point
from duban.places.geojson import parse_bbox, regions_geojson, zones_geojson
from duban.places.grids import generate_grids_for
from duban.places.history import region_history
from duban.places.index import ZONE_LABELS, places_index
from duban.places.models import RoutingRule
from duban.places.presenters import ResponsibleRead, place_read, responsible_read
from duban.places.region_import import import_regions
from duban.places.regions import RegionLevel
from duban.places.routing import (
    add_rule,
    deactivate_rule,
    list_rules,
    rule_description,
)
from duban.places.schemas import (
    GenerateRequest,
    LocateRead,
    NearbyItem,
    NearbyRead,
    RegionVersionRead,
    RuleCreate,
    RuleRead,
    TerritorialRead,
    TerritorialSet,
    ZoneRead,
)
from duban.places.territory import set_territorial_unit, territorial_units
from duban.reference import load_policy

router = APIRouter(tags=["places"])

GEOJSON = "application/geo+json"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
ROUTING_READERS = frozenset({*CITY_WIDE, Role.HANDLER})


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(
            Msg(
                "only an administrator may change the map and routing (you are '{role}')",
                role=actor.role.value,
            )
        )


# --------------------------------------------------------------------------- locate


LatQuery = Annotated[float, Query(ge=-90, le=90, description="latitude in `crs`")]
LonQuery = Annotated[float, Query(ge=-180, le=180, description="longitude in `crs`")]
CrsQuery = Annotated[str, Query(max_length=16, description=CRS_DESCRIPTION)]


@router.get(
    "/locate", response_model=LocateRead, summary="Which grid, community, street and district"
)
def locate_point(
    session: SessionDep,
    actor: ActorDep,
    lat: LatQuery,
    lon: LonQuery,
    crs: CrsQuery = "wgs84",
) -> LocateRead:
    """The unit grid a point is in, and its community, street and district (codes and
    names), with the grid leader and road chief. GCJ-02 and BD-09 input is converted.
    404 when the point is outside every region Duban knows."""
    wlon, wlat = to_wgs84_point(lon, lat, crs)
    location = places_index(session).locate(wlon, wlat)
    if not location.found:
        raise NotFound(
            Msg(
                "the point {wlon:.6f}, {wlat:.6f} (WGS84; given as {lon}, {lat} in "
                "{crs}) is outside every grid, community, street and district known to "
                "Duban",
                wlon=wlon,
                wlat=wlat,
                lon=lon,
                lat=lat,
                crs=crs,
            ),
            lat=wlat,
            lon=wlon,
        )
    staff = is_staff(actor)  # names and phones of responsible people: staff only
    return LocateRead(
        lat=wlat,
        lon=wlon,
        input={"lat": lat, "lon": lon, "crs": crs},
        grid=place_read(location.grid),
        community=place_read(location.community),
        street=place_read(location.street),
        district=place_read(location.district),
        grid_leader=_contact(responsible_read(location.grid_leader), staff),
        road_chief=_contact(responsible_read(location.road_chief), staff),
        zones=[
            ZoneRead(
                code=z.code,
                kind=z.kind,
                kind_label=ZONE_LABELS[z.kind],
                name=z.name,
                person_name=z.person_name if staff else "",
                person_phone=z.person_phone if staff else None,
                username=z.username if staff else None,
                unit=z.unit_code,
            )
            for z in location.zones
        ],
    )


def _contact(read: ResponsibleRead | None, staff: bool) -> ResponsibleRead | None:
    """A responsible person as ``staff`` or a citizen may see them (no name, no phone)."""
    if read is None or staff:
        return read
    return read.model_copy(update={"name": "", "phone": None, "username": None})


_CONTACT_PROPERTIES = ("person_name", "person_phone", "username")


# --------------------------------------------------------------------------- regions & zones


@router.get(
    "/regions",
    summary="Regions as GeoJSON (for the map)",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
)
def regions(
    session: SessionDep,
    actor: ActorDep,
    level: Annotated[str | None, Query(description="district | street | community | grid")] = None,
    parent: Annotated[str | None, Query(max_length=32, description="parent code")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)")] = None,
    simplify: Annotated[
        float | None,
        Query(ge=0, le=1000, description="metres; default by level (grids: none)"),
    ] = None,
    crs: CrsQuery = "wgs84",
) -> JSONResponse:
    """The current regions of a level (and/or under a parent) as a FeatureCollection with
    ``code``, ``name``, ``level``, ``parent_code``, ``area_m2`` and ``valid_from``.
    Coordinates are WGS84 unless ``crs`` asks for gcj02 or bd09 (to draw on such tiles)."""
    collection = regions_geojson(
        session,
        level=level,
        parent=parent,
        bbox=parse_bbox(bbox),
        simplify_m=simplify,
        crs=crs,
    )
    return JSONResponse(collection, media_type=GEOJSON)


@router.get(
    "/regions/{code}/history",
    response_model=list[RegionVersionRead],
    summary="Every version of a region",
)
def history(code: str, session: SessionDep, actor: ActorDep) -> list[RegionVersionRead]:
    """A region's versions, oldest first (a redrawn grid keeps its history)."""
    rows = region_history(session, code)
    if not rows:
        raise NotFound(Msg("no region has the code '{code}'", code=code))
    return [
        RegionVersionRead(
            code=r.code,
            level=r.level,
            name=r.name,
            parent_code=r.parent_code,
            area_m2=r.area_m2,
            source=r.source,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
        )
        for r in rows
    ]


@router.get(
    "/zones",
    summary="Responsibility zones as GeoJSON",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
)
def zones(
    session: SessionDep,
    actor: ActorDep,
    kind: Annotated[str | None, Query(description="leader_grid | road_segment | shopfront")] = None,
    crs: CrsQuery = "wgs84",
) -> JSONResponse:
    """Leader grids (网格分包), road segments (路长制, as lines) and shopfront zones (门前三包)
    with their responsible people."""
    found = zones_geojson(session, kind=kind, crs=crs)
    if not is_staff(actor):  # who answers for a zone, and their phone: staff only
        for feature in found.get("features", []):
            properties = feature.get("properties") or {}
            for name in _CONTACT_PROPERTIES:
                if name in properties:
                    properties[name] = "" if name == "person_name" else None
    return JSONResponse(found, media_type=GEOJSON)


@router.post("/regions/import", summary="Import regions from a file (admin)")
def import_file(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage or a zipped Shapefile")],
    level: Annotated[str, Form(description="district | street | community | grid")],
    code_field: Annotated[str, Form()],
    name_field: Annotated[str, Form()],
    parent_field: Annotated[str | None, Form()] = None,
    crs: Annotated[str, Form(description=CRS_DESCRIPTION)] = "wgs84",
    layer: Annotated[str | None, Form()] = None,
    replace: Annotated[bool, Form()] = False,
    repair: Annotated[bool, Form()] = False,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Validate the whole file, then write it, or write nothing and answer 422 with the
    list of problems."""
    _require_admin(actor)
    name = Path(file.filename or "upload.geojson").name
    suffix = "".join(Path(name).suffixes[-2:]) or ".geojson"
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            Msg(
                "the file is larger than {MAX_UPLOAD_BYTES} bytes",
                MAX_UPLOAD_BYTES=MAX_UPLOAD_BYTES,
            ),
            field="file",
        )
    with tempfile.TemporaryDirectory(prefix="duban-import-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        report = import_regions(
            session,
            path,
            level=level,
            code_field=code_field,
            name_field=name_field,
            parent_field=parent_field or None,
            crs=crs,
            layer=layer or None,
            replace=replace,
            repair=repair,
            dry_run=dry_run,
            now=clock.now(),
        )
    report.source = name
    lang = request_lang(request)
    body = report.as_dict(render=lambda text: translate(text, lang))
    if not report.ok:
        raise InvalidInput(
            Msg(
                "refused: {count} problem(s) in {features} {level} feature(s) of {source}; "
                "nothing was written",
                count=len(report.problems),
                features=report.features,
                level=RegionLevel(report.level).term,
                source=report.source,
            ),
            field="file",
            code="import_refused",
            problems=body["problems"],
            problem_count=body["problem_count"],
            warnings=body["warnings"],
        )
    return body


@router.post("/grids/generate", summary="Generate unit grids for communities (admin)")
def generate(
    body: GenerateRequest, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> dict[str, Any]:
    """Cut communities into grids of about ``target_area_m2`` with 15-digit codes."""
    _require_admin(actor)
    report = generate_grids_for(
        session,
        now=clock.now(),
        community_codes=body.communities,
        target_area_m2=body.target_area_m2,
    )
    return {
        "summary": report.summary(),
        "communities": report.communities,
        "grids": report.grids,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "retired": report.retired,
        "skipped": [{"community": c, "reason": r} for c, r in report.skipped],
    }


@router.get(
    "/territorial-units",
    response_model=list[TerritorialRead],
    summary="Territorial units (属地) of regions",
)
def territorial(session: SessionDep, actor: ActorDep) -> list[TerritorialRead]:
    """Which unit answers for a street (or district) when no routing rule matches."""
    return [
        TerritorialRead(region=r, region_name=rn, unit=u, unit_name=un)
        for r, rn, u, un in territorial_units(session)
    ]


@router.put(
    "/territorial-units/{region_code}",
    response_model=TerritorialRead,
    summary="Set a region's territorial unit (admin)",
)
def set_territorial(
    region_code: str, body: TerritorialSet, session: SessionDep, actor: ActorDep
) -> TerritorialRead:
    """Make ``unit`` the territorial unit (属地兜底) of a street, district or community."""
    _require_admin(actor)
    set_territorial_unit(session, region_code, body.unit)
    for r, rn, u, un in territorial_units(session):
        if r == region_code:
            return TerritorialRead(region=r, region_name=rn, unit=u, unit_name=un)
    raise NotFound(
        Msg("region {region_code} has no territorial unit", region_code=region_code)
    )  # pragma: no cover


# --------------------------------------------------------------------------- nearby


@router.get(
    "/cases/nearby",
    response_model=NearbyRead,
    summary="Open and recently closed cases near a point (possible duplicates)",
)
def nearby(
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    lat: LatQuery,
    lon: LonQuery,
    crs: CrsQuery = "wgs84",
    category: Annotated[
        str | None, Query(max_length=32, description="subclass or major class code")
    ] = None,
    exclude: Annotated[int | None, Query(description="a case id to leave out")] = None,
) -> NearbyRead:
    """What FixMyStreet shows before a report is sent: at most 5 (the policy's
    ``places.nearby``) open or recently closed cases within the category's radius
    (250 m by default), nearest first. Citizens see no descriptions or addresses."""
    wlon, wlat = to_wgs84_point(lon, lat, crs)
    policy = load_policy(session)
    now = clock.now()
    found = nearby_cases(
        session,
        lat=wlat,
        lon=wlon,
        now=now,
        policy=policy.places.nearby,
        category_code=category or None,
        exclude_case_id=exclude,
    )
    staff = is_staff(actor)
    tz = policy.tz
    # Only the cases the caller may see are shown; the others are counted.
    shown = [item for item in found.items if can_see(actor, item.case)]
    return NearbyRead(
        lat=wlat,
        lon=wlon,
        radius_m=found.radius_m,
        open_since=found.open_since.astimezone(tz),
        closed_since=found.closed_since.astimezone(tz),
        items=[
            NearbyItem(
                id=item.case.id,
                code=item.case.code,
                status=item.case.status,
                status_label=STATUS_LABELS[item.case.status][0],
                category_code=item.case.category_code,
                distance_m=round(item.distance_m, 1),
                lat=item.case.lat,
                lon=item.case.lon,
                created_at=item.case.created_at.astimezone(tz),
                closed_at=item.case.closed_at.astimezone(tz) if item.case.closed_at else None,
                address=item.case.address if staff else None,
                description=item.case.description if staff else None,
            )
            for item in shown
        ],
        others=len(found.items) - len(shown),
    )


# --------------------------------------------------------------------------- routing rules


def _rule_read(session: Any, rule: RoutingRule, lang: str) -> RuleRead:
    return RuleRead(
        id=rule.id,
        category_code=rule.category_code,
        condition_code=rule.condition_code,
        place_level=rule.place_level,
        place_code=rule.place_code,
        unit=rule.unit.code,
        helper_units=list(rule.helper_units or []),
        priority=rule.priority,
        note=rule.note,
        is_active=rule.is_active,
        # Rendered for the caller (Accept-Language), from the rule itself: one path.
        description=translate(rule_description(session, rule), lang),
    )


@router.get(
    "/routing-rules",
    response_model=list[RuleRead],
    summary="Routing rules, most specific first",
)
def rules(request: Request, session: SessionDep, actor: ActorDep) -> list[RuleRead]:
    """Active rules in the order they are tried (see ``services/routing.py``)."""
    if actor.role not in ROUTING_READERS:
        raise PermissionDenied("routing rules are for city staff")
    lang = request_lang(request)
    return [_rule_read(session, rule, lang) for rule in list_rules(session)]


@router.post(
    "/routing-rules",
    response_model=RuleRead,
    status_code=201,
    summary="Add a routing rule (admin)",
)
def create_rule(
    request: Request, body: RuleCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> RuleRead:
    """(category or filing condition, place) → lead unit + helper units."""
    _require_admin(actor)
    rule = add_rule(
        session,
        unit_code=body.unit,
        helper_units=body.helper_units,
        category_code=body.category_code,
        condition_code=body.condition_code,
        place_level=body.place_level,
        place_code=body.place_code,
        priority=body.priority,
        note=body.note,
        now=clock.now(),
    )
    return _rule_read(session, rule, request_lang(request))


@router.delete(
    "/routing-rules/{rule_id}", status_code=204, summary="Switch a routing rule off (admin)"
)
def delete_rule(rule_id: int, session: SessionDep, actor: ActorDep) -> Response:
    """The rule stops matching; cases keep the reason they were given."""
    _require_admin(actor)
    deactivate_rule(session, rule_id)
    return Response(status_code=204)
