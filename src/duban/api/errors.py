"""The one place where errors become HTTP responses.

Every error body has the same shape::

    {"error": {"code": "illegal_transition", "message": "...", "detail": {...}}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from duban.kernel.errors import (
    Conflict,
    DubanError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

log = logging.getLogger(__name__)

STATUS_OF: list[tuple[type[DubanError], int]] = [
    (NotFound, 404),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (Conflict, 409),
    (InvalidInput, 422),
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


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the shape above."""

    @app.exception_handler(DubanError)
    async def _duban(_request: Request, err: DubanError) -> JSONResponse:
        code = err.detail.get("code") if isinstance(err.detail.get("code"), str) else err.code
        detail = {k: v for k, v in err.detail.items() if k != "code"}
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(err, Unauthenticated) else None
        return JSONResponse(
            error_body(str(code), err.message, **detail),
            status_code=status_for(err),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, err: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
            for e in err.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return JSONResponse(
            error_body("invalid_input", f"the request is invalid — {summary}", fields=fields),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }
        return JSONResponse(
            error_body(codes.get(err.status_code, "http_error"), str(err.detail)),
            status_code=err.status_code,
            headers=getattr(err, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=err)
        return JSONResponse(
            error_body("internal", "an unexpected error happened; it has been logged"),
            status_code=500,
        )
