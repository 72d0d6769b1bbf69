"""Pure ASGI middleware: limits before work, and headers on every response.

* :class:`BodyLimit` caps each request body by route **before** it is read: a declared
  ``Content-Length`` over the cap is answered 413 at once, and streamed bytes are
  counted, the request stopping at the cap (a chunked upload cannot go around it). A
  photo upload without a valid bearer token is answered 401 before its body is read.
* :class:`SecurityHeaders` adds ``X-Content-Type-Options: nosniff`` to every response.
* :func:`redact_access_log` keeps Open311 ``api_key`` values out of the access log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duban.api.limits import request_limits
from duban.kernel.errors import Msg, Unauthenticated

NUL_IN_URL = "the address contains a NUL character (%00), which no parameter may hold"
TOO_LARGE = "the request body is larger than the limit of {limit} bytes for this address"

_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PHOTO_UPLOAD: Final = re.compile(r"^/api/v1/photos/?$")
_IMPORTS: Final = re.compile(r"^(/api/v1/regions/import|/admin/regions)/?$")
_FORM_OVERHEAD: Final = 256 * 1024


class BodyTooLarge(HTTPException):
    """The body went over its route's cap while being read (answered 413)."""

    def __init__(self, limit: int, lang: str) -> None:
        super().__init__(413, translate(TOO_LARGE, lang, limit=limit))
        self.limit = limit


@dataclass(frozen=True)
class _Route:
    limit: int
    token_first: bool = False


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class BodyLimit:
    """Caps request bodies per route before they are read (see the module)."""

    def __init__(self, app: ASGIApp, *, outer: Any) -> None:
        self.app = app
        self.outer = outer  # the FastAPI app: its settings, limits and token verifier

    def route(self, scope: Scope) -> _Route:
        """The cap of this request (and whether a token is checked first)."""
        state = self.outer.state
        policy = request_limits(self.outer).policy
        photo = int(state.settings.max_photo_bytes)
        path = scope.get("path", "")
        if _PHOTO_UPLOAD.match(path):
            return _Route(photo + _FORM_OVERHEAD, token_first=True)
        if _IMPORTS.match(path):
            return _Route(policy.body_import_mib * 1024 * 1024 + _FORM_OVERHEAD)
        if _header(scope, b"content-type").lower().startswith("multipart/"):
            return _Route(policy.body_photos_per_request * photo + _FORM_OVERHEAD)
        return _Route(policy.body_default_kib * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lang = "zh" if _header(scope, b"accept-language").lower().startswith("zh") else "api"
        if "\x00" in scope.get("path", ""):
            # A NUL is never an id or a name; PostgreSQL cannot even hold one. (Query
            # strings and bodies are checked by api/edge.py, as control characters.)
            await _send_error(send, 422, "invalid_input", translate(NUL_IN_URL, lang))
            return
        if scope.get("method", "GET") not in _WRITES:
            await self.app(scope, receive, send)
            return
        route = self.route(scope)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > route.limit:
            await _send_error(send, 413, "too_large", translate(TOO_LARGE, lang, limit=route.limit))
            return
        if route.token_first:
            refused = self._token_refusal(scope)
            if refused is not None:
                await _send_error(
                    send,
                    401,
                    "unauthenticated",
                    translate(refused.text, lang),
                    {"WWW-Authenticate": "Bearer"},
                )
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > route.limit:
                    raise BodyTooLarge(route.limit, lang)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as err:
            if started:
                raise
            await _send_error(send, 413, "too_large", str(err.detail))

    def _token_refusal(self, scope: Scope) -> Unauthenticated | None:
        from duban.api.deps import token_verifier  # deferred: deps imports the app's models

        scheme, _, token = _header(scope, b"authorization").partition(" ")
        try:
            token_verifier(self.outer).subject(
                token.strip() if scheme.lower() == "bearer" else None,
                self.outer.state.clock.now(),
            )
        except Unauthenticated as err:
            return err
        return None


async def _send_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        # The body was not read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every response (a browser never guesses a
    photo or a JSON body to be HTML or script)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_API_KEY: Final = re.compile(r"(?i)((?:^|[?&;])api_key=)[^&;#\s\"]*")


def redact(text: str) -> str:
    """``text`` with the value of every ``api_key=`` query parameter replaced."""
    return _API_KEY.sub(r"\1[REDACTED]", text)


class RedactApiKeys(logging.Filter):
    """Rewrites log records so no ``api_key=`` value reaches a log (the access log
    shows the full path with its query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "api_key=" in record.msg.lower():
            record.msg = redact(record.msg)
        return True


def redact_access_log(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Install :class:`RedactApiKeys` on the server's loggers (once)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactApiKeys) for f in logger.filters):
            logger.addFilter(RedactApiKeys())


def install_middleware(app: Any, *, add: Callable[..., None] | None = None) -> None:
    """Add the middleware above to ``app`` (outermost: the headers)."""
    add = add or app.add_middleware
    add(BodyLimit, outer=app)
    add(SecurityHeaders)
    redact_access_log()


def translate(text: str | Msg, lang: str, **values: Any) -> str:
    """``text`` (a key or an error's template) from the message catalogue in ``lang``
    (deferred: the web package imports this module)."""
    from duban.web.i18n import translate as catalogue

    return catalogue(text, lang, **values)
