"""Open311 GeoReport v2 at ``/open311/v2`` (XML and JSON), with FixMyStreet's extensions.

Thin adapters: parse the spec's arguments (empty ones count as absent; repeated
``media_url``/``attribute[x][]``; the api_key from the form body or the query string),
call the use cases of :mod:`duban.open311.catalogue`, :mod:`~duban.open311.requests`
and :mod:`~duban.open311.updates`, render one model as XML or JSON. Every error on these
routes is an Open311 error document (``<errors>`` / a JSON array), never the native API's
format: :class:`Open311Route` catches them all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from duban.api.deps import ClockDep, SessionDep, SettingsDep
from duban.api.errors import OUT_OF_RANGE, UNAVAILABLE
from duban.api.limits import client_ip, limit_uploads, request_lang, request_limits
from duban.cases import CasePhoto
from duban.evidence import Photo, PhotoLimits, public_content_type, public_photo_bytes
from duban.kernel.errors import (
    DubanError,
    InvalidInput,
    Msg,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)
from duban.kernel.inputs import refuse_control_characters_in
from duban.kernel.outage import RETRY_AFTER_SECONDS, is_out_of_range, is_outage
from duban.open311 import catalogue, config, parsing, requests, updates
from duban.open311 import views as model
from duban.open311.apikeys import key_region
from duban.open311.render import FORMATS, Document, errors_document, render
from duban.reference import load_policy

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_PHOTO_FIELDS = re.compile(r"^(media|media\[\]|photo\d*|photos?\[\]|file)$")
MAX_UPLOADS = 10
MAX_FORM_FIELDS = 300
MAX_URLENCODED_BYTES = 1_000_000


# --------------------------------------------------------------------------- errors


def _format_of(request: Request) -> str:
    return "json" if request.url.path.endswith(".json") else "xml"


def _error_items(err: Exception) -> tuple[int, list[tuple[int, str]]]:
    if isinstance(err, TooManyRequests):
        return 429, [(429, err.message)]
    if is_out_of_range(err):
        return 400, [(400, OUT_OF_RANGE)]
    if is_outage(err):
        log.warning("database unavailable on an Open311 route: %s", err)
        return 503, [(503, UNAVAILABLE.format(seconds=RETRY_AFTER_SECONDS))]
    if isinstance(err, NotFound):
        return 404, [(404, err.message)]
    if isinstance(err, (PermissionDenied, Unauthenticated)):
        return 403, [(403, err.message)]
    if isinstance(err, InvalidInput):
        many = err.detail.get("errors")
        texts = [str(m) for m in many] if isinstance(many, list) and many else [err.message]
        return 400, [(400, t) for t in texts]
    if isinstance(err, DubanError):
        return 400, [(400, err.message)]
    if isinstance(err, RequestValidationError):
        return 400, [(400, f"{'.'.join(map(str, e['loc']))}: {e['msg']}") for e in err.errors()]
    if isinstance(err, StarletteHTTPException):
        return err.status_code, [(err.status_code, str(err.detail))]
    log.exception("unhandled error on an Open311 route", exc_info=err)
    return 500, [(500, "the server failed to answer; the error has been logged")]


def error_response(request: Request, err: Exception) -> Response:
    """An Open311 error document for ``err`` in the format the URL asked for."""
    status, items = _error_items(err)
    response = render(errors_document(items), _format_of(request), UTC, status)
    if isinstance(err, TooManyRequests):
        response.headers["Retry-After"] = str(err.retry_after)
    elif status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class Open311Route(APIRoute):
    """A route whose every error is answered in Open311's error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as err:
                return error_response(request, err)

        return open311_handler


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)

#: The ``{fmt}`` of every Open311 path: documented as an enum; another value is a 404
#: (an unknown document), as Open311 answers it.
FmtPath = Annotated[
    str, Path(description="the response format", json_schema_extra={"enum": list(FORMATS)})
]


# --------------------------------------------------------------------------- helpers


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(Msg("unknown format '.{fmt}'; use .xml or .json", fmt=fmt))
    return fmt


def _params(request: Request) -> dict[str, str]:
    """Query arguments; an empty argument is treated exactly like an absent one."""
    return {k: v for k, v in request.query_params.items() if v.strip()}


def _wants_english(request: Request, params: dict[str, str]) -> bool:
    """Whether names should be English: the ``locale`` argument (GeoReport v2), else the
    first language of ``Accept-Language``."""
    wanted = params.get("locale") or request.headers.get("accept-language", "").split(",")[0]
    return wanted.strip().lower().startswith("en")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _reply(session: Session, doc: Document, fmt: FmtPath) -> Response:
    return render(doc, fmt, load_policy(session).tz)


