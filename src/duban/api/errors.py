"""The one place where errors become HTTP responses.

Every error body has the same shape::

    {"error": {"code": "illegal_transition", "message": "...", "detail": {...}}}

A refused file names each bad cell in ``detail.rows`` (``[{"row", "column", "message"}]``,
the ledgers' import); invalid fields are in ``detail.fields``. A detail value that is a
catalogue message, or a list of them (a refused taxonomy's ``detail.problems``), is sent as
text in the caller's language, like the message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from duban.kernel.errors import (
    Conflict,
    DubanError,
    InvalidInput,
    Msg,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)
from duban.kernel.outage import (
    ALL_OUTAGE_ERRORS,
    OUT_OF_RANGE_ERRORS,
    RETRY_AFTER_SECONDS,
    is_out_of_range,
    is_outage,
)

log = logging.getLogger(__name__)

UNAVAILABLE = (
    "the database is not answering at the moment; nothing was changed, "
    "try again in {seconds} seconds"
)


def wants_chinese(request: Request) -> bool:
    """Whether the caller prefers Chinese (``Accept-Language: zh…`` first)."""
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return first.startswith("zh")


def api_lang(request: Request) -> str:
    """The catalogue language of an API answer: Chinese when ``Accept-Language`` asks for
    it first, else the templates' own English ("api"), which names the fields, paths and
    headers to fix; the pages' English (:mod:`duban.web.errors_en`) is for people."""
    return "zh" if wants_chinese(request) else "api"


def api_text(request: Request, text: str, **values: Any) -> str:
    """A message of the catalogue (:mod:`duban.web.messages_zh`) in the caller's language."""
    from duban.web.i18n import translate  # a leaf module: the catalogue and nothing else

    return translate(text, api_lang(request), **values)


UNEXPECTED = "an unexpected error happened; it has been logged"
INVALID_REQUEST = "the request is invalid: {problems}"

#: What each kind of validator error asks the caller to fix, by pydantic's error type;
#: ``limit`` is the bound of the ``ctx`` key named beside it. The validator's own English
#: stays in ``detail.fields`` for programs.
_PROBLEMS: dict[str, tuple[str, str | None]] = {
    "missing": ("{field}: required", None),
    "less_than_equal": ("{field}: at most {limit}", "le"),
    "less_than": ("{field}: less than {limit}", "lt"),
    "greater_than_equal": ("{field}: at least {limit}", "ge"),
    "greater_than": ("{field}: more than {limit}", "gt"),
    "string_too_long": ("{field}: at most {limit} characters", "max_length"),
    "string_too_short": ("{field}: at least {limit} characters", "min_length"),
    "too_long": ("{field}: at most {limit} items", "max_length"),
    "too_short": ("{field}: at least {limit} items", "min_length"),
    "int_parsing": ("{field}: a whole number", None),
    "int_type": ("{field}: a whole number", None),
    "int_from_float": ("{field}: a whole number", None),
    "float_parsing": ("{field}: a number", None),
    "float_type": ("{field}: a number", None),
    "finite_number": ("{field}: a number", None),
    "bool_parsing": ("{field}: true or false", None),
    "bool_type": ("{field}: true or false", None),
    "string_type": ("{field}: text", None),
    "literal_error": ("{field}: one of {limit}", "expected"),
    "enum": ("{field}: one of {limit}", "expected"),
    "extra_forbidden": ("{field}: an extra field this request does not take", None),
    "datetime_parsing": ("{field}: a date and time such as 2026-11-23T09:00:00+08:00", None),
    "datetime_from_date_parsing": (
        "{field}: a date and time such as 2026-11-23T09:00:00+08:00",
        None,
    ),
    "datetime_type": ("{field}: a date and time such as 2026-11-23T09:00:00+08:00", None),
    "date_parsing": ("{field}: a date such as 2026-11-23", None),
    "date_from_datetime_parsing": ("{field}: a date such as 2026-11-23", None),
    "date_type": ("{field}: a date such as 2026-11-23", None),
    "list_type": ("{field}: a list", None),
    "model_type": ("{field}: an object", None),
    "dict_type": ("{field}: an object", None),
    "json_invalid": ("the body is not valid JSON", None),
}
_UNKNOWN_PROBLEM = "{field}: not a valid value"


def validation_problem(request: Request, error: Mapping[str, Any]) -> str:
    """One validator error as the caller reads it: the field and what it must be."""
    template, bound = _PROBLEMS.get(str(error.get("type", "")), (_UNKNOWN_PROBLEM, None))
    ctx = error.get("ctx") or {}
    limit = ctx.get(bound, "") if bound else ""
    field = _field_name(tuple(error.get("loc", ())))
    return api_text(request, template, field=field, limit=limit)


OUT_OF_RANGE = "a value in the request is out of range (too large, too small or not text)"


def out_of_range_response(request: Request) -> JSONResponse:
    """422: a value the database cannot hold (see :func:`duban.kernel.outage.is_out_of_range`)."""
    return JSONResponse(
        error_body("invalid_input", api_text(request, OUT_OF_RANGE)), status_code=422
    )


def unavailable_response(request: Request) -> JSONResponse:
    """503 with Retry-After: the database cannot answer now (see :mod:`duban.kernel.outage`)."""
    return JSONResponse(
        error_body("unavailable", api_text(request, UNAVAILABLE, seconds=RETRY_AFTER_SECONDS)),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


STATUS_OF: list[tuple[type[DubanError], int]] = [
    (NotFound, 404),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (Conflict, 409),
    (InvalidInput, 422),
    (TooManyRequests, 429),
]


def error_body(code: str, message: str, **detail: Any) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"code": code, "message": message}
    clean = {k: v for k, v in detail.items() if v is not None}
    if clean:
        body["detail"] = clean
    return {"error": body}


