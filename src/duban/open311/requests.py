"""Open311 service requests: POST requests (checking the form, then reporting the case),
tokens, and GET requests (the query, its paging, and the request views).

**A POST is a report.** It goes through :func:`duban.cases.actions.report_case`, the
same use case as the native API (numbering, step timer, event chain), acting for the
API key's client; what only Open311 carries (attributes, address_id, media URLs, the
token, contact details) is kept beside the case in ``open311_requests``.

**Privacy.** No view carries reporter contact details; they never leave the database
through Open311.

Errors are the project's (:mod:`duban.kernel.errors`); the API turns them into Open311's
error documents (404 unknown, 403 key, 400 everything else).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.cases import (
    STATUS_LABELS,
    TERMINAL,
    Case,
    CaseEvent,
    CaseFilter,
    CasePhoto,
    CaseStatus,
    NewCase,
    Source,
    apply_case_filter,
    report_case,
)
from duban.evidence import PhotoLimits, discard_photos, save_photo
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import DubanError, InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.parsing import parse_number, parse_whole
from duban.kernel.ports import PhotoStore
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.open311.apikeys import authenticate_key
from duban.open311.attributes import DefinitionView, check_attributes
from duban.open311.catalogue import active_service, attributes_of
from duban.open311.config import Live, Open311Config, check_jurisdiction, load_config
from duban.open311.models import ApiKey, Open311Request
from duban.open311.parsing import (
    check_description,
    check_media_urls,
    many_errors,
    parse_area,
    parse_point,
    parse_when,
)
from duban.open311.statuses import STATUS_TABLE, statuses_for
from duban.reference import Category
from duban.reference import TaxonomyCategory as Service

MAX_WINDOW: Final = timedelta(days=90)
_TICK: Final = timedelta(microseconds=1)
MAX_REQUESTS: Final = 1000
MAX_IDS: Final = 1000
NOT_PINPOINTED: Final = "#NOTPINPOINTED#"


# --------------------------------------------------------------------------- POST requests


@dataclass(frozen=True)
class RequestForm:
    """The arguments of POST requests as strings (empty ones already dropped)."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    attributes: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    media_urls: Sequence[str] = ()
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    crs: str | None = None  # extension: lat/long in gcj02 or bd09 (Chinese map apps)
    jurisdiction_id: str | None = None


@dataclass(frozen=True)
class Submitted:
    """The answer to a POST: an id (realtime) or a token (batch), never both."""

    service_request_id: str | None
    token: str | None
    service_notice: str | None
    account_id: str | None
    case: Case


def client_actor(key: ApiKey, role: Role = Role.OPERATOR) -> Actor:
    """The actor an API key's client acts as (its name is kept on the events), in the
    key's territory if it has one."""
    return Actor(
        user_id=None, username=f"open311:{key.name}", role=role, region_code=key.region_code
    )


def _locate(form: RequestForm, config: Open311Config) -> tuple[float, float, bool, str]:
    """(lat, lon, pinpointed, crs) from lat/long (in ``form.crs``; report_case converts
    them to WGS84), or the fallback point (WGS84) of a report that gives only an address."""
    point = parse_point(parse_number(form.lat, "lat"), parse_number(form.long, "long"))
    if point is not None:
        lat, lon = point  # in ``form.crs``: report_case converts it to WGS84
        pinpointed = (form.address_id or "") != NOT_PINPOINTED
        return lat, lon, pinpointed, form.crs or "wgs84"
    if not (form.address_string or form.address_id):
        raise InvalidInput(
            "a location is required: 'lat' and 'long', or 'address_string', or 'address_id'",
            field="lat",
        )
    fallback = config.fallback_point
    if fallback is None and config.area is not None:
        centre = parse_area(config.area).representative_point()
        fallback = (centre.y, centre.x)
    if fallback is None:
        raise InvalidInput(
            "this server cannot place an address on the map yet; send 'lat' and 'long'",
            field="address_string",
        )
    return fallback[0], fallback[1], False, "wgs84"


