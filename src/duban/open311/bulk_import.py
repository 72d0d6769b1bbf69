"""Bulk import of cases from a file in the Open311 bulk layout (or another, mapped onto it).

Import files a whole file of cases (e.g. a third-party inspection batch, 第三方检查) as
new reports in **one transaction**, with a per-row error report:

* every row is checked first and every problem is reported with its row number — rows
  with no point, rows that close before they open, unknown services, duplicates — never
  silently dropped and never a crash;
* ``on_error="abort"`` (the default) writes nothing when any row is bad;
  ``on_error="skip"`` writes the good rows and lists the bad ones;
* the writing itself is all or nothing: a failure on any row rolls the whole batch back,
  so a bad row never leaves half a batch behind.

Source files come in other shapes too; a *mapping* turns a row of such a file into the
bulk layout (:mod:`duban.open311.bulk_export`). ``sf311`` reads the San Francisco 311
case export (DataSF ``vw6y-z8j6``).
"""

from __future__ import annotations

import csv
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO, Any, Final, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy import insert as insert_
from sqlalchemy.orm import Session

from duban.cases import (
    SOURCE_LABELS,
    Case,
    NewCase,
    PreparedReport,
    ReportRefs,
    Source,
    prepare_report,
    report_refs,
    write_reports,
)
from duban.kernel.context import Actor, Clock
from duban.kernel.db.session import REQUEST_MEMO, request_memo
from duban.kernel.errors import DubanError, InvalidInput, Msg
from duban.kernel.inputs import refuse_control_characters
from duban.kernel.unitofwork import writing
from duban.open311.bulk_export import BULK_FIELDS
from duban.open311.models import Open311Request

MAX_EXTERNAL_ID_CHARS: Final = 64
#: A report's fields as the bulk layout names them (for the per-row error report).
_ROW_FIELDS: Final[Mapping[str, str]] = {
    "category_code": "service_code",
    "condition_code": "service_subtype",
    "lon": "long",
    "crs": "lat",
    "photo_ids": "media_url",
}


# --------------------------------------------------------------------------- reading files


def read_rows(source: Path | IO[str], fmt: str | None = None) -> list[dict[str, str]]:
    """The rows of a CSV or JSON file as strings (``fmt`` from the file name if not given)."""
    if isinstance(source, Path):
        fmt = fmt or ("json" if source.suffix.lower() == ".json" else "csv")
        with source.open(encoding="utf-8-sig", newline="") as stream:
            return read_rows(stream, fmt)
    if (fmt or "csv") == "json":
        try:
            data = json.load(source)
        except json.JSONDecodeError as err:
            raise InvalidInput("the file is not valid JSON", field="file", cause=str(err)) from err
        if isinstance(data, dict) and isinstance(data.get("service_requests"), list):
            data = data["service_requests"]  # FixMyStreet's wrapped form
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InvalidInput("a JSON import is an array of objects", field="file")
        return [{str(k): "" if v is None else str(v) for k, v in r.items()} for r in data]
    reader = csv.DictReader(source)
    if not reader.fieldnames:
        raise InvalidInput("the CSV file has no header line", field="file")
    return [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]


# --------------------------------------------------------------------------- mappings


@dataclass(frozen=True)
class Mapped:
    """A source row in the bulk layout, with anything kept as it came and mapping errors."""

    fields: Mapping[str, str]
    extra: Mapping[str, str] = field(default_factory=dict)
    errors: Sequence[tuple[str, str]] = ()  # (field, message)


Mapping_ = Callable[[Mapping[str, str]], Mapped]


def open311_mapping(row: Mapping[str, str]) -> Mapped:
    """The Open311 bulk layout itself (what :func:`export_rows` writes)."""
    return Mapped(fields={k: (row.get(k) or "").strip() for k in BULK_FIELDS})


