"""Bulk export in the Open311 bulk layout (CSV and JSON): a filter, its rows, the writers.

The layout is GeoReport v2's request fields plus the bulk spec's ``closed_date``,
``status_description``, ``source`` and ``service_subtype`` (here: the filing condition
立案条件). Export writes any filtered set of cases, a batch at a time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import IO, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import Case, CaseFilter, CaseStatus, Source, apply_case_filter
from duban.open311.config import load_config
from duban.open311.requests import RequestView, request_views
from duban.open311.statuses import STATUS_TABLE, statuses_for

#: The Open311 bulk layout, in order.
BULK_FIELDS: Final = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
    "closed_date",
    "status_description",
    "source",
    "service_subtype",
)


EXPORT_BATCH: Final = 1000


def export_filter(
    *,
    statuses: Sequence[str] = (),
    service_codes: Sequence[str] = (),
    sources: Sequence[Source] = (),
    unit_code: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    region: str | None = None,
) -> CaseFilter:
    """The cases an export asks for, as the one case filter; empty means any.

    ``statuses`` are words: ``open``, ``closed``, an Open311 extended status or one of
    ours. ``service_codes`` are subclasses, or major classes for all their subclasses.
    ``created_to`` is exclusive; ``region`` keeps a district's or a street's cases.
    """
    chosen = export_statuses(statuses)
    return CaseFilter(
        statuses=sorted(chosen),
        nothing=bool(statuses) and not chosen,
        categories=tuple(service_codes),
        sources=tuple(sources),
        unit_code=unit_code,
        created_from=created_from,
        created_to=created_to,
        region=region,
    )


def export_statuses(words: Sequence[str]) -> frozenset[CaseStatus]:
    """Our statuses that status words select (``open``, ``closed``, extended or ours)."""
    chosen: set[CaseStatus] = set()
    for word in words:
        text = word.strip().lower()
        if text in ("open", "closed") or text not in {s.value for s in CaseStatus}:
            chosen |= statuses_for(text)
        else:
            chosen.add(CaseStatus(text))
    return frozenset(chosen)


def export_rows(
    session: Session,
    *,
    filters: CaseFilter,
    tz: tzinfo,
    base_url: str = "",
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The matching cases in the bulk layout, oldest first, read in batches.

    ``now`` matters only to a filter on being overdue (default: the current time).
    """
    stmt = apply_case_filter(select(Case), filters, now or datetime.now(UTC))
    config = load_config(session).config
    last_id = 0
    while True:
        batch = list(
            session.scalars(stmt.where(Case.id > last_id).order_by(Case.id).limit(EXPORT_BATCH))
        )
        if not batch:
            return
        for view in request_views(session, batch, config):
            yield bulk_row(view, tz=tz, base_url=base_url)
        last_id = batch[-1].id
        session.expunge_all()  # keep memory flat on big exports


def _when(value: datetime | None, tz: tzinfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


def bulk_row(view: RequestView, *, tz: tzinfo, base_url: str = "") -> dict[str, Any]:
    """One request in the bulk layout (datetimes as W3C strings in the city's zone)."""
    urls = [f"{base_url}/open311/v2/media/{p}" for p in view.photo_ids] + list(view.media_urls)
    return {
        "service_request_id": view.service_request_id,
        "status": view.status,
        "status_notes": view.status_notes,
        "service_name": view.service_name,
        "service_code": view.service_code,
        "description": view.description,
        "agency_responsible": view.agency_responsible,
        "service_notice": view.service_notice,
        "requested_datetime": _when(view.requested_datetime, tz),
        "updated_datetime": _when(view.updated_datetime, tz),
        "expected_datetime": _when(view.expected_datetime, tz),
        "address": view.address,
        "address_id": view.address_id,
        "zipcode": view.zipcode,
        "lat": view.lat,
        "long": view.long,
        "media_url": urls[0] if urls else None,
        "closed_date": _when(view.closed_datetime, tz),
        "status_description": STATUS_TABLE[view.duban_status].description,
        "source": view.source.value,
        "service_subtype": view.condition_code,
    }


def write_csv(rows: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    """RFC 4180 CSV with a header line; returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=list(BULK_FIELDS), lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in BULK_FIELDS})
        count += 1
    return count


def write_json(rows: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    """A JSON array of objects, streamed; returns the number of rows."""
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(dict(row), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def dump(rows: Iterable[Mapping[str, Any]], fmt: str) -> str:
    """Rows as a CSV or JSON string (small exports, tests)."""
    buffer = io.StringIO()
    (write_json if fmt == "json" else write_csv)(rows, buffer)
    return buffer.getvalue()
