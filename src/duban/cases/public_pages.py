"""Citizens: 随手拍 without an account, the tracking page, rating and "not fixed".

Also the intake form of staff who report (an operator's hotline call, a collector's
patrol): the same form, with the fields their source needs.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field, replace

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from duban.api.limits import limit_anonymous_report, limit_uploads
from duban.cases.actions import NewCase, get_case, report_case
from duban.cases.casefile import photo_of_case
from duban.cases.intake import case_of_key
from duban.cases.models import Case
from duban.cases.nearby import nearby_cases
from duban.cases.public import (
    anonymous_citizen,
    normalize_code,
    public_view,
    rate_case,
    report_as_citizen,
    say_not_fixed,
    tracked_case,
)
from duban.cases.queries import CaseFilter, list_cases
from duban.cases.workflow import REPORT_SOURCES, Source
from duban.evidence import PhotoLimits, discard_photos
from duban.kernel.errors import Conflict, InvalidInput, NotFound
from duban.kernel.inputs import MAX_DESCRIPTION_CHARS
from duban.kernel.roles import Role
from duban.places import parse_bbox, regions_geojson, search_places
from duban.reference import category_tree, load_policy, search_categories
from duban.web import forms
from duban.web.context import Ctx, Form, WebContext, pages, photo_response
from duban.web.tiles import map_crs

router = APIRouter(include_in_schema=False)

#: The report map draws community outlines only for a box this small (square degrees).
REPORT_REGIONS_MAX_DEG2 = 0.01
#: ... and unit grids when it is smaller still (a few hundred metres across).
REPORT_GRIDS_MAX_DEG2 = 0.0001

#: The intake form's modes: who reports, and from which source by default.
MODE_OF_ROLE: dict[Role, str] = {
    Role.CITIZEN: "citizen",
    Role.COLLECTOR: "patrol",
    Role.OPERATOR: "hotline",
    Role.SHIFT_LEAD: "hotline",
    Role.SUPERVISOR: "hotline",
    Role.LEADER: "patrol",  # 分包领导, 路长 and 马路办公 report what they see on the street
    Role.ADMIN: "hotline",
}

#: A report form's token as sent back (``secrets.token_urlsafe(18)``).
FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{24}")


def new_form_token() -> str:
    """A report form's token: random, so without an account it is a key on its own."""
    return secrets.token_urlsafe(18)


@dataclass
class ReportForm:
    """The values of an intake form, kept to fill it in again after an error."""

    mode: str
    source: str = ""
    category: str = ""
    lat: str = ""
    lon: str = ""
    crs: str = "wgs84"
    address: str = ""
    description: str = ""
    name: str = ""
    phone: str = ""
    ticket: str = ""  # 12345 工单号 (hotline intake)
    photo_ids: list[str] = field(default_factory=list)
    #: This form's own token: the report's idempotency key (one form, one case).
    token: str = field(default_factory=new_form_token)


def _read_report(form: FormData, mode: str) -> ReportForm:
    return ReportForm(
        mode=mode,
        source=forms.text(form, "source", 20),
        category=forms.text(form, "category", 32),
        lat=forms.text(form, "lat", 40),
        lon=forms.text(form, "lon", 40),
        crs=forms.text(form, "crs", 10) or "wgs84",
        address=forms.text(form, "address", 300),
        description=forms.text(form, "description", MAX_DESCRIPTION_CHARS),
        name=forms.text(form, "name", 100),
        phone=forms.text(form, "phone", 32),
        ticket=forms.text(form, "ticket", 40),
        photo_ids=forms.texts(form, "photo_id")[:20],
        token=_form_token(form),
    )


def _form_token(form: FormData) -> str:
    sent = forms.text(form, "form_token", 64)
    return sent if FORM_TOKEN.fullmatch(sent) else new_form_token()


def _report_page(
    ctx: WebContext,
    values: ReportForm,
    errors: forms.FieldErrors | None = None,
    nearby: list[object] | None = None,
    status_code: int = 200,
) -> Response:
    sources = [Source.CITIZEN]
    if ctx.role is not None:
        sources = sorted(REPORT_SOURCES.get(ctx.role, frozenset()), key=list(Source).index)
    return ctx.render(
        "report.html",
        status_code=status_code,
        form=values,
        errors=(errors.messages if errors else {}),
        nearby=nearby or [],
        tree=category_tree(ctx.db),
        sources=sources,
        hits=search_categories(ctx.db, values.category) if values.category else [],
    )