#: SF 311 ``Category`` → our service (subclass) code. Categories that are not public-space
#: problems a city-management centre handles (transit feedback, housing-authority work,
#: permits, referrals) have no service and are reported as such.
SF_CATEGORIES: Final[Mapping[str, str]] = {
    "Street and Sidewalk Cleaning": "E0104",  # 道路不洁
    "Graffiti Public Property": "E0113",  # 建筑物外立面不洁
    "Graffiti Private Property": "E0113",
    "Abandoned Vehicle": "E0107",  # 废弃车辆
    "General Requests": "E0199",  # 其他市容环境问题
    "Damaged Property": "E0199",
    "Sewer Issues": "E0404",  # 下水道堵塞或破损
    "Streetlights": "C0118",  # 路灯
    "Tree Maintenance": "C0402",  # 行道树
    "Street Defects": "E0110",  # 道路破损
    "Litter Receptacles": "C0305",  # 垃圾箱(果皮箱)
    "Illegal Postings": "E0201",  # 非法小广告
    "Rec and Park Requests": "C0405",  # 绿地
    "Sidewalk or Curb": "E0110",
    "Sign Repair": "C0209",  # 交通标志牌
    "Blocked Street or SideWalk": "E0507",  # 乱堆物堆料
    "Catch Basin Maintenance": "C0104",  # 雨水箅子
    "Noise Report": "E0508",  # 商业噪音
    "Construction Zone Permits": "E0304",  # 施工占道
    "Unpermitted Cab Complaint": "E0509",  # 黑车拉客
}
#: Finer choices by ``Request.Type`` where the category alone is too coarse.
SF_REQUEST_TYPES: Final[Mapping[str, str]] = {
    "Bulky Items": "E0108",  # 废弃家具设施
    "Illegal_Dumping": "E0103",  # 积存垃圾渣土
    "Damaged Parking_Meter": "C0202",  # 停车咪表
    "Damaged Traffic_Signal": "C0214",  # 交通信号灯
    "Illegal Encampment": "E0502",  # 流浪乞讨
}
SF_SOURCES: Final[Mapping[str, Source]] = {
    "Voice In": Source.HOTLINE,
    "Mail In": Source.HOTLINE,
    "e-mail In": Source.HOTLINE,
    "Open311": Source.CITIZEN,
    "Web Self Service": Source.CITIZEN,
    "Twitter": Source.CITIZEN,
    "Integrated Agency": Source.INSPECTION,
    "Other Department": Source.INSPECTION,
}
SF_TZ: Final = ZoneInfo("America/Los_Angeles")
#: ``MM/DD/YYYY hh:mm:ss AM`` (parsed by hand: ``strptime`` is most of an import's time).
SF_DATE: Final = re.compile(r"^(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d):(\d\d) ([AP]M)$")


def _sf_when(text: str, name: str, errors: list[tuple[str, str]]) -> str:
    text = text.strip()
    if not text:
        return ""
    match = SF_DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        month, day, year, hour, minute, second = (int(g) for g in match.groups()[:6])
        if not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if match.group(7) == "PM" else 0)
        return datetime(year, month, day, hour, minute, second, tzinfo=SF_TZ).isoformat()
    except ValueError:
        errors.append((name, f"'{text}' is not a date like 04/30/2014 02:51:52 PM"))
        return ""


def sf311_mapping(row: Mapping[str, str]) -> Mapped:
    """A row of the San Francisco 311 case export in the bulk layout."""
    errors: list[tuple[str, str]] = []
    category = (row.get("Category") or "").strip()
    request_type = (row.get("Request.Type") or "").strip()
    code = SF_REQUEST_TYPES.get(request_type) or SF_CATEGORIES.get(category, "")
    if not code:
        errors.append(
            (
                "service_code",
                f"category '{category}' ({request_type or 'no type'}) has no Duban service "
                "in the sf311 mapping",
            )
        )
    lat = lon = ""
    point = (row.get("Point") or "").strip().strip("()")
    if point:
        parts = [p.strip() for p in point.split(",")]
        if len(parts) == 2:
            lat, lon = parts
        else:
            errors.append(("lat", f"Point '{row.get('Point')}' is not '(lat, lon)'"))
    details = (row.get("Request.Details") or "").strip()
    description = request_type
    if details and details != request_type:
        description = f"{request_type}: {details}" if request_type else details
    source = (row.get("Source") or "").strip()
    fields = {
        "service_request_id": (row.get("CaseID") or "").strip(),
        "status": (row.get("Status") or "").strip().lower(),
        "status_notes": (row.get("Status.Notes") or "").strip(),
        "service_code": code,
        "description": description or category,
        "agency_responsible": (row.get("Responsible.Agency") or "").strip(),
        "requested_datetime": _sf_when(row.get("Opened") or "", "requested_datetime", errors),
        "updated_datetime": _sf_when(row.get("Updated") or "", "updated_datetime", errors),
        "closed_date": _sf_when(row.get("Closed") or "", "closed_date", errors),
        "address": (row.get("Address") or "").strip(),
        "lat": lat,
        "long": lon,
        "media_url": (row.get("Media.URL") or "").strip(),
        "source": SF_SOURCES[source].value if source in SF_SOURCES else source,
    }
    extra = {
        "sf_category": category,
        "sf_request_type": request_type,
        "sf_neighborhood": (row.get("Neighborhood") or "").strip(),
        "sf_supervisor_district": (row.get("Supervisor.District") or "").strip(),
    }
    return Mapped(fields=fields, extra=extra, errors=errors)