def _jurisdiction(session: Session, params: Mapping[str, str]) -> config.Live:
    live = config.load_config(session)
    config.check_jurisdiction(live.config, params.get("jurisdiction_id"))
    return live


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


# --------------------------------------------------------------------------- discovery, services


@router.get("/discovery.{fmt}", summary="Service discovery")
def get_discovery(fmt: FmtPath, request: Request, session: SessionDep) -> Response:
    """Where the endpoint is, what it speaks and when its services last changed."""
    fmt = _fmt(fmt)
    _jurisdiction(session, _params(request))
    view = catalogue.discovery(session)
    return _reply(session, model.discovery_document(view, _base(request)), fmt)


@router.get("/services.{fmt}", summary="GET Service List")
def get_services(fmt: FmtPath, request: Request, session: SessionDep) -> Response:
    """The services (our taxonomy's subclasses); ``lat``/``long``: those offered there.
    Their names are Chinese, or English with ``locale=en`` (``en_US``, ``en-GB``…) or, when
    no ``locale`` is given, an ``Accept-Language`` that asks for English first."""
    fmt = _fmt(fmt)
    params = _params(request)
    _jurisdiction(session, params)
    views = catalogue.list_services(
        session,
        lat=params.get("lat"),
        lon=params.get("long"),
        english=_wants_english(request, params),
    )
    return _reply(session, model.services_document(views), fmt)


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition")
def get_service_definition(
    service_code: str, fmt: FmtPath, request: Request, session: SessionDep
) -> Response:
    """The attributes of one service (all six datatypes are possible); the filing
    conditions are named in English as the services are (``locale`` or
    ``Accept-Language``)."""
    fmt = _fmt(fmt)
    params = _params(request)
    _jurisdiction(session, params)
    view = catalogue.service_definition(
        session, service_code, english=_wants_english(request, params)
    )
    return _reply(session, model.definition_document(view), fmt)


# --------------------------------------------------------------------------- requests


def _fields(
    form: FormData, query: Mapping[str, str]
) -> tuple[dict[str, list[str]], list[UploadFile]]:
    """Form fields (query-string values as a fallback) and uploaded files."""
    if len(form.multi_items()) > MAX_FORM_FIELDS:
        raise InvalidInput(
            Msg("at most {MAX_FORM_FIELDS} form fields", MAX_FORM_FIELDS=MAX_FORM_FIELDS)
        )
    fields: dict[str, list[str]] = {}
    files: list[UploadFile] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if _PHOTO_FIELDS.match(key) and value.filename:
                files.append(value)
            continue
        fields.setdefault(key, []).append(value)
    for key, text in query.items():
        fields.setdefault(key, [text])
    return fields, files


