"""Bulk exchange: export any filtered set, import a file in one transaction with a
per-row error report — including the real San Francisco 311 sample and its defects."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from duban.cases.actions import NewCase, report_case
from duban.cases.audit import verify_chain
from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import CaseStatus, Source
from duban.kernel.context import Actor
from duban.kernel.db.models import Counter
from duban.kernel.roles import Role
from duban.open311.bulk_export import BULK_FIELDS, dump, export_filter, export_rows
from duban.open311.bulk_import import import_cases, import_file, read_rows
from duban.open311.models import Open311Request
from tests.conftest import BACKEND
from tests.factories.world import World
from tests.fakes import FixedClock

TZ = ZoneInfo("Asia/Shanghai")
SF = Path(
    os.environ.get(
        "DUBAN_SF311_SAMPLE",
        Path(__file__).resolve().parents[3] / "shared/datasets/sf-311-cases-sample-10000.csv",
    )
)
IMPORTER = Actor(user_id=None, username="import", role=Role.ADMIN)


def cases_in(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def row(**fields: str) -> dict[str, str]:
    base = {
        "service_request_id": "X-1",
        "service_code": "E0102",
        "description": "垃圾",
        "lat": "34.03",
        "long": "113.82",
        "requested_datetime": "2026-11-01T08:00:00+08:00",
        "source": "inspection",
    }
    base.update(fields)
    return base


def run(session: Session, clock: FixedClock, rows: list[dict[str, str]], **kw: object):  # type: ignore[no-untyped-def]
    return import_cases(session, rows, actor=IMPORTER, clock=clock, tz=TZ, **kw)  # type: ignore[arg-type]


def test_export_writes_the_bulk_layout_for_any_filtered_set(world: World, session: Session) -> None:
    closed = world.case_in(CaseStatus.CLOSED, category="C0118")
    handling = world.case_in(CaseStatus.HANDLING)
    citizen = world.report(by="citizen", source=Source.CITIZEN, reporter_phone="13900000009")
    everything = list(export_rows(session, filters=export_filter(), tz=TZ))
    assert [r["service_request_id"] for r in everything] == [
        closed.code,
        handling.code,
        citizen.code,
    ]
    assert set(everything[0]) == set(BULK_FIELDS)
    first = everything[0]
    assert first["status"] == "closed"
    assert first["status_description"] == "Closed"
    assert first["closed_date"]
    assert first["closed_date"].endswith("+08:00")
    assert first["service_subtype"] == closed.condition_code
    assert first["source"] == "hotline"
    assert first["agency_responsible"] == "市政工程管理处"

    def codes(**kw: object) -> list[str]:
        rows = export_rows(session, filters=export_filter(**kw), tz=TZ)  # type: ignore[arg-type]
        return [r["service_request_id"] for r in rows]

    assert codes(statuses=["open"]) == [handling.code, citizen.code]
    assert codes(statuses=["handling"]) == [handling.code]
    assert codes(statuses=["fixed"]) == [closed.code]
    assert codes(service_codes=["C01"]) == [closed.code]
    assert codes(sources=[Source.CITIZEN]) == [citizen.code]
    assert codes(unit_code="SZGC") == [closed.code, handling.code]

    as_csv = dump(everything, "csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv)))
    assert list(parsed[0]) == list(BULK_FIELDS)
    assert parsed[1]["service_request_id"] == handling.code
    assert "\r\n" in as_csv
    as_json = json.loads(dump(everything, "json"))
    assert as_json == everything
    assert "13900000009" not in as_csv  # no contact details in an export either


def test_an_export_imports_back_as_new_reports(
    world: World, session: Session, clock: FixedClock
) -> None:
    world.case_in(CaseStatus.CLOSED, category="C0118")
    world.report(lat=34.04, lon=113.83, address="西大街 1 号")
    exported = dump(export_rows(session, filters=export_filter(), tz=TZ), "csv")
    report = import_file(
        session, io.StringIO(exported), fmt="csv", actor=IMPORTER, clock=clock, tz=TZ
    )
    assert report.committed
    assert report.imported == 2
    assert not report.errors
    imported = [
        session.scalars(select(Case).where(Case.code == c)).one() for c in report.case_codes
    ]
    assert [c.category_code for c in imported] == ["C0118", "E0102"]
    assert imported[1].address == "西大街 1 号"
    assert (imported[1].lat, imported[1].lon) == (34.04, 113.83)
    assert all(c.status == CaseStatus.REPORTED for c in imported)  # new reports, to verify
    assert all(c.source == Source.HOTLINE for c in imported)
    again = import_file(
        session, io.StringIO(exported), fmt="csv", actor=IMPORTER, clock=clock, tz=TZ
    )
    assert not again.committed
    assert {e.message.split(" as ")[0] for e in again.errors} == {"already imported"}


def test_an_imported_case_is_the_same_as_a_reported_one(
    world: World, session: Session, clock: FixedClock
) -> None:
    """The set-wise import writes what report_case writes, row for row."""
    data = NewCase(
        source=Source.INSPECTION,
        category_code="E0102",
        condition_code="E010201",
        lat=34.03,
        lon=113.82,
        address="西大街",
        description="垃圾",
    )
    native, _ = report_case(session, actor=IMPORTER, clock=clock, data=data)
    report = run(
        session,
        clock,
        [row(service_subtype="E010201", address="西大街")],
    )
    assert report.committed, report.errors
    session.expire_all()
    imported = session.scalars(select(Case).where(Case.code == report.case_codes[0])).one()
    skip = {"id", "code", "version", "last_event_hash"}  # the chain hash covers the id
    columns = [c.key for c in Case.__table__.columns if c.key not in skip]
    assert {k: getattr(imported, k) for k in columns} == {k: getattr(native, k) for k in columns}
    assert int(imported.code) == int(native.code) + 1  # the same daily sequence
    nxt, _ = report_case(session, actor=IMPORTER, clock=clock, data=data)
    assert int(nxt.code) == int(imported.code) + 1
    one, two = (
        session.scalars(select(CaseEvent).where(CaseEvent.case_id == c.id)).one()
        for c in (native, imported)
    )
    for key in ("seq", "action", "from_status", "to_status", "actor_role", "note", "payload"):
        assert getattr(one, key) == getattr(two, key)
    assert verify_chain(session).ok


def test_bad_rows_are_all_reported_and_by_default_nothing_is_written(
    session: Session, clock: FixedClock
) -> None:
    rows = [
        row(service_request_id="ok-1"),
        row(service_request_id="no-point", lat="", long=""),
        row(service_request_id="backwards", closed_date="2026-10-01T00:00:00+08:00"),
        row(service_request_id="nowhere", service_code="Z9999"),
        row(service_request_id="bad-date", requested_datetime="yesterday"),
        row(service_request_id="ok-1"),  # repeated id
        row(service_request_id="ok-2", media_url="ftp://x"),
        row(service_request_id="ok-3", service_subtype="C010101"),
        row(service_request_id="ok-4", lat="0", long="0"),
    ]
    report = run(session, clock, rows)
    assert not report.committed
    assert report.imported == 0
    assert cases_in(session) == 0
    found = {(e.row, e.field) for e in report.errors}
    assert found == {
        (2, "lat"),
        (3, "closed_date"),
        (4, "service_code"),
        (5, "requested_datetime"),
        (6, "service_request_id"),
        (7, "media_url"),
        (8, "service_subtype"),
        (9, "lat"),
    }
    skipped = run(session, clock, rows, on_error="skip")
    assert skipped.committed
    assert skipped.imported == 1
    assert skipped.bad_rows == 8
    assert cases_in(session) == 1


def test_a_failure_while_writing_leaves_no_half_batch(
    session: Session, clock: FixedClock, engine: Engine
) -> None:
    """A row that passes every check but fails in the database (here: a trigger) undoes
    the whole batch: no cases, no events, no case numbers used."""
    if BACKEND == "sqlite":
        ddl = [
            "CREATE TRIGGER refuse BEFORE INSERT ON open311_requests "
            "WHEN NEW.external_id = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
    else:
        ddl = [
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            "IF NEW.external_id = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON open311_requests "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))
    try:
        rows = [row(service_request_id=f"r{i}") for i in range(50)]
        rows[37] = row(service_request_id="poison")
        report = run(session, clock, rows)
        assert not report.committed
        assert report.imported == 0
        assert report.case_codes == []
        assert "refused" in report.errors[-1].message
        assert cases_in(session) == 0
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == 0
        assert session.scalar(select(func.count()).select_from(Counter)) == 0
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DROP TRIGGER refuse" + ("" if BACKEND == "sqlite" else " ON open311_requests")
                )
            )


def test_json_files_and_fixmystreets_wrapped_form_are_read(
    session: Session, clock: FixedClock
) -> None:
    plain = json.dumps([row(service_request_id="j1", lat=34.03)])  # numbers are fine too
    wrapped = json.dumps({"service_requests": [row(service_request_id="j2")]})
    for body in (plain, wrapped):
        report = import_file(
            session, io.StringIO(body), fmt="json", actor=IMPORTER, clock=clock, tz=TZ
        )
        assert report.committed, report.errors
        assert report.imported == 1
    assert len(read_rows(io.StringIO("service_code,lat\nE0102,34\n"))) == 1


@pytest.mark.slow
@pytest.mark.skipif(not SF.exists(), reason=f"the SF 311 sample is not at {SF}")
def test_the_sf_311_sample_imports_with_every_defect_reported(
    session: Session, clock: FixedClock
) -> None:
    rows = read_rows(SF)
    assert len(rows) == 10_000
    strict = import_cases(session, rows, actor=IMPORTER, clock=clock, tz=TZ, mapping="sf311")
    assert not strict.committed
    assert cases_in(session) == 0
    by_field: dict[str, set[str | None]] = {}
    for e in strict.errors:
        by_field.setdefault(e.field, set()).add(e.external_id)
    assert len(by_field["lat"]) == 24  # rows with no point
    assert len(by_field["closed_date"]) == 129  # rows that close before they open
    assert all(e.row >= 1 and e.external_id for e in strict.errors)

    report = import_cases(
        session, rows, actor=IMPORTER, clock=clock, tz=TZ, mapping="sf311", on_error="skip"
    )
    assert report.committed
    assert report.imported + report.bad_rows == 10_000  # every row imported or reported
    assert {e.external_id for e in report.errors} == {e.external_id for e in strict.errors}
    assert cases_in(session) == report.imported > 8_000
    sample = session.scalars(select(Case).where(Case.code == report.case_codes[0])).one()
    link = session.get(Open311Request, sample.id)
    assert link is not None
    assert link.channel == "import"
    assert link.external_id == "3600298"
    assert link.extra["requested_datetime"] == "2014-04-30T14:51:52-07:00"
    assert sample.category_code == "E0404"
    assert sample.source == Source.HOTLINE
    assert verify_chain(session).ok
    assert asdict(report.errors[0])["row"] >= 1


def test_rows_with_control_characters_are_row_errors_and_the_limits_are_the_reports(
    session: Session, clock: FixedClock
) -> None:
    """The import checks a row with the one report check (prepare_report): its limits
    (a 5,000-character description), and no control characters in any cell."""
    rows = [
        row(service_request_id="nul", description="垃\x00圾"),
        row(service_request_id="bell", address="西\x07大街"),
        row(service_request_id="long-ok", description="长" * 5000),
        row(service_request_id="too-long", description="长" * 5001),
    ]
    report = run(session, clock, rows, on_error="skip")
    assert report.committed
    assert report.imported == 1
    found = {(e.external_id, e.field) for e in report.errors}
    assert found == {("nul", "description"), ("bell", "address"), ("too-long", "description")}
    assert all("control character" in e.message for e in report.errors[:2])
