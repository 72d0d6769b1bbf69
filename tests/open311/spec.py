"""The conformance yardstick, written from the GeoReport v2 spec and FixMyStreet's schema
(../shared/reference/open311.md), independently of the server's code.

* JSON Schemas of every document (draft 2020-12): required fields, types (ids and codes
  are strings), enums (datatypes, v2 and extended statuses), W3C datetimes with a zone.
* XML checks: the declaration first, the content type, no namespace, the spec's element
  names; then the XML is read back into the JSON shape (lists by the spec's wrapper
  names, ``true``/``false`` and numbers typed) and validated against the same schema —
  and compared with the JSON answer to the same question.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from jsonschema import Draft202012Validator

DATETIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"
ID = r"^[\w-]+$"  # FixMyStreet's schema for ids
DATATYPES = ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
EXTENDED = [
    "open",
    "fixed",
    "in_progress",
    "action_scheduled",
    "planned",
    "investigating",
    "duplicate",
    "not_councils_responsibility",
    "no_further_action",
    "internal_referral",
    "cancelled",
    "reopen",
    "for_triage",
    "unchanged",
    "closed",
]

_str = {"type": "string"}
_opt_str = {"type": ["string", "null"]}
_when = {"type": "string", "pattern": DATETIME}
_opt_when = {"anyOf": [_when, {"type": "null"}]}

SERVICES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": {"type": "string", "pattern": ID},
            "service_name": _str,
            "description": _opt_str,
            "metadata": {"type": "boolean"},
            "type": {"enum": ["realtime", "batch", "blackbox"]},
            "keywords": _opt_str,
            "group": _opt_str,
            "groups": {"type": "array", "items": _str},
        },
        "additionalProperties": False,
    },
}

ATTRIBUTE = {
    "type": "object",
    "required": ["variable", "code", "datatype", "required", "order", "description"],
    "properties": {
        "variable": {"type": "boolean"},
        "code": {"type": "string", "minLength": 1},
        "datatype": {"enum": DATATYPES},
        "required": {"type": "boolean"},
        "datatype_description": _opt_str,
        "order": {"type": "integer", "minimum": 1},
        "description": _str,
        "values": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "name"],
                "properties": {"key": _str, "name": _str},
                "additionalProperties": False,
            },
        },
        "automated": {"enum": ["hidden_field", "server_set"]},
    },
    "additionalProperties": False,
}

DEFINITION = {
    "type": "object",
    "required": ["service_code", "attributes"],
    "properties": {
        "service_code": {"type": "string", "pattern": ID},
        "attributes": {"type": "array", "items": ATTRIBUTE},
    },
    "additionalProperties": False,
}

_REQUEST_FIELDS: dict[str, Any] = {
    "service_request_id": {"type": "string", "pattern": ID},
    "status": {"enum": ["open", "closed"]},
    "status_notes": _opt_str,
    "service_name": _opt_str,
    "service_code": {"type": "string", "pattern": ID},
    "description": {"type": ["string", "null"], "maxLength": 4000},
    "agency_responsible": _opt_str,
    "service_notice": _opt_str,
    "requested_datetime": _when,
    "updated_datetime": _opt_when,
    "expected_datetime": _opt_when,
    "address": _opt_str,
    "address_id": _opt_str,
    "zipcode": _opt_str,
    "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
    "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
    "media_url": {"type": ["string", "null"], "pattern": "^https?://"},
}

REQUESTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_request_id", "status", "service_code", "requested_datetime"],
        "properties": _REQUEST_FIELDS,
        "additionalProperties": False,
    },
}

#: ``extensions=true``: our extra fields next to the spec's.
REQUESTS_EXTENDED = {
    "type": "array",
    "items": {
        "type": "object",
        "required": [
            "service_request_id",
            "status",
            "service_code",
            "requested_datetime",
            "extended_attributes",
        ],
        "properties": {
            **_REQUEST_FIELDS,
            "media_urls": {"type": "array", "items": _str},
            "attributes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "name", "label", "value"],
                },
            },
            "extended_attributes": {
                "type": "object",
                "required": ["status_extended", "duban_status", "source"],
                "properties": {"status_extended": {"enum": EXTENDED}},
            },
        },
        "additionalProperties": False,
    },
}

POSTED = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "service_request_id": {"type": "string", "pattern": ID},
            "token": {"type": "string", "pattern": ID},
            "service_notice": _opt_str,
            "account_id": _opt_str,
        },
        # Either an id (realtime) or a token (batch), never both.
        "oneOf": [
            {"required": ["service_request_id"], "not": {"required": ["token"]}},
            {"required": ["token"], "not": {"required": ["service_request_id"]}},
        ],
        "additionalProperties": False,
    },
}

TOKEN = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["token", "service_request_id"],
        "properties": {
            "token": {"type": "string"},
            "service_request_id": {"type": ["string", "null"], "pattern": ID},
        },
        "additionalProperties": False,
    },
}

ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": _str},
        "additionalProperties": False,
    },
}

DISCOVERY = {
    "type": "object",
    "required": ["changeset", "contact", "key_service", "endpoints"],
    "properties": {
        "changeset": _when,
        "contact": {"type": "string", "minLength": 1},
        "key_service": {"type": "string", "minLength": 1},
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "properties": {
                    "specification": {"const": "http://wiki.open311.org/GeoReport_v2"},
                    "url": {"type": "string", "pattern": "^https?://"},
                    "changeset": _when,
                    "type": {"enum": ["production", "test"]},
                    "formats": {
                        "type": "array",
                        "items": _str,
                        "allOf": [
                            {"contains": {"const": "text/xml"}},
                            {"contains": {"const": "application/json"}},
                        ],
                    },
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

UPDATES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": [
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
        ],
        "properties": {
            "update_id": {"type": "string", "pattern": ID},
            "service_request_id": {"type": "string", "pattern": ID},
            "status": {"enum": EXTENDED},
            "updated_datetime": _when,
            "description": _str,
            "media_url": {"type": ["string", "null"]},
            "external_status_code": _opt_str,
        },
        "additionalProperties": False,
    },
}

UPDATE_POSTED = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["update_id"],
        "properties": {"update_id": {"type": "string", "pattern": ID}, "account_id": _opt_str},
        "additionalProperties": False,
    },
}

# The XML side: each document's root, and the wrapper elements of lists with their items.
ROOTS = {
    id(SERVICES): "services",
    id(DEFINITION): "service_definition",
    id(REQUESTS): "service_requests",
    id(REQUESTS_EXTENDED): "service_requests",
    id(POSTED): "service_requests",
    id(TOKEN): "service_requests",
    id(ERRORS): "errors",
    id(DISCOVERY): "discovery",
    id(UPDATES): "service_request_updates",
    id(UPDATE_POSTED): "service_request_updates",
}
LISTS = {
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
BOOLEANS = {"metadata", "variable", "required", "is_supervised"}
INTEGERS = {("attribute", "order"), ("error", "code"), ("extended_attributes", "rework_count")}
NUMBERS = {"lat", "long"}


def _typed(tag: str, text: str | None, parent: str) -> Any:
    if text is None:
        return None
    if tag in BOOLEANS:
        assert text in ("true", "false"), f"<{tag}> must be true or false, not {text!r}"
        return text == "true"
    if (parent, tag) in INTEGERS:
        return int(text)
    if tag in NUMBERS:
        return float(text)
    return text


def xml_to_json(element: ET.Element, parent: str = "") -> Any:
    """Read an element back into the JSON shape (the Spark convention)."""
    tag = element.tag
    assert "}" not in tag, f"namespaced element {tag}"
    children = list(element)
    if tag in LISTS:
        item = LISTS[tag]
        assert all(c.tag == item for c in children), f"<{tag}> may hold only <{item}>"
        return [xml_to_json(c, tag) for c in children]
    if children:
        keys = [c.tag for c in children]
        assert len(keys) == len(set(keys)), f"repeated elements in <{tag}>: {keys}"
        return {c.tag: xml_to_json(c, tag) for c in children}
    return _typed(tag, element.text, parent)


def check_json(response: httpx.Response, schema: dict[str, Any], status: int = 200) -> Any:
    """The JSON body of a conformant response."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = json.loads(response.content.decode("utf-8"))
    Draft202012Validator(schema).validate(body)
    return body


def check_xml(response: httpx.Response, schema: dict[str, Any], status: int = 200) -> Any:
    """The XML body of a conformant response, read back into the JSON shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>'), text[:60]
    root = ET.fromstring(response.content)
    assert root.tag == ROOTS[id(schema)], f"root <{root.tag}>"
    body = xml_to_json(root)
    if body is None:  # an empty list or object is an empty element
        body = [] if schema["type"] == "array" else {}
    Draft202012Validator(schema).validate(body)
    for match in re.finditer(r"<(\w+)>([^<]*)</\1>", text):
        if match.group(1).endswith(("_datetime", "changeset", "closed_date")):
            assert re.match(DATETIME, match.group(2)), match.group(0)
    return body


def check_both(
    http: httpx.Client, path: str, schema: dict[str, Any], expect: int = 200, **params: Any
) -> Any:
    """Ask in XML and in JSON; both conform and say the same. Returns the JSON body."""
    as_json = check_json(http.get(f"{path}.json", params=params), schema, expect)
    as_xml = check_xml(http.get(f"{path}.xml", params=params), schema, expect)
    assert as_xml == as_json, "the XML and the JSON answers differ"
    return as_json
