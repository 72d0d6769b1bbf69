"""The public view's pages, no account needed: reports near a place (map and list), a
report's public page with its before and after photos (EXIF stripped), the Atom feed of
an area, and subscribing to an area by email (confirm, unsubscribe).

Nothing personal is shown: no reporter's name, phone or email (phone numbers and
addresses typed into a description are masked), no staff names or internal notes, and
places rounded to about 100 m on the map.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from duban.api.limits import limit_anonymous_report
from duban.cases import STATUS_LABELS, CasePhoto, CaseStatus, PublicCase, public_view
from duban.evidence import Photo
from duban.kernel.errors import InvalidInput, NotFound
from duban.places import Region, search_places
from duban.publicview.listing import (
    STATUS_GROUPS,
    PublicFilter,
    list_public,
    newest,
    public_case,
    public_map,
)
from duban.publicview.messages import text
from duban.publicview.policy import public_policy
from duban.publicview.rules import (
    Area,
    BadArea,
    FeedEntry,
    LinkPurpose,
    area_from_query,
    atom_feed,
    bbox_area,
    mask_contacts,
    parse_area,
)
from duban.publicview.subscriptions import (
    area_name,
    check_link,
    confirm_subscription,
    subscribe,
    unsubscribe,
)
from duban.reference import Category, load_policy
from duban.web import forms
from duban.web.context import Ctx, Form, WebContext, pages, photo_response

router = APIRouter(include_in_schema=False)

#: Where the public map opens without a place (the demo city, 许昌).
DEFAULT_CENTRE = (34.0297, 113.8166)
#: The stages of a case's photos anybody may see (a collector's check photos are not).
PUBLIC_STAGES = ("before", "after")


def _area(ctx: WebContext) -> Area | None:
    q = ctx.request.query_params
    # a bad area raises BadArea, an InvalidInput of the field ``area``
    return area_from_query(
        region=q.get("region", "")[:20],
        bbox=q.get("bbox", "")[:100],
        lat=q.get("lat", "")[:30],
        lon=q.get("lon", "")[:30],
        radius=q.get("radius", "")[:10],
        default_radius_m=public_policy().default_radius_m,
    )


def _filters(ctx: WebContext) -> PublicFilter:
    q = ctx.request.query_params
    status = q.get("status", "")
    known = set(STATUS_GROUPS) | {s.value for s in CaseStatus}
    return PublicFilter(
        category=q.get("category", "")[:12].strip(),
        status=status if status in known else "",
    )


def _box_of(ctx: WebContext, area: Area | None) -> tuple[float, float, float, float] | None:
    """``(south, west, north, east)`` for the map to show: the area's, a region's extent."""
    if area is None or area.region_code == "":
        return area.box() if area else None
    found = ctx.db.execute(
        select(Region.min_lat, Region.min_lon, Region.max_lat, Region.max_lon).where(
            Region.code == area.region_code, Region.valid_to.is_(None)
        )
    ).first()
    return (found[0], found[1], found[2], found[3]) if found else None


def _base(ctx: WebContext) -> str:
    return str(ctx.request.base_url).rstrip("/")


@router.get("/public")
@pages
def public_index(ctx: Ctx, q: str = "", after: str = "") -> Response:
    """Reports near a place: a map and a list, newest first, by category and status."""
    area = _area(ctx)
    hits = []
    query = q.strip()[:50]
    if area is None and query:
        hits = search_places(ctx.db, query)
        if hits:
            first = hits[0]
            area = parse_area(f"region:{first.code}")
    filters = _filters(ctx)
    policy = public_policy()
    page = list_public(ctx.db, policy=policy, area=area, filters=filters, cursor=after[:40])
    name = area_name(ctx.db, area, ctx.lang) if area else ""
    chosen = {"category": filters.category, "status": filters.status}
    extra = [urlencode({k: v}) for k, v in chosen.items() if v]
    area_query = area.query if area else ""
    list_query = "&".join(p for p in [area_query, *extra] if p)
    return ctx.render(
        "public/index.html",
        area=area,
        area_name=name,
        area_query=area_query,
        list_query=list_query,
        hits=hits,
        q=query,
        page=page,
        filters=filters,
        majors=ctx.db.scalars(
            select(Category).where(Category.level == 1, Category.is_active).order_by(Category.code)
        ).all(),
        status_groups=list(STATUS_GROUPS),
        centre=(area.lat, area.lon) if area and area.radius_m else DEFAULT_CENTRE,
        box=_box_of(ctx, area),
        after=after,
        area_params=[tuple(p.split("=", 1)) for p in area_query.split("&")] if area_query else [],
        status_labels_json=json.dumps(
            {s.value: STATUS_LABELS[s][1 if ctx.lang == "en" else 0] for s in CaseStatus},
            ensure_ascii=False,
        ),
    )


@router.get("/public/cases.json")
@pages
def public_cases_json(ctx: Ctx, bbox: str, zoom: int = 12) -> Response:
    """The public map's data: points zoomed in or few, else counts per cell."""
    try:
        box = bbox_area(bbox[:100])
    except BadArea as err:
        raise InvalidInput("A box is four numbers: west,south,east,north.", field="bbox") from err
    data = public_map(ctx.db, policy=public_policy(), box=box, zoom=zoom, filters=_filters(ctx))
    return ctx.respond(JSONResponse(data))