MAPPINGS: Final[Mapping[str, Mapping_]] = {"open311": open311_mapping, "sf311": sf311_mapping}


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class RowError:
    """One problem with one row (``row`` counts data rows from 1, the header excluded)."""

    row: int
    external_id: str | None
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did: it committed every good row, or nothing."""

    batch: str
    total: int = 0
    imported: int = 0
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    case_codes: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})

    def summary(self) -> str:
        state = "committed" if self.committed else "nothing written"
        return (
            f"import {self.batch}: {self.total} row(s), {self.imported} imported, "
            f"{self.bad_rows} bad row(s) with {len(self.errors)} problem(s); {state}"
        )


def write_error_report(report: ImportReport, out: IO[str]) -> None:
    """The per-row error report as CSV: row, external_id, field, message."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["row", "external_id", "field", "message"])
    for e in report.errors:
        writer.writerow([e.row, e.external_id or "", e.field, e.message])


@dataclass(frozen=True)
class _Good:
    row: int
    external_id: str | None
    report: PreparedReport
    link: dict[str, Any]


_SOURCE_WORDS: Final[Mapping[str, Source]] = {
    **{s.value: s for s in Source},
    **{SOURCE_LABELS[s][1].lower(): s for s in Source},
    **{SOURCE_LABELS[s][0]: s for s in Source},
    "phone": Source.HOTLINE,
    "voice": Source.HOTLINE,
    "web": Source.CITIZEN,
    "website": Source.CITIZEN,
    "app": Source.CITIZEN,
    "open311": Source.CITIZEN,
    "sms": Source.CITIZEN,
    "email": Source.CITIZEN,
    "twitter": Source.CITIZEN,
}


def _parse_when(text: str, name: str, tz: tzinfo) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(
            Msg("'{text}' is not an ISO 8601 datetime", text=text), field=name
        ) from err
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


