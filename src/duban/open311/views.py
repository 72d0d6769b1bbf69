"""The Open311 wire model: the views of the Open311 use cases as documents.

Field names and their order follow the GeoReport v2 spec; the FixMyStreet extensions
(``groups``, ``automated``, the update documents) and ours (``extensions=true``) are
added where those clients look for them. Nothing here knows about XML or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from duban.cases import SOURCE_LABELS, STATUS_LABELS
from duban.open311.attributes import DefinitionView
from duban.open311.catalogue import DiscoveryView, ServiceView
from duban.open311.config import AttributeSpec
from duban.open311.render import Document
from duban.open311.requests import RequestView, Submitted, TokenView
from duban.open311.updates import UpdateAccepted, UpdateView

MEDIA_PATH = "media"


def media_url(base: str, photo_id: str) -> str:
    """The public URL of a case photo."""
    return f"{base}/{MEDIA_PATH}/{photo_id}"


def services_document(views: Sequence[ServiceView]) -> Document:
    """GET services."""
    return Document(
        "services",
        [
            {
                "service_code": v.service_code,
                "service_name": v.service_name,
                "description": v.description,
                "metadata": v.metadata,
                "type": v.type,
                "keywords": v.keywords,
                "group": v.group,
                "groups": list(v.groups),
            }
            for v in views
        ],
    )


def definition_document(view: DefinitionView) -> Document:
    """GET services/{code}."""
    attributes = []
    for a in view.attributes:
        item: dict[str, Any] = {
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": a.datatype_description or None,
            "order": a.order,
            "description": a.description,
            "values": [{"key": k, "name": n} for k, n in a.values],
        }
        if a.automated:
            item["automated"] = a.automated
        attributes.append(item)
    return Document(
        "service_definition", {"service_code": view.service_code, "attributes": attributes}
    )


def discovery_document(view: DiscoveryView, url: str) -> Document:
    """GET discovery."""
    return Document(
        "discovery",
        {
            "changeset": view.changeset,
            "contact": view.contact,
            "key_service": view.key_service,
            "endpoints": [
                {
                    "specification": view.specification,
                    "url": url,
                    "changeset": view.changeset,
                    "type": view.endpoint_type,
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


def submitted_document(result: Submitted) -> Document:
    """POST requests: an id or a token, never both."""
    item: dict[str, Any] = (
        {"token": result.token}
        if result.token is not None
        else {"service_request_id": result.service_request_id}
    )
    item["service_notice"] = result.service_notice
    item["account_id"] = result.account_id
    return Document("service_requests", [item])


def token_document(view: TokenView) -> Document:
    """GET tokens/{token}."""
    return Document(
        "service_requests",
        [{"service_request_id": view.service_request_id, "token": view.token}],
    )


def _request(
    v: RequestView, base: str, extensions: bool, specs: Mapping[str, AttributeSpec]
) -> dict[str, Any]:
    urls = [media_url(base, p) for p in v.photo_ids] + list(v.media_urls)
    item: dict[str, Any] = {
        "service_request_id": v.service_request_id,
        "status": v.status,
        "status_notes": v.status_notes,
        "service_name": v.service_name,
        "service_code": v.service_code,
        "description": v.description,
        "agency_responsible": v.agency_responsible,
        "service_notice": v.service_notice,
        "requested_datetime": v.requested_datetime,
        "updated_datetime": v.updated_datetime,
        "expected_datetime": v.expected_datetime,
        "address": v.address,
        "address_id": v.address_id,
        "zipcode": v.zipcode,
        "lat": v.lat,
        "long": v.long,
        "media_url": urls[0] if urls else None,
    }
    if extensions:
        label_zh, label_en, _ = STATUS_LABELS[v.duban_status]
        item["media_urls"] = urls
        item["attributes"] = [
            {
                "code": code,
                "name": code,
                "label": specs[code].description if code in specs else code,
                "value": value if isinstance(value, str) else ",".join(value),
            }
            for code, value in v.attributes.items()
        ]
        item["extended_attributes"] = {
            "case_id": str(v.case_id),
            "status_extended": v.status_extended,
            "duban_status": v.duban_status.value,
            "duban_status_label": f"{label_zh} {label_en}",
            "source": v.source.value,
            "source_label": SOURCE_LABELS[v.source][0],
            "kind": v.kind,
            "group": v.group,
            "condition_code": v.condition_code,
            "unit_code": v.unit_code,
            "grid_code": v.grid_code,
            "rework_count": v.rework_count,
            "is_supervised": v.is_supervised,
            "closed_datetime": v.closed_datetime,
            "channel": v.channel,
        }
    return item


def requests_document(
    views: Sequence[RequestView],
    base: str,
    *,
    extensions: bool = False,
    specs: Sequence[AttributeSpec] = (),
) -> Document:
    """GET requests and GET requests/{id} (a list of one)."""
    by_code = {s.code: s for s in specs}
    return Document("service_requests", [_request(v, base, extensions, by_code) for v in views])


def updates_document(views: Sequence[UpdateView], base: str) -> Document:
    """GET servicerequestupdates."""
    items = []
    for v in views:
        urls = [media_url(base, p) for p in v.photo_ids] + list(v.media_urls)
        items.append(
            {
                "update_id": v.update_id,
                "service_request_id": v.service_request_id,
                "status": v.status,
                "updated_datetime": v.updated_datetime,
                "description": v.description,
                "media_url": urls[0] if urls else None,
                "external_status_code": v.external_status_code,
            }
        )
    return Document("service_request_updates", items)


def update_accepted_document(result: UpdateAccepted) -> Document:
    """POST servicerequestupdates."""
    item: dict[str, Any] = {"update_id": result.update_id}
    if result.account_id:
        item["account_id"] = result.account_id
    return Document("service_request_updates", [item])