async def _read_form(
    request: Request, max_uploads: int, max_bytes: int
) -> tuple[dict[str, list[str]], list[bytes]]:
    """The POST's fields (query-string values as a fallback) and uploaded photos.

    A urlencoded body — what every Open311 client sends — is read directly; multipart
    (photos) goes through Starlette's form parser.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # stop reading at the limit, not after it
            size += len(chunk)
            if size > MAX_URLENCODED_BYTES:
                raise InvalidInput(
                    Msg(
                        "the form is larger than {MAX_URLENCODED_BYTES} bytes",
                        MAX_URLENCODED_BYTES=MAX_URLENCODED_BYTES,
                    )
                )
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError) as err:
            raise InvalidInput("the form cannot be read", cause=str(err)) from err
        fields: dict[str, list[str]] = {}
        for key, value in pairs:
            fields.setdefault(key, []).append(value)
        for key, text in _params(request).items():
            fields.setdefault(key, [text])
        refuse_control_characters_in((k, v) for k, vs in fields.items() for v in vs)
        return fields, []
    form = await request.form(max_files=max_uploads + 5, max_fields=MAX_FORM_FIELDS)
    try:
        fields, files = _fields(form, _params(request))
        refuse_control_characters_in((k, v) for k, vs in fields.items() for v in vs)
        if len(files) > max_uploads:
            raise InvalidInput(
                Msg("at most {max_uploads} photos per request", max_uploads=max_uploads)
            )
        blobs = []
        for upload in files:
            data = await upload.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise InvalidInput(
                    Msg(
                        "a photo is larger than the limit of {max_bytes} bytes", max_bytes=max_bytes
                    )
                )
            blobs.append(data)
    finally:
        await form.close()
    return fields, blobs


def _one(fields: Mapping[str, list[str]], name: str) -> str | None:
    for value in fields.get(name, ()):
        if value.strip():
            return value
    return None


def _many(fields: Mapping[str, list[str]], *names: str) -> list[str]:
    return [v for n in names for v in fields.get(n, ()) if v.strip()]


def _attributes(fields: Mapping[str, list[str]]) -> dict[str, str | list[str]]:
    found: dict[str, str | list[str]] = {}
    for key, values in fields.items():
        match = _ATTRIBUTE.match(key)
        if match is None:
            continue
        code, is_list = match.group(1), match.group(2) is not None
        clean = [v for v in values if v.strip()]
        if not clean:
            continue
        if is_list or len(clean) > 1:
            previous = found.get(code)
            merged = ([previous] if isinstance(previous, str) else list(previous or [])) + clean
            found[code] = merged
        else:
            found[code] = clean[0]
    return found


@router.post("/requests.{fmt}", summary="POST Service Request")
async def post_request(
    fmt: FmtPath,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Create a case. Needs an ``api_key`` (form body or query string)."""
    fmt = _fmt(fmt)
    lang = request_lang(request)
    limits = request_limits(request.app)
    limits.take("anonymous_reports_per_ip", client_ip(request), lang)
    fields, blobs = await _read_form(request, MAX_UPLOADS, settings.max_photo_bytes)
    limits.take("reports_per_client", (_one(fields, "api_key") or "")[:64], lang)
    for _blob in blobs:
        limit_uploads(request, user_id=None, lang=lang)
    request_form = requests.RequestForm(
        service_code=_one(fields, "service_code"),
        lat=_one(fields, "lat"),
        long=_one(fields, "long"),
        address_string=_one(fields, "address_string"),
        address_id=_one(fields, "address_id"),
        description=_one(fields, "description"),
        attributes=_attributes(fields),
        media_urls=_many(fields, "media_url", "media_url[]", "media_urls[]"),
        email=_one(fields, "email"),
        device_id=_one(fields, "device_id"),
        account_id=_one(fields, "account_id"),
        first_name=_one(fields, "first_name"),
        last_name=_one(fields, "last_name"),
        phone=_one(fields, "phone"),
        crs=_one(fields, "crs"),
        jurisdiction_id=_one(fields, "jurisdiction_id"),
    )

    def _submit() -> Response:
        tz = load_policy(session).tz
        uploads = (
            requests.Uploads(
                files=blobs,
                store=request.app.state.photo_store,
                limits=PhotoLimits(settings.max_photo_bytes, settings.max_photo_pixels),
                tz=tz,
            )
            if blobs
            else None
        )
        result = requests.submit_request(
            session,
            api_key=_one(fields, "api_key"),
            clock=clock,
            form=request_form,
            uploads=uploads,
        )
        return render(model.submitted_document(result), fmt, tz)

    return await run_in_threadpool(_submit)