def _number(text: str, name: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as err:
        raise InvalidInput(Msg("'{text}' is not a number", text=text), field=name) from err
    if not math.isfinite(value):
        raise InvalidInput(Msg("'{text}' is not a finite number", text=text), field=name)
    return value


def _check_row(
    index: int,
    mapped: Mapped,
    *,
    refs: ReportRefs,
    actor: Actor,
    now: datetime,
    tz: tzinfo,
    default_source: Source,
) -> tuple[_Good | None, list[RowError]]:
    """A row's own checks (its id, point, times, link), then the report's: the one
    :func:`~duban.cases.intake.prepare_report` every face uses, with its limits."""
    f = mapped.fields
    external_id = (f.get("service_request_id") or "").strip() or None
    errors = [RowError(index, external_id, fld, msg) for fld, msg in mapped.errors]

    def fail(err: InvalidInput, fallback: str) -> None:
        errors.append(RowError(index, external_id, err.field or fallback, err.message))

    mapped_errors = len(errors)
    for name, cell in f.items():  # no control characters anywhere in a row
        try:
            refuse_control_characters(cell or "", field_name=name)
        except InvalidInput as err:
            fail(err, name)
    if len(errors) > mapped_errors:
        return None, errors
    if external_id and len(external_id) > MAX_EXTERNAL_ID_CHARS:
        errors.append(RowError(index, external_id, "service_request_id", "longer than 64"))
    code = (f.get("service_code") or "").strip()
    if not code and not any(e.field == "service_code" for e in errors):
        errors.append(RowError(index, external_id, "service_code", "service_code is missing"))
    subtype = (f.get("service_subtype") or "").strip() or None
    lat = lon = None
    try:
        lat = _number(f.get("lat") or "", "lat")
        lon = _number(f.get("long") or "", "long")
    except InvalidInput as err:
        fail(err, "lat")
    if not any(e.field in ("lat", "long") for e in errors):
        if lat is None or lon is None:
            errors.append(
                RowError(index, external_id, "lat", "no point: lat and long are required")
            )
        elif not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
            errors.append(RowError(index, external_id, "lat", f"({lat}, {lon}) is not a point"))
    requested = closed = None
    for name in ("requested_datetime", "updated_datetime", "closed_date", "expected_datetime"):
        try:
            value = _parse_when(f.get(name) or "", name, tz)
        except InvalidInput as err:
            fail(err, name)
            continue
        if name == "requested_datetime":
            requested = value
        elif name == "closed_date":
            closed = value
    if requested and closed and closed < requested:
        errors.append(
            RowError(
                index,
                external_id,
                "closed_date",
                f"closes before it opens: closed {closed.isoformat()} < "
                f"requested {requested.isoformat()}",
            )
        )
    media = (f.get("media_url") or "").strip()
    # Our own exports without --base-url carry root-relative links; anything else must be
    # an http(s) URL.
    if media and (not media.lower().startswith(("http://", "https://", "/")) or len(media) > 2000):
        errors.append(RowError(index, external_id, "media_url", "not an http(s) URL"))
    source_text = (f.get("source") or "").strip()
    source = _SOURCE_WORDS.get(source_text.lower(), _SOURCE_WORDS.get(source_text, default_source))
    if errors or lat is None or lon is None:
        return None, errors
    # A row without a description says what it is: its service's name.
    named = refs.taxonomy.find_category(code)
    description = (f.get("description") or "").strip() or (named.name if named else "")
    try:
        prepared = prepare_report(
            refs,
            actor=actor,
            data=NewCase(
                source=source,
                category_code=code,
                condition_code=subtype,
                lat=lat,
                lon=lon,
                address=(f.get("address") or "").strip(),
                description=description,
            ),
            idempotency_key=None,
            now=now,
        )
    except DubanError as err:
        field_name = getattr(err, "field", None) or "source"
        return None, [
            RowError(index, external_id, _ROW_FIELDS.get(field_name, field_name), err.message)
        ]
    keep = {k: v for k, v in f.items() if v and k not in ("lat", "long", "description")}
    return (
        _Good(
            row=index,
            external_id=external_id,
            report=prepared,
            link={
                "service_code": code,
                "address_id": (f.get("address_id") or "").strip()[:200] or None,
                "media_urls": [media] if media else [],
                "extra": {**keep, **{k: v for k, v in mapped.extra.items() if v}},
            },
        ),
        [],
    )


def _write_batch(session: Session, good: Sequence[_Good], *, batch: str) -> list[str]:
    """Write the checked rows as reports with the one writer of new cases
    (:func:`~duban.cases.intake.write_reports`: a few statements for the whole file, so a
    10,000-row file takes seconds, not minutes) and link each to its row, in one unit
    of work: all or nothing."""
    if not good:
        return []
    with writing(session):
        written = write_reports(session, [g.report for g in good])
        session.execute(
            insert_(cast(Table, Open311Request.__table__)),
            [
                {
                    "case_id": w.case["id"],
                    "channel": "import",
                    "api_key_id": None,
                    "token": None,
                    "external_id": item.external_id,
                    "batch": batch,
                    "service_code": item.link["service_code"],
                    "address_id": item.link["address_id"],
                    "is_pinpointed": True,
                    "attributes": {},
                    "media_urls": item.link["media_urls"],
                    "contact": {},
                    "extra": item.link["extra"],
                    "created_at": w.prepared.now,
                }
                for w, item in zip(written, good, strict=True)
            ],
        )
    return [w.case["code"] for w in written]


def import_cases(
    session: Session,
    rows: Iterable[Mapping[str, str]],
    *,
    actor: Actor,
    clock: Clock,
    tz: tzinfo,
    mapping: str | Mapping_ = "open311",
    on_error: str = "abort",
    default_source: Source = Source.INSPECTION,
) -> ImportReport:
    """File the rows as new reports in one transaction; see the module docstring."""
    # One import is one request as far as reference data goes: the policy and the map are
    # read (and their stamps checked) once, not once per row.
    own_memo = request_memo(session) is None
    if own_memo:
        session.info[REQUEST_MEMO] = {}
    try:
        return _import_cases(
            session,
            rows,
            actor=actor,
            clock=clock,
            tz=tz,
            mapping=mapping,
            on_error=on_error,
            default_source=default_source,
        )
    finally:
        if own_memo:
            session.info.pop(REQUEST_MEMO, None)


def _import_cases(
    session: Session,
    rows: Iterable[Mapping[str, str]],
    *,
    actor: Actor,
    clock: Clock,
    tz: tzinfo,
    mapping: str | Mapping_,
    on_error: str,
    default_source: Source,
) -> ImportReport:
    if on_error not in ("abort", "skip"):
        raise InvalidInput("on_error is 'abort' or 'skip'", field="on_error")
    convert = MAPPINGS[mapping] if isinstance(mapping, str) else mapping
    report = ImportReport(batch=f"import-{clock.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}")
    refs = report_refs(session)
    now = clock.now()
    good: list[_Good] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(rows, start=1):
        report.total += 1
        try:
            mapped = convert(raw)
        except (KeyError, ValueError, TypeError) as err:
            report.errors.append(RowError(index, None, "row", f"cannot read the row: {err}"))
            continue
        candidate, errors = _check_row(
            index,
            mapped,
            refs=refs,
            actor=actor,
            now=now,
            tz=tz,
            default_source=default_source,
        )
        ext = (mapped.fields.get("service_request_id") or "").strip()
        if ext:
            if ext in seen:
                errors.append(
                    RowError(
                        index, ext, "service_request_id", f"repeats row {seen[ext]} of the file"
                    )
                )
                candidate = None
            else:
                seen[ext] = index
        report.errors.extend(errors)
        if candidate is not None:
            good.append(candidate)
    _already_imported(session, good, report)
    bad = {e.row for e in report.errors}
    good = [g for g in good if g.row not in bad]
    report.errors.sort(key=lambda e: e.row)
    if report.errors and on_error == "abort":
        session.rollback()
        return report
    try:
        report.case_codes = _write_batch(session, good, batch=report.batch)
    except Exception as err:  # the unit of work rolled the whole batch back
        message = err.message if isinstance(err, DubanError) else f"{type(err).__name__}: {err}"
        report.errors.append(
            RowError(0, None, "batch", f"writing failed; the whole batch was undone: {message}")
        )
        report.case_codes = []
        return report
    report.imported = len(report.case_codes)
    report.committed = True
    return report


def _already_imported(session: Session, good: Sequence[_Good], report: ImportReport) -> None:
    """Rows whose id was imported before are reported, so a file can be re-run safely."""
    ids = [g.external_id for g in good if g.external_id]
    found: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found.update(
            (ext, code)
            for ext, code in session.execute(
                select(Open311Request.external_id, Case.code)
                .join(Case, Case.id == Open311Request.case_id)
                .where(Open311Request.channel == "import", Open311Request.external_id.in_(chunk))
            )
            if ext is not None
        )
    for g in good:
        if g.external_id and g.external_id in found:
            report.errors.append(
                RowError(
                    g.row,
                    g.external_id,
                    "service_request_id",
                    f"already imported as case {found[g.external_id]}",
                )
            )


def import_file(
    session: Session,
    path: Path | IO[str],
    *,
    fmt: str | None = None,
    **kwargs: Any,
) -> ImportReport:
    """:func:`import_cases` over a CSV or JSON file."""
    return import_cases(session, read_rows(path, fmt), **kwargs)
