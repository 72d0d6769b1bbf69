"""The check every request passes first, whatever its face: no control characters.

Query parameters (filters and the like, on the API, Open311 and the pages) and JSON
bodies are refused with :class:`~duban.kernel.errors.InvalidInput` — a 422 (Open311's
routes answer it as their 400) — when they hold NUL or another control character
(:mod:`duban.kernel.inputs`). Form fields are checked where forms are read (the pages'
``checked_form``, Open311's form reader), and the report route, which reads its body
only once its caller is known, checks its text in ``prepare_report``.
"""

from __future__ import annotations

import json
from typing import Final

from fastapi import Request

from duban.kernel.inputs import refuse_control_characters_deep, refuse_control_characters_in

#: Bytes without which a JSON body holds no control character: an escape (``\\u0000``),
#: DEL, or the lead byte of C1 in UTF-8.
_SUSPECT: Final = (b"\\u", b"\x7f", b"\xc2")
#: The routes that read (and check) their own body after authenticating the caller.
OWN_BODY_ROUTES: Final = frozenset({("POST", "/api/v1/cases")})


async def refuse_control_text(request: Request) -> None:
    """Refuse control characters in the query string and in a JSON body."""
    if request.url.query:
        refuse_control_characters_in(request.query_params.multi_items())
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if (request.method, request.url.path) in OWN_BODY_ROUTES:
        return
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if not any(s in body for s in _SUSPECT):
        return
    try:
        data = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own validation answers
    refuse_control_characters_deep(data)