@router.get("/requests.{fmt}", summary="GET Service Requests")
def get_requests(fmt: FmtPath, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """Query requests: ``service_request_id`` (overrides the rest), ``service_code``,
    ``start_date``/``end_date`` (at most 90 days; the last 90 by default), ``status``;
    extensions: ``page``/``page_size``, ``bbox``, ``extensions=true``,
    ``agency_responsible`` (a unit code) and ``updated_after`` (changed at or after it,
    oldest change first, no 90-day window: a lower platform's pull)."""
    fmt = _fmt(fmt)
    params = _params(request)
    live = _jurisdiction(session, params)
    tz = load_policy(session).tz
    query = requests.parse_request_query(params, tz=tz)
    region = key_region(session, params.get("api_key"))
    views = requests.query_requests(
        session, query=query, now=clock.now(), config=live.config, region=region
    )
    doc = model.requests_document(
        views,
        _base(request),
        extensions=_flag(params.get("extensions")),
        specs=live.config.attributes,
    )
    return render(doc, fmt, tz)


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request")
def get_request(
    service_request_id: str, fmt: FmtPath, request: Request, session: SessionDep
) -> Response:
    """One request, as a list of one."""
    fmt = _fmt(fmt)
    params = _params(request)
    live = _jurisdiction(session, params)
    region = key_region(session, params.get("api_key"))
    view = requests.get_request(session, service_request_id, live.config, region)
    doc = model.requests_document(
        [view],
        _base(request),
        extensions=_flag(params.get("extensions")),
        specs=live.config.attributes,
    )
    return _reply(session, doc, fmt)


@router.get("/tokens/{token}.{fmt}", summary="GET request id from a token")
def get_token(token: str, fmt: FmtPath, request: Request, session: SessionDep) -> Response:
    """The ``service_request_id`` a POST's token stands for."""
    fmt = _fmt(fmt)
    _jurisdiction(session, _params(request))
    return _reply(session, model.token_document(requests.lookup_token(session, token)), fmt)


# --------------------------------------------------------------------------- updates


@router.get("/servicerequestupdates.{fmt}", summary="GET Service Request Updates (FixMyStreet)")
def get_updates(fmt: FmtPath, request: Request, session: SessionDep, clock: ClockDep) -> Response:
    """Status changes and comments between ``start_date`` and ``end_date`` (both or
    neither; at most 90 days), oldest first, each with a stable ``update_id``."""
    fmt = _fmt(fmt)
    params = _params(request)
    _jurisdiction(session, params)
    tz = load_policy(session).tz
    start = parsing.parse_when(params.get("start_date"), "start_date", tz)
    end = parsing.parse_when(params.get("end_date"), "end_date", tz)
    page, page_size = requests.parse_paging(params)
    views = updates.list_updates(
        session,
        start=start,
        end=end,
        now=clock.now(),
        page=page,
        page_size=page_size,
        region=key_region(session, params.get("api_key")),
    )
    return render(model.updates_document(views, _base(request)), fmt, tz)


@router.post("/servicerequestupdates.{fmt}", summary="POST Service Request Update (FixMyStreet)")
async def post_update(
    fmt: FmtPath, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """A client's update to a request; idempotent on ``update_id``. A lower platform's
    key (one that stands for a unit) may send its after-photos as multipart files."""
    fmt = _fmt(fmt)
    fields, blobs = await _read_form(request, MAX_UPLOADS, settings.max_photo_bytes)
    for _blob in blobs:
        limit_uploads(request, user_id=None, lang=request_lang(request))
    update = updates.UpdateForm(
        service_request_id=_one(fields, "service_request_id"),
        update_id=_one(fields, "update_id"),
        status=_one(fields, "status"),
        updated_datetime=_one(fields, "updated_datetime"),
        description=_one(fields, "description"),
        media_urls=_many(fields, "media_url", "media_url[]"),
        email=_one(fields, "email"),
        phone=_one(fields, "phone"),
        first_name=_one(fields, "first_name"),
        last_name=_one(fields, "last_name"),
        title=_one(fields, "title"),
        account_id=_one(fields, "account_id"),
        service_code=_one(fields, "service_code"),
        external_status_code=_one(fields, "external_status_code"),
        jurisdiction_id=_one(fields, "jurisdiction_id"),
    )

    def _post() -> Response:
        tz = load_policy(session).tz
        uploads = (
            requests.Uploads(
                files=blobs,
                store=request.app.state.photo_store,
                limits=PhotoLimits(settings.max_photo_bytes, settings.max_photo_pixels),
                tz=tz,
            )
            if blobs
            else None
        )
        result = updates.post_update(
            session,
            api_key=_one(fields, "api_key"),
            clock=clock,
            form=update,
            tz=tz,
            uploads=uploads,
        )
        return render(model.update_accepted_document(result), fmt, tz)

    return await run_in_threadpool(_post)


# --------------------------------------------------------------------------- media, fallbacks


@router.get("/media/{photo_id}", summary="A photo of a request")
def get_media(photo_id: str, request: Request, session: SessionDep) -> Response:
    """The photo, if it is a before/after photo of some case (other uploads stay private)."""
    from sqlalchemy import select

    photo = session.get(Photo, photo_id)
    public = session.scalar(
        select(CasePhoto.id)
        .where(CasePhoto.photo_id == photo_id, CasePhoto.stage.in_(("before", "after")))
        .limit(1)
    )
    if photo is None or public is None:
        raise NotFound(Msg("no photo '{photo_id}'", photo_id=photo_id))
    try:
        data = public_photo_bytes(request.app.state.photo_store, photo)  # without EXIF
    except FileNotFoundError as err:
        raise NotFound(Msg("the file of photo '{photo_id}' is missing", photo_id=photo_id)) from err
    return Response(
        content=data,
        media_type=public_content_type(photo.content_type),
        headers={"Cache-Control": "public, max-age=86400"},
    )


_KNOWN = re.compile(
    r"^/(discovery|services|requests|servicerequestupdates)\.\w+$"
    r"|^/(services|requests|tokens)/[^/]+\.\w+$"
)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def fallback(rest: str, request: Request) -> Response:
    """Anything else under the endpoint: 404 (or 405 for a known path), in Open311's format."""
    if _KNOWN.match("/" + rest):
        raise StarletteHTTPException(
            405, f"{request.method} is not supported on {request.url.path}"
        )
    raise NotFound(Msg("there is no Open311 resource at {path}", path=request.url.path))