@router.get("/public/feed.atom")
@pages
def public_feed(ctx: Ctx) -> Response:
    """The Atom feed of an area (``region``, ``bbox`` or ``lat``/``lon``/``radius``; none:
    the whole city): its newest public reports first."""
    area = _area(ctx)
    policy = public_policy()
    rows = newest(ctx.db, policy=policy, area=area, limit=policy.feed_entries)
    base = _base(ctx)
    lang = ctx.lang
    name = area_name(ctx.db, area, lang) if area else text("all areas", lang)
    query = area.query if area else ""
    host = ctx.request.url.hostname or "duban"
    entries = [
        FeedEntry(
            id=f"tag:{host},2026:case:{r.code}",
            title=f"{r.code} {r.category_name if lang != 'en' else r.category_name_en}",
            link=f"{base}/public/{r.code}",
            updated=r.updated_at,
            published=r.created_at,
            summary=text(
                "{category} · {status} · {address}",
                lang,
                category=r.category_name if lang != "en" else r.category_name_en,
                status=STATUS_LABELS[r.status][1 if lang == "en" else 0],
                address=r.address,
            ),
            category=r.category_code,
        )
        for r in rows
    ]
    updated = max((r.updated_at for r in rows), default=datetime(2020, 1, 1, tzinfo=UTC))
    body = atom_feed(
        feed_id=f"tag:{host},2026:public:{area.spec if area else 'all'}",
        title=text("Reports in {area}", lang, area=name),
        self_link=f"{base}/public/feed.atom" + (f"?{query}" if query else ""),
        alternate_link=f"{base}/public" + (f"?{query}" if query else ""),
        updated=updated,
        entries=entries,
        lang=lang,
        tz=load_policy(ctx.db).tz,
    )
    return ctx.respond(
        Response(
            content=body,
            media_type="application/atom+xml; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )
    )


@router.post("/public/subscribe")
@pages
def public_subscribe(ctx: Ctx, form: Form) -> Response:
    """Ask for emails about new reports in an area: a confirmation link goes out first."""
    errors = forms.FieldErrors(ctx.lang)
    # Each request may send an email to any address: counted with the anonymous reports
    # of the same IP address (429 page over the limit).
    limit_anonymous_report(ctx.request, ctx.lang)
    spec = forms.text(form, "area", 120)
    email = forms.text(form, "email", 254)
    area = parse_area(spec)  # a bad one raises BadArea (InvalidInput, field "area")
    try:
        subscribe(  # the confirmation email is in the outbox with the subscription
            ctx.db,
            clock=ctx.clock,
            email=email,
            area=area,
            lang=ctx.lang,
            secret=ctx.request.app.state.secret_key,
            base_url=_base(ctx),
        )
    except InvalidInput as err:
        errors.add_error(err, "email")
        return ctx.render(
            "public/subscribe.html",
            status_code=422,
            area=area,
            area_name=area_name(ctx.db, area, ctx.lang),
            email=email,
            errors=errors.messages,
        )
    return ctx.render(
        "public/subscribed.html",
        area=area,
        area_name=area_name(ctx.db, area, ctx.lang),
        area_query=area.query,
    )


@router.get("/public/confirm/{token}")
@pages
def confirm_form(ctx: Ctx, token: str) -> Response:
    """The confirmation link: a button confirms (a mail scanner opening links does not)."""
    sub = check_link(
        ctx.db,
        secret=ctx.request.app.state.secret_key,
        purpose=LinkPurpose.CONFIRM,
        token=token,
        now=ctx.clock.now(),
    )
    area = parse_area(sub.area)
    return ctx.render(
        "public/confirm.html",
        action=f"/public/confirm/{token}",
        done=sub.confirmed_at is not None,
        area_name=area_name(ctx.db, area, ctx.lang),
        area_query=area.query,
        email=sub.email,
    )


@router.post("/public/confirm/{token}")
@pages
def confirm(ctx: Ctx, token: str, form: Form) -> Response:
    """Confirm the subscription (double opt-in)."""
    del form  # the CSRF token only
    sub = confirm_subscription(
        ctx.db, clock=ctx.clock, secret=ctx.request.app.state.secret_key, token=token
    )
    ctx.notice("Subscribed: you will get an email for each new report in the area.")
    return ctx.redirect(f"/public?{parse_area(sub.area).query}")


@router.get("/public/unsubscribe/{token}")
@pages
def unsubscribe_form(ctx: Ctx, token: str) -> Response:
    """The unsubscribe link of every alert: a button stops the emails."""
    sub = check_link(
        ctx.db,
        secret=ctx.request.app.state.secret_key,
        purpose=LinkPurpose.UNSUBSCRIBE,
        token=token,
        now=ctx.clock.now(),
    )
    area = parse_area(sub.area)
    return ctx.render(
        "public/unsubscribe.html",
        action=f"/public/unsubscribe/{token}",
        done=sub.unsubscribed_at is not None,
        area_name=area_name(ctx.db, area, ctx.lang),
        email=sub.email,
    )


@router.post("/public/unsubscribe/{token}")
@pages
def unsubscribe_post(ctx: Ctx, token: str, form: Form) -> Response:
    """Stop the emails of one subscription."""
    del form
    unsubscribe(ctx.db, clock=ctx.clock, secret=ctx.request.app.state.secret_key, token=token)
    ctx.notice("Unsubscribed: no more emails about this area.")
    return ctx.redirect(f"/public/unsubscribe/{token}")


def masked(view: PublicCase) -> PublicCase:
    """The public view with contacts typed into its texts masked, and no rating comment."""
    return replace(
        view,
        description=mask_contacts(view.description),
        rating_comment="",
        events=[
            replace(e, note=mask_contacts(e.note), reply=mask_contacts(e.reply))
            for e in view.events
        ],
    )


@router.get("/public/{case_code}")
@pages
def public_case_page(ctx: Ctx, case_code: str) -> Response:
    """A report's public page: category, place, status, the public timeline (units and
    their public replies) and the before and after photos (copies without EXIF)."""
    case = public_case(ctx.db, policy=public_policy(), case_code=case_code[:40])
    if case is None:
        raise NotFound("no public report has this case number")
    return ctx.render(
        "track.html",
        view=masked(public_view(ctx.db, case)),
        code="",
        is_new=False,
        errors={},
        photo_base=f"/public/{case.code}/photos/",
        rate_url="",
        not_fixed_url="",
    )


@router.get("/public/{case_code}/photos/{photo_id}")
@pages
def public_photo(ctx: Ctx, case_code: str, photo_id: str) -> Response:
    """A before or after photo of a public report: the copy without EXIF."""
    case = public_case(ctx.db, policy=public_policy(), case_code=case_code[:40])
    attached = (
        ctx.db.scalar(
            select(CasePhoto.id).where(
                CasePhoto.case_id == case.id,
                CasePhoto.photo_id == photo_id,
                CasePhoto.stage.in_(PUBLIC_STAGES),
            )
        )
        if case is not None
        else None
    )
    photo = ctx.db.get(Photo, photo_id) if attached is not None else None
    if photo is None:
        raise NotFound("no public report has this case number")
    return photo_response(ctx.request, photo.storage_key, photo.content_type, public=photo)