def status_for(err: DubanError) -> int:
    """The HTTP status of a domain error."""
    for cls, status in STATUS_OF:
        if isinstance(err, cls):
            return status
    return 400


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _rendered(value: Any, lang: str) -> Any:
    """A detail value for JSON: a message (or a list of them, such as the problems of a
    refused file) in the caller's language, anything else as it is."""
    from duban.web.i18n import translate

    if isinstance(value, Msg):
        return translate(value, lang)
    if isinstance(value, list | tuple) and any(isinstance(item, Msg) for item in value):
        return [translate(item, lang) if isinstance(item, Msg) else item for item in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the shape above."""

    @app.exception_handler(DubanError)
    async def _duban(request: Request, err: DubanError) -> JSONResponse:
        from duban.web.i18n import translate  # a leaf module: the catalogue and nothing else

        code = err.detail.get("code") if isinstance(err.detail.get("code"), str) else err.code
        # The error's template in the caller's language (Accept-Language: zh…); code, field
        # and detail stay as they are for programs.
        lang = api_lang(request)
        message = translate(err.text, lang)
        detail = {k: _rendered(v, lang) for k, v in err.detail.items() if k != "code"}
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(err, Unauthenticated) else None
        if isinstance(err, TooManyRequests):
            headers = {"Retry-After": str(err.retry_after)}
        return JSONResponse(
            error_body(str(code), message, **detail),
            status_code=status_for(err),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        # The validator's own words (pydantic's English) stay in detail.fields for programs;
        # the message names the fields to fix, in the caller's language.
        fields = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
            for e in err.errors()
        ]
        problems = list(dict.fromkeys(validation_problem(request, e) for e in err.errors()))
        joiner = "；" if wants_chinese(request) else "; "
        message = api_text(request, INVALID_REQUEST, problems=joiner.join(problems[:5]))
        return JSONResponse(error_body("invalid_input", message, fields=fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            429: "too_many_requests",
            503: "unavailable",
        }
        return JSONResponse(
            error_body(
                codes.get(err.status_code, "http_error"), api_text(request, str(err.detail))
            ),
            status_code=err.status_code,
            headers=getattr(err, "headers", None),
        )

    for bad_value in OUT_OF_RANGE_ERRORS:

        @app.exception_handler(bad_value)
        async def _out_of_range(request: Request, err: Exception) -> JSONResponse:
            log.info("a value out of the database's range: %s", err)
            return out_of_range_response(request)

    for outage in ALL_OUTAGE_ERRORS:

        @app.exception_handler(outage)
        async def _outage(request: Request, err: Exception) -> JSONResponse:
            log.warning("database unavailable: %s", err)
            return unavailable_response(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        if is_out_of_range(err):
            log.info("a value out of the database's range: %s", err)
            return out_of_range_response(request)
        if is_outage(err):
            log.warning("database unavailable: %s", err)
            return unavailable_response(request)
        log.exception("unhandled error", exc_info=err)
        return JSONResponse(
            error_body("internal", api_text(request, UNEXPECTED)),
            status_code=500,
        )


#: The answers every API operation may give besides its own, documented once here.
_API_ERRORS: dict[str, str] = {
    "401": "Not signed in: no bearer token, or an expired, forged or signed-out one",
    "403": "Signed in, but this role may not do this",
    "404": "No such thing, or not one the caller may see",
    "409": "Clashes with the current state (a workflow step not allowed now, a stale "
    "version, a name taken, an Idempotency-Key reused for another request)",
    "422": "The request is invalid (each field's problem is in detail.fields; a refused "
    "file's bad rows and cells in detail.rows)",
}
_OPEN311_ERRORS: dict[str, str] = {
    "400": "The request is invalid (Open311 error document)",
    "403": "The api_key is missing or not valid (Open311 error document)",
    "404": "No such request, service or format (Open311 error document)",
}
ERROR_SCHEMA = "ErrorResponse"


def document_errors(schema: dict[str, Any], *, api_prefix: str = "/api/v1") -> None:
    """Add the generic error answers to every operation of an OpenAPI ``schema``: the
    API's (401/403/404/409/422, body :data:`ERROR_SCHEMA`) and Open311's (400/403/404).
    Answers an operation documents itself are kept as they are."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        ERROR_SCHEMA,
        {
            "title": ERROR_SCHEMA,
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "detail": {
                            "type": "object",
                            "properties": {
                                "fields": {
                                    "type": "array",
                                    "description": "each invalid field: field, message",
                                    "items": {"type": "object"},
                                },
                                "rows": {
                                    "type": "array",
                                    "description": "a refused file's bad cells: row (1-based, "
                                    "0 for the whole file), column (its header), message",
                                    "items": {
                                        "type": "object",
                                        "required": ["row", "column", "message"],
                                        "properties": {
                                            "row": {"type": "integer"},
                                            "column": {"type": "string"},
                                            "message": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    )
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for path, operations in schema.get("paths", {}).items():
        api = path.startswith(api_prefix)
        errors = _API_ERRORS if api else _OPEN311_ERRORS
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, description in errors.items():
                if code not in responses:
                    responses[code] = {"description": description}
                    if api:
                        responses[code]["content"] = content