@dataclass(frozen=True)
class Uploads:
    """Photos sent as multipart files with a POST, and where to keep them."""

    files: Sequence[bytes]
    store: PhotoStore
    limits: PhotoLimits
    tz: ZoneInfo


def submit_request(
    session: Session,
    *,
    api_key: str | None,
    clock: Clock,
    form: RequestForm,
    uploads: Uploads | None = None,
) -> Submitted:
    """POST requests: check everything, then report the case through the native use case.

    Nothing is stored when a check fails. Uploaded photos are saved after the checks and
    before the case (as with the native API's photo upload); the case and its Open311
    details are written in one transaction.
    """
    key, live, category, checked = check_request(session, api_key=api_key, form=form)
    lat, lon, pinpointed, crs = _locate(form, live.config)
    actor = client_actor(key)
    photo_ids: list[str] = []
    try:
        if uploads is not None:
            for data in uploads.files:
                photo = save_photo(
                    session,
                    actor=actor,
                    clock=clock,
                    store=uploads.store,
                    data=data,
                    limits=uploads.limits,
                    tz=uploads.tz,
                )
                photo_ids.append(photo.id)
        condition = checked.get("condition")
        description = (form.description or "").strip() or category.name
        name = " ".join(
            p for p in ((form.last_name or "").strip(), (form.first_name or "").strip()) if p
        )
        with writing(session):  # the case and its Open311 details, or neither
            case, _ = report_case(
                session,
                actor=replace(actor, uploads=frozenset(photo_ids)),
                clock=clock,
                data=NewCase(
                    source=live.config.source,
                    category_code=category.code,
                    condition_code=condition if isinstance(condition, str) else None,
                    lat=lat,
                    lon=lon,
                    address=(form.address_string or "").strip()[:300],
                    description=description,
                    reporter_name=name[:100] or None,
                    reporter_phone=(form.phone or "").strip()[:32] or None,
                    photo_ids=tuple(photo_ids),
                    crs=crs,
                ),
            )
            if key.region_code and key.region_code not in (case.district_code, case.street_code):
                raise PermissionDenied(
                    Msg(
                        "this api_key reports only inside {region}; the location lies outside it",
                        region=key.region_code,
                    )
                )
            token = secrets.token_hex(16)
            contact = {
                k: v.strip()[:200]
                for k, v in (
                    ("email", form.email),
                    ("device_id", form.device_id),
                    ("account_id", form.account_id),
                    ("first_name", form.first_name),
                    ("last_name", form.last_name),
                    ("phone", form.phone),
                )
                if v and v.strip()
            }
            session.add(
                Open311Request(
                    case_id=case.id,
                    channel="open311",
                    api_key_id=key.id,
                    token=token,
                    service_code=category.code,
                    address_id=(form.address_id or "").strip()[:200] or None,
                    is_pinpointed=pinpointed,
                    attributes=checked,
                    media_urls=check_media_urls(form.media_urls),
                    contact=contact,
                    extra={},
                    created_at=clock.now(),
                )
            )
    except BaseException:
        # A refused report keeps none of the photos it brought (nothing else refers
        # to them; kept, they would be free storage for anyone).
        if uploads is not None and photo_ids:
            discard_photos(session, uploads.store, photo_ids)
        raise

    batch = live.config.service_type == "batch"
    notice = (
        f"已受理，案卷号 {case.code}；先核实再立案 — received as case {case.code}; "
        "it is verified on site before it is filed"
    )
    return Submitted(
        service_request_id=None if batch else case.code,
        token=token if batch else None,
        service_notice=notice,
        account_id=contact.get("account_id"),
        case=case,
    )