def _mode(ctx: WebContext) -> str:
    return MODE_OF_ROLE.get(ctx.role, "citizen") if ctx.role else "citizen"


@router.get("/report")
@pages
def report_form(ctx: Ctx) -> Response:
    """随手拍 for citizens (no account needed); the intake form for staff who report."""
    if ctx.role is not None and ctx.role not in MODE_OF_ROLE:
        return ctx.redirect("/")
    mode = _mode(ctx)
    default = {"citizen": "citizen", "patrol": "patrol", "hotline": "hotline"}[mode]
    return _report_page(ctx, ReportForm(mode=mode, source=default))


@router.post("/report")
@pages
def report(ctx: Ctx, form: Form) -> Response:
    """Check the form, offer nearby open reports once, then create the case."""
    mode = _mode(ctx)
    values = _read_report(form, mode)
    errors = forms.FieldErrors(ctx.lang)
    where = forms.location(form, errors)
    if not values.category:
        errors.add("category", ctx.t("Please choose a category from the list."))
    if not values.description:
        errors.add("description", ctx.t("Please describe the problem."))
    try:
        source = Source(values.source or ("citizen" if mode == "citizen" else values.source))
    except ValueError:
        errors.add("source", ctx.t("Please choose where the report came from."))
        source = Source.CITIZEN
    policy = load_policy(ctx.db)
    anonymous = ctx.actor is None
    if anonymous:
        limit_anonymous_report(ctx.request, ctx.lang)  # 429 page when over the limit
    files = forms.uploads(form)
    for _file in files:
        limit_uploads(ctx.request, user_id=ctx.actor.user_id if ctx.actor else None, lang=ctx.lang)
    new_photos = forms.save_uploads(
        ctx.db,
        files,
        actor=ctx.actor or anonymous_citizen(),
        clock=ctx.clock,
        store=ctx.request.app.state.photo_store,
        limits=PhotoLimits(ctx.settings.max_photo_bytes, ctx.settings.max_photo_pixels),
        tz=policy.tz,
        errors=errors,
    )
    values.photo_ids += new_photos
    if anonymous and new_photos:
        ctx.state.update(ctx.state.data.uploaded(new_photos))
    if errors or where is None:
        _refuse_photos(ctx, values, new_photos, errors)
        return _report_page(ctx, values, errors, status_code=422)
    lat, lon = where
    if forms.text(form, "confirm", 5) != "1":
        nearby = nearby_cases(
            ctx.db,
            lat=lat,
            lon=lon,
            now=ctx.clock.now(),
            policy=policy.places.nearby,
            category_code=values.category,
        ).items
        if nearby:
            # Offer them first: "this is already reported — follow it instead".
            return _report_page(ctx, values, nearby=list(nearby))
    data = NewCase(
        source=source,
        category_code=values.category,
        lat=lat,
        lon=lon,
        address=values.address,
        description=values.description,
        reporter_name=values.name or None,
        reporter_phone=values.phone or None,
        photo_ids=tuple(values.photo_ids),
        hotline_ticket=(values.ticket or None) if source == Source.HOTLINE else None,
    )
    try:
        if source == Source.CITIZEN and (ctx.role is None or ctx.role == Role.CITIZEN):
            actor = ctx.actor or replace(
                anonymous_citizen(), uploads=frozenset(ctx.state.data.uploads)
            )
            receipt = report_as_citizen(
                ctx.db, clock=ctx.clock, data=data, actor=actor, form_token=values.token
            )
            if receipt.tracking_code is None:
                return _already_sent(ctx, receipt.case, new_photos)
            ctx.state.update(ctx.state.data.tracking(receipt.tracking_code))
            return ctx.redirect(f"/track/{receipt.tracking_code}?new=1")
        staff = ctx.staff()
        case, created = report_case(
            ctx.db, actor=staff, clock=ctx.clock, data=data, idempotency_key=values.token
        )
    except InvalidInput as err:
        errors.add_error(err)
        _refuse_photos(ctx, values, new_photos, errors)
        return _report_page(ctx, values, errors, status_code=422)
    except Conflict as err:
        first = case_of_key(ctx.db, actor=ctx.staff(), key=values.token)
        if err.code != "idempotency_key_reused" or first is None:
            raise
        return _already_sent(ctx, first, new_photos)
    if not created:
        return _already_sent(ctx, case, new_photos)
    ctx.notice("The report was filed as a new case.")
    return ctx.redirect(f"/cases/{case.id}")


