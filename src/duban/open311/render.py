"""One document model, two spellings: Open311 XML and JSON.

A :class:`Document` is a root name and a body of plain values (str, int, float, bool,
None, aware datetimes, lists and dicts). JSON drops the list wrapper, so a list body is
a bare array (the spec's "Spark convention"); XML wraps list items in the element named
by :data:`ITEM_NAMES`. Booleans are ``true``/``false`` in both; empty values are
``<x/>`` in XML and ``null`` in JSON; datetimes are W3C with the city's offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final

from starlette.responses import Response

XML_TYPE: Final = "text/xml; charset=utf-8"
JSON_TYPE: Final = "application/json; charset=utf-8"
FORMATS: Final = ("xml", "json")
XML_DECLARATION: Final = '<?xml version="1.0" encoding="utf-8"?>'

#: The element that wraps each item of a list, by the list's own element name.
ITEM_NAMES: Final[Mapping[str, str]] = {
    "services": "service",
    "groups": "group",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "media_urls": "media_url",
}

# Characters XML 1.0 cannot carry at all (control characters other than tab/LF/CR).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


@dataclass(frozen=True)
class Document:
    """An Open311 response body before it is spelled as XML or JSON."""

    root: str
    body: Sequence[Mapping[str, Any]] | Mapping[str, Any]


def _scalar(value: Any, tz: tzinfo) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    return str(value)


def _xml_value(parts: list[str], name: str, value: Any, tz: tzinfo) -> None:
    if value is None or value == "" or (isinstance(value, (list, tuple, dict)) and not value):
        parts.append(f"<{name}/>")
        return
    parts.append(f"<{name}>")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml_value(parts, key, item, tz)
    elif isinstance(value, (list, tuple)):
        item_name = ITEM_NAMES.get(name, "item")
        for item in value:
            _xml_value(parts, item_name, item, tz)
    else:
        parts.append(_NOT_XML.sub("", _scalar(value, tz)).translate(_ESCAPES))
    parts.append(f"</{name}>")


def to_xml(doc: Document, tz: tzinfo) -> bytes:
    """The document as XML, starting with the XML declaration."""
    parts = [XML_DECLARATION]
    _xml_value(parts, doc.root, doc.body if doc.body else None, tz)
    return "".join(parts).encode("utf-8")


def _jsonable(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, str):
        return value or None  # an empty field is null, as it is <x/> in XML
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, Mapping):
        return {k: _jsonable(v, tz) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, tz) for v in value]
    return value


def to_json(doc: Document, tz: tzinfo) -> bytes:
    """The document as JSON: a bare array for lists, an object otherwise."""
    return json.dumps(
        _jsonable(doc.body, tz), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def render(doc: Document, fmt: str, tz: tzinfo, status_code: int = 200) -> Response:
    """The HTTP response for ``doc`` in ``fmt`` (``xml`` or ``json``)."""
    if fmt == "json":
        return Response(to_json(doc, tz), status_code=status_code, media_type=JSON_TYPE)
    return Response(to_xml(doc, tz), status_code=status_code, media_type=XML_TYPE)


def errors_document(errors: Sequence[tuple[int, str]]) -> Document:
    """``<errors><error><code/><description/></error></errors>`` / ``[{code, description}]``."""
    return Document("errors", [{"code": code, "description": text} for code, text in errors])