def check_request(
    session: Session, *, api_key: str | None, form: RequestForm
) -> tuple[ApiKey, Live, Service, dict[str, str | list[str]]]:
    """Everything about a POST that can be refused before anything is stored.

    Order of the checks: the jurisdiction (404), the key (403), the service (404), then
    the arguments (400).
    """
    live = load_config(session)
    check_jurisdiction(live.config, form.jurisdiction_id)
    key = authenticate_key(session, api_key)
    category = active_service(session, form.service_code)
    # The conditions (one more query) matter only when an attribute listing them is
    # required or given; an attribute neither required nor given checks nothing.
    needed = any(
        s.values_from_conditions and (s.required or s.code in form.attributes)
        for s in live.config.attributes
    )
    conditions = category.conditions if needed else ()
    definition = DefinitionView(category.code, attributes_of(live.config, category, conditions))
    errors: list[DubanError] = []
    checked: dict[str, str | list[str]] = {}
    try:
        checked = check_attributes(definition, form.attributes)
    except InvalidInput as err:
        errors.extend(InvalidInput(m) for m in err.detail.get("errors") or [err.message])
    for check in (
        lambda: _locate(form, live.config),
        lambda: check_media_urls(form.media_urls),
        lambda: check_description(form.description),
    ):
        try:
            check()
        except InvalidInput as err:
            errors.append(err)
    if errors:
        raise many_errors(errors)
    return key, live, category, checked


@dataclass(frozen=True)
class TokenView:
    """GET tokens/{token}: the id once the request exists."""

    token: str
    service_request_id: str | None


def lookup_token(session: Session, token: str) -> TokenView:
    """The request a token stands for (404 for an unknown token)."""
    row = session.execute(
        select(Open311Request.token, Case.code)
        .join(Case, Case.id == Open311Request.case_id)
        .where(Open311Request.token == token.strip())
    ).first()
    if row is None:
        raise NotFound(Msg("unknown token '{token}'", token=token))
    return TokenView(token=str(row[0]), service_request_id=row[1])


# --------------------------------------------------------------------------- GET requests


@dataclass(frozen=True)
class RequestView:
    """One service request as Open311 shows it (never with contact details)."""

    service_request_id: str
    status: str
    status_extended: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    photo_ids: tuple[str, ...]
    media_urls: tuple[str, ...]
    # Our extra fields (``extensions=true`` and the bulk layout).
    case_id: int
    duban_status: CaseStatus
    source: Source
    kind: str
    group: str
    condition_code: str | None
    unit_code: str | None
    grid_code: str | None
    rework_count: int
    is_supervised: bool
    closed_datetime: datetime | None
    attributes: Mapping[str, Any]
    channel: str | None


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests, parsed: a :class:`CaseFilter` (ids, service codes,
    statuses, bbox), the asked-for window (settled at query time: 90 days at most, the
    last 90 by default) and the page."""

    filters: CaseFilter = field(default_factory=CaseFilter)
    start: datetime | None = None
    end: datetime | None = None  # inclusive, as the spec has it
    #: Extension (the district's pull): cases changed at or after this instant, oldest
    #: change first, with no 90-day window; ``agency_responsible`` narrows to one unit.
    updated_after: datetime | None = None
    page: int = 1
    page_size: int = MAX_REQUESTS


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(p for p in (x.strip() for x in (value or "").split(",")) if p)


def window(
    start: datetime | None, end: datetime | None, now: datetime, name: str = "date"
) -> tuple[datetime, datetime]:
    """The spec's window: at most 90 days; the most recent 90 days by default."""
    if start is None and end is None:
        return now - MAX_WINDOW, now
    if start is None:
        assert end is not None
        return end - MAX_WINDOW, end
    if end is None:
        return start, start + MAX_WINDOW
    if end < start:
        raise InvalidInput(Msg("end_{name} is before start_{name}", name=name), field=f"end_{name}")
    if end - start > MAX_WINDOW:
        raise InvalidInput(
            Msg("start_{name} to end_{name} may not span more than 90 days", name=name),
            field=f"end_{name}",
        )
    return start, end