def _already_sent(ctx: WebContext, case: Case, new_photos: list[str]) -> Response:
    """The form was sent before (Back, then submit): show the first case, make none."""
    if new_photos:
        discard_photos(ctx.db, ctx.request.app.state.photo_store, new_photos)
    ctx.notice("This form was already sent: here is the report it made.")
    if ctx.role is not None and ctx.role != Role.CITIZEN:
        return ctx.redirect(f"/cases/{case.id}")
    for code in ctx.state.data.tracked:
        try:
            if tracked_case(ctx.db, code).id == case.id:
                return ctx.redirect(f"/track/{code}")
        except NotFound:
            continue
    return ctx.redirect(f"/public/{case.code}")


def _refuse_photos(
    ctx: WebContext, values: ReportForm, new_photos: list[str], errors: forms.FieldErrors
) -> None:
    """A refused report keeps none of the photos it brought: they are deleted, and the
    form asks for them again (kept, they would be free storage for anyone)."""
    if not new_photos:
        return
    discard_photos(ctx.db, ctx.request.app.state.photo_store, new_photos)
    values.photo_ids = [p for p in values.photo_ids if p not in new_photos]
    errors.add("photos", ctx.t("The report was not sent: please attach the photos again."))


@router.get("/report/categories")
@pages
def category_search(ctx: Ctx, q: str = "") -> Response:
    """htmx: subclasses matching ``q`` (names, keywords, everyday words, pinyin), best
    first; none found says so and points to the tree of all categories."""
    q = q.strip()[:50]
    return ctx.render("partials/category_results.html", hits=search_categories(ctx.db, q), q=q)


@router.get("/report/places")
@pages
def place_search(ctx: Ctx, place_q: str = "") -> Response:
    """htmx: streets, communities and grids named like the caller's address."""
    return ctx.render("partials/place_results.html", hits=search_places(ctx.db, place_q[:50]))


@router.get("/report/regions.json")
@pages
def report_regions(ctx: Ctx, bbox: str) -> Response:
    """Community (or, close up, unit grid) outlines, so the report map is not blank.

    Public (the boundaries of communities and grids are no secret); no case data.
    """
    box = parse_bbox(bbox)
    assert box is not None
    if (box[2] - box[0]) * (box[3] - box[1]) > REPORT_REGIONS_MAX_DEG2:
        return ctx.respond(JSONResponse({"type": "FeatureCollection", "features": []}))
    area = (box[2] - box[0]) * (box[3] - box[1])
    collection = regions_geojson(
        ctx.db,
        level="grid" if area <= REPORT_GRIDS_MAX_DEG2 else "community",
        bbox=box,
        crs=map_crs(ctx.settings),
        limit=1000,
    )
    return ctx.respond(JSONResponse(collection))


@router.get("/report/nearby")
@pages
def nearby(ctx: Ctx, lat: str = "", lon: str = "", category: str = "") -> Response:
    """htmx: open reports near the chosen place (same category when chosen); nothing
    while no place is chosen yet (a category picked first asks too)."""
    try:
        at = (float(lat), float(lon))
    except ValueError:
        at = (math.nan, math.nan)
    if not all(math.isfinite(v) for v in at):
        return ctx.render("partials/nearby.html", nearby=[])
    found = nearby_cases(
        ctx.db,
        lat=at[0],
        lon=at[1],
        now=ctx.clock.now(),
        policy=load_policy(ctx.db).places.nearby,
        category_code=category or None,
    )
    return ctx.render("partials/nearby.html", nearby=found.items)