def parse_request_query(params: Mapping[str, str], *, tz: tzinfo) -> RequestQuery:
    """GET requests' arguments (empty ones already dropped) into a :class:`RequestQuery`."""
    ids = _csv(params.get("service_request_id"))
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            Msg("at most {MAX_IDS} service_request_id values", MAX_IDS=MAX_IDS),
            field="service_request_id",
        )
    statuses: frozenset[CaseStatus] = frozenset()
    words = _csv(params.get("status"))
    if words:
        statuses = frozenset().union(*(statuses_for(w) for w in words))
    bbox = None
    if params.get("bbox"):
        parts = params["bbox"].split(",")
        numbers = [parse_number(p, "bbox") for p in parts]
        if len(numbers) != 4 or any(n is None for n in numbers):
            raise InvalidInput("bbox is min_long,min_lat,max_long,max_lat", field="bbox")
        a, b, c, d = (float(n) for n in numbers if n is not None)
        if a > c or b > d:
            raise InvalidInput("bbox corners are swapped", field="bbox")
        bbox = (a, b, c, d)
    page, page_size = parse_paging(params)
    return RequestQuery(
        filters=CaseFilter(
            codes=ids,
            services=_csv(params.get("service_code")),
            statuses=sorted(statuses),
            # Status words that no status of ours has (``reopen``) select nothing.
            nothing=bool(words) and not statuses,
            bbox=bbox,
            unit_code=(params.get("agency_responsible") or "").strip() or None,
        ),
        start=parse_when(params.get("start_date"), "start_date", tz),
        updated_after=parse_when(params.get("updated_after"), "updated_after", tz),
        end=parse_when(params.get("end_date"), "end_date", tz),
        page=page,
        page_size=page_size,
    )


def parse_paging(params: Mapping[str, str]) -> tuple[int, int]:
    """The ``page``/``page_size`` extension: pages from 1, at most 1000 a page."""
    return (
        parse_whole(params.get("page"), "page", default=1, lo=1, hi=1_000_000),
        parse_whole(
            params.get("page_size"), "page_size", default=MAX_REQUESTS, lo=1, hi=MAX_REQUESTS
        ),
    )


def query_requests(
    session: Session,
    *,
    query: RequestQuery,
    now: datetime,
    config: Open311Config,
    region: str | None = None,
) -> list[RequestView]:
    """GET requests: newest first; ``service_request_id`` overrides every other filter
    but ``region`` (the territory of the caller's api_key)."""
    query = replace(query, filters=replace(query.filters, region=region))
    if query.filters.codes:
        only = CaseFilter(codes=query.filters.codes, region=region)
        stmt = apply_case_filter(select(Case), only, now)
    elif query.updated_after is not None:
        # A cursor over changes: oldest change first, so a reader that keeps the last
        # ``updated_datetime`` it saw (and reads from it again, inclusive) misses nothing.
        stmt = apply_case_filter(select(Case), query.filters, now)
        stmt = stmt.where(Case.updated_at >= query.updated_after)
        stmt = stmt.order_by(Case.updated_at, Case.id)
        stmt = stmt.offset((query.page - 1) * query.page_size).limit(query.page_size)
        return request_views(session, list(session.scalars(stmt)), config)
    else:
        start, end = window(query.start, query.end, now)
        # The spec's end is inclusive; the filter's is not: a microsecond later is the same.
        period = replace(query.filters, created_from=start, created_to=end + _TICK)
        stmt = apply_case_filter(select(Case), period, now)
        stmt = stmt.offset((query.page - 1) * query.page_size).limit(query.page_size)
    cases = list(session.scalars(stmt.order_by(Case.created_at.desc(), Case.id.desc())))
    return request_views(session, cases, config)


def get_request(
    session: Session, service_request_id: str, config: Open311Config, region: str | None = None
) -> RequestView:
    """GET requests/{id} (404 when there is no such request, or it lies outside the
    territory of the caller's api_key)."""
    case = session.scalars(select(Case).where(Case.code == service_request_id.strip())).first()
    if case is not None and region and region not in (case.district_code, case.street_code):
        case = None
    if case is None:
        raise NotFound(
            Msg("no service request '{service_request_id}'", service_request_id=service_request_id)
        )
    return request_views(session, [case], config)[0]


def chunks(items: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def request_views(
    session: Session, cases: Sequence[Case], config: Open311Config
) -> list[RequestView]:
    """Views of ``cases`` with a fixed number of queries, whatever their number;
    ``config`` says whose notes are public."""
    if not cases:
        return []
    public_actions = config.public_note_actions
    ids = [c.id for c in cases]
    names = {
        code: (name, parent)
        for code, name, parent in session.execute(
            select(Category.code, Category.name, Category.parent_code)
        )
    }
    unit_ids = {c.unit_id for c in cases if c.unit_id is not None}
    units = (
        {
            uid: (code, name)
            for uid, code, name in session.execute(
                select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(unit_ids))
            )
        }
        if unit_ids
        else {}
    )
    links: dict[int, Open311Request] = {}
    notes: dict[int, str] = {}
    photos: dict[int, list[str]] = {}
    for chunk in chunks(ids):
        links.update(
            (r.case_id, r)
            for r in session.scalars(
                select(Open311Request).where(Open311Request.case_id.in_(chunk))
            )
        )
        for case_id, note in session.execute(
            select(CaseEvent.case_id, CaseEvent.note)
            .where(
                CaseEvent.case_id.in_(chunk),
                CaseEvent.note != "",
                CaseEvent.action.in_(public_actions),
                or_(
                    CaseEvent.from_status.is_(None),
                    CaseEvent.from_status != CaseEvent.to_status,
                ),
            )
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        ):
            notes[case_id] = note  # the last public status change with a note wins
        for case_id, photo_id in session.execute(
            select(CasePhoto.case_id, CasePhoto.photo_id)
            .where(CasePhoto.case_id.in_(chunk), CasePhoto.stage.in_(("before", "after")))
            .order_by(CasePhoto.case_id, CasePhoto.stage.desc(), CasePhoto.id)
        ):
            photos.setdefault(case_id, []).append(photo_id)
    views = []
    for case in cases:
        mapping = STATUS_TABLE[case.status]
        link = links.get(case.id)
        pinpointed = link.is_pinpointed if link is not None else True
        name, parent = names.get(case.category_code, (case.category_code, None))
        group = names.get(parent, ("", None))[0] if parent else ""
        unit = units.get(case.unit_id) if case.unit_id is not None else None
        label_zh, label_en, _ = STATUS_LABELS[case.status]
        views.append(
            RequestView(
                service_request_id=case.code,
                status=mapping.v2,
                status_extended=mapping.extended,
                status_notes=notes.get(case.id) or f"{label_zh} {label_en}",
                service_name=name,
                service_code=case.category_code,
                description=case.description,
                agency_responsible=unit[1] if unit else None,
                service_notice="已督办 — under supervision (督办)" if case.is_supervised else None,
                requested_datetime=case.created_at,
                updated_datetime=(case.closed_at or case.updated_at)
                if case.status in TERMINAL
                else case.updated_at,
                expected_datetime=case.due_at,
                address=case.address or None,
                address_id=link.address_id if link is not None else None,
                zipcode=None,
                lat=case.lat if pinpointed else None,
                long=case.lon if pinpointed else None,
                photo_ids=tuple(photos.get(case.id, ())),
                media_urls=tuple(link.media_urls or ()) if link is not None else (),
                case_id=case.id,
                duban_status=case.status,
                source=case.source,
                kind=case.kind,
                group=group,
                condition_code=case.condition_code,
                unit_code=unit[0] if unit else None,
                grid_code=case.grid_code,
                rework_count=case.rework_count,
                is_supervised=case.is_supervised,
                closed_datetime=case.closed_at,
                attributes=dict(link.attributes or {}) if link is not None else {},
                channel=link.channel if link is not None else None,
            )
        )
    return views