@router.get("/track")
@pages
def track_lookup(ctx: Ctx, code: str = "") -> Response:
    """Enter a tracking code."""
    if code:
        canonical = normalize_code(code)
        if canonical:
            return ctx.redirect(f"/track/{canonical}")
        return ctx.render(
            "track_lookup.html", status_code=404, code=code, error=ctx.t("Unknown code.")
        )
    return ctx.render("track_lookup.html", code="", error="")


def _track_page(
    ctx: WebContext, code: str, *, errors: forms.FieldErrors | None = None, status: int = 200
) -> Response:
    case = tracked_case(ctx.db, code)
    canonical = normalize_code(code)
    return ctx.render(
        "track.html",
        status_code=status,
        view=public_view(ctx.db, case),
        code=canonical,
        is_new=ctx.request.query_params.get("new") == "1",
        errors=errors.messages if errors else {},
        photo_base=f"/track/{canonical}/photos/",
        rate_url=f"/track/{canonical}/rate",
        not_fixed_url=f"/track/{canonical}/not-fixed",
    )


@router.get("/track/{code}")
@pages
def track(ctx: Ctx, code: str) -> Response:
    """The status page of a report: public timeline, photos, rating once closed."""
    return _track_page(ctx, code)


@router.post("/track/{code}/rate")
@pages
def rate(ctx: Ctx, code: str, form: Form) -> Response:
    """满意 / 基本满意 / 不满意 with a comment."""
    errors = forms.FieldErrors(ctx.lang)
    try:
        rate_case(
            ctx.db,
            clock=ctx.clock,
            code=code,
            rating=forms.text(form, "rating", 30),
            comment=forms.text(form, "note", 2000),
        )
    except InvalidInput as err:
        errors.add("rating", forms.translate(err.text, ctx.lang))
        return _track_page(ctx, code, errors=errors, status=422)
    except Conflict:
        errors.add("rating", ctx.t("Thank you — this report has already been rated."))
        return _track_page(ctx, code, errors=errors, status=409)
    ctx.notice("Thank you for your rating.")
    return ctx.redirect(f"/track/{normalize_code(code)}")


@router.post("/track/{code}/not-fixed")
@pages
def not_fixed(ctx: Ctx, code: str, form: Form) -> Response:
    """The problem is still there: goes to the supervision centre."""
    errors = forms.FieldErrors(ctx.lang)
    try:
        say_not_fixed(ctx.db, clock=ctx.clock, code=code, reason=forms.text(form, "reason", 2000))
    except InvalidInput as err:
        errors.add_error(err, "reason")
        return _track_page(ctx, code, errors=errors, status=422)
    ctx.notice("Sent to the supervision centre. Thank you.")
    return ctx.redirect(f"/track/{normalize_code(code)}")


@router.get("/track/{code}/photos/{photo_id}")
@pages
def track_photo(ctx: Ctx, code: str, photo_id: str) -> Response:
    """A photo of the tracked case."""
    case = tracked_case(ctx.db, code)
    photo = photo_of_case(ctx.db, case_id=case.id, photo_id=photo_id)
    return photo_response(ctx.request, photo.storage_key, photo.content_type, public=photo)


@router.get("/my")
@pages
def my_reports(ctx: Ctx) -> Response:
    """A signed-in citizen's reports."""
    actor = ctx.staff(Role.CITIZEN)
    listing = list_cases(
        ctx.db, actor=actor, filters=CaseFilter(), now=ctx.clock.now(), page_size=100
    )
    return ctx.render("my.html", rows=listing.rows, total=listing.total)


def citizen_case_page(
    ctx: WebContext, case_id: int, *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    """What a signed-in citizen sees of their own report: the public view and the rating."""
    case = get_case(ctx.db, actor=ctx.staff(Role.CITIZEN), case_id=case_id)
    return ctx.render(
        "track.html",
        status_code=status,
        view=public_view(ctx.db, case),
        code="",
        is_new=False,
        errors=errors or {},
        photo_base="/photos/",
        rate_url=f"/cases/{case.id}/act/rate",
        not_fixed_url=f"/cases/{case.id}/act/not_fixed",
    )
