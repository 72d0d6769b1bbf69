"""History import: an old platform's cases replayed through the use cases at their own
times; refused rows leave only their case out; the chain verifies; a re-run adds nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases.audit import verify_chain
from duban.cases.history import (
    HistoryReport,
    import_history,
    read_history,
)
from duban.cases.models import Case, CaseEvent, ImportedCase
from duban.cases.workflow import CaseStatus
from tests.commands import run
from tests.factories.cases import events
from tests.factories.history import history_csv, history_xlsx, imported_case
from tests.factories.places import LAT, LON
from tests.factories.reference import CATEGORY, condition
from tests.factories.world import World
from tests.fakes import local

COLUMNS = (
    "case",
    "at",
    "action",
    "user",
    "source",
    "category_code",
    "condition_code",
    "lon",
    "lat",
    "description",
    "reporter_phone",
    "collector",
    "unit",
    "passed",
    "reason",
    "score",
)


def _at(day: int, hour: int, minute: int = 0, *, month: int = 3, year: int = 2025) -> str:
    return local(year, month, day, hour, minute).isoformat()


def _report(
    case: str, at: str, *, by: str = "operator", source: str = "hotline", **kw: Any
) -> dict[str, Any]:
    return {
        "case": case,
        "at": at,
        "action": "report",
        "user": by,
        "source": source,
        "category_code": CATEGORY,
        "lon": LON,
        "lat": LAT,
        "description": f"旧系统案件 {case}",
        **kw,
    }


def _row(case: str, at: str, action: str, by: str, **kw: Any) -> dict[str, Any]:
    return {"case": case, "at": at, "action": action, "user": by, **kw}


def _lifecycle(
    case: str, day: int, *, rework: bool = False, by: str = "operator", source: str = "hotline"
) -> list[dict[str, Any]]:
    """report → verify → file → dispatch → accept → feedback → check → close (with a
    rework in between when asked)."""
    rows = [
        _report(case, _at(day, 9), by=by, source=source),
        _row(case, _at(day, 9, 10), "assign", "operator", collector="collector"),
        _row(case, _at(day, 9, 40), "verify", "collector"),
        _row(case, _at(day, 10), "file", "shift_lead"),
        _row(case, _at(day, 10, 5), "dispatch", "dispatcher", unit="SZGC"),
        _row(case, _at(day, 10, 30), "accept", "handler"),
        _row(case, _at(day, 14), "feedback", "handler"),
        _row(case, _at(day, 14, 10), "assign", "operator", collector="collector"),
    ]
    if rework:
        rows += [
            _row(case, _at(day, 14, 30), "check", "collector", passed="false", reason="未彻底清理"),
            _row(case, _at(day, 15), "feedback", "handler"),
            _row(case, _at(day, 15, 10), "assign", "operator", collector="collector"),
        ]
    rows += [
        _row(case, _at(day, 15, 30), "check", "collector", passed="true"),
        _row(case, _at(day, 16), "close", "shift_lead"),
    ]
    return rows


def _good_rows() -> list[dict[str, Any]]:
    rated = _lifecycle("OLD-3", 5, by="citizen", source="citizen")
    rated.append(_row("OLD-3", _at(6, 9), "rate", "citizen", score="5"))
    return [*_lifecycle("OLD-1", 3), *_lifecycle("OLD-2", 4, rework=True), *rated]


def _csv(tmp_path: Path, rows: Sequence[dict[str, Any]], name: str = "history.csv") -> Path:
    return history_csv(tmp_path, rows, COLUMNS, name)


def _xlsx(tmp_path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    return history_xlsx(tmp_path, rows, COLUMNS)


def _import(session: Session, path: Path, **kw: Any) -> HistoryReport:
    return import_history(session, rows=read_history(path), **kw)


def _case(session: Session, ref: str) -> Case:
    return imported_case(session, ref)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_full_lifecycles_are_replayed_at_their_own_times(
    session: Session, world: World, tmp_path: Path, kind: str
) -> None:
    rows = _good_rows()
    path = _csv(tmp_path, rows) if kind == "csv" else _xlsx(tmp_path, rows)
    report = _import(session, path)
    assert report.refused == []
    assert (report.cases, report.imported, report.already, report.events) == (3, 3, 0, len(rows))

    one = _case(session, "OLD-1")
    assert one.status == CaseStatus.CLOSED
    assert one.created_at == local(2025, 3, 3, 9)
    assert one.code.startswith("20250303")  # numbered by its own day
    assert one.dispatched_at == local(2025, 3, 3, 10, 5)
    two = _case(session, "OLD-2")
    assert (two.status, two.rework_count) == (CaseStatus.CLOSED, 1)
    trail = events(world.session_factory, two.id)
    assert [e.action for e in trail][-3:] == ["assign", "check", "close"]
    assert trail[-1].occurred_at == local(2025, 3, 4, 16)
    assert '"imported":true' in trail[-1].payload
    three = _case(session, "OLD-3")
    rate = events(world.session_factory, three.id)[-1]
    assert rate.action == "rate"
    assert '"rating":"satisfied"' in rate.payload
    assert verify_chain(session).ok


def test_a_case_dispatched_on_a_holiday_is_due_by_the_working_calendar(
    session: Session, world: World, tmp_path: Path
) -> None:
    cond = condition(session, 1, "work_days")
    rows = [
        _report("H-1", _at(30, 16, month=9), source="hotline")
        | {"category_code": cond.category_code, "condition_code": cond.code},
        _row("H-1", _at(30, 16, 5, month=9), "assign", "operator", collector="collector"),
        _row("H-1", _at(30, 16, 30, month=9), "verify", "collector"),
        _row("H-1", _at(1, 10, month=10), "file", "shift_lead"),
        _row("H-1", _at(2, 10, month=10), "dispatch", "dispatcher", unit="SZGC"),
    ]
    report = _import(session, _csv(tmp_path, rows))
    assert report.refused == []
    case = _case(session, "H-1")
    assert case.status == CaseStatus.DISPATCHED
    assert case.dispatched_at == local(2025, 10, 2, 10)
    # Oct 1–8 are the National Day holidays: the one working day is Oct 9.
    assert case.due_at == local(2025, 10, 9, 18)  # the end of that working day


def test_a_refused_row_names_its_line_and_leaves_only_its_case_out(
    session: Session, world: World, tmp_path: Path
) -> None:
    good = _lifecycle("OK-1", 3)
    bad_action = [_report("B-1", _at(3, 9)), _row("B-1", _at(3, 10), "polish", "operator")]
    backwards = [
        _report("B-2", _at(3, 9)),
        _row("B-2", _at(3, 10), "assign", "operator", collector="collector"),
        _row("B-2", _at(3, 8), "verify", "collector"),
    ]
    stranger = [_report("B-3", _at(3, 9)), _row("B-3", _at(3, 10), "void", "nobody", reason="x")]
    bad_category = [_report("B-4", _at(3, 9)) | {"category_code": "ZZ99"}]
    rows = [*good, *bad_action, *backwards, *stranger, *bad_category]
    path = _csv(tmp_path, rows)
    line = {id(r): n for n, r in enumerate(rows, start=2)}

    report = _import(session, path)

    assert (report.imported, len(report.refused)) == (1, 4)
    by_case = {r.case: r for r in report.refused}
    assert by_case["B-1"].line == line[id(bad_action[1])]
    assert "unknown action 'polish'" in by_case["B-1"].reason
    assert by_case["B-2"].line == line[id(backwards[2])]
    assert "time goes backwards" in by_case["B-2"].reason
    assert by_case["B-3"].line == line[id(stranger[1])]
    assert "unknown user 'nobody'" in by_case["B-3"].reason
    assert by_case["B-4"].line == line[id(bad_category[0])]
    assert "ZZ99" in by_case["B-4"].reason
    # Nothing of a refused case was written: one case, with its events only.
    assert session.scalars(select(ImportedCase.ref)).all() == ["OK-1"]
    assert len(session.scalars(select(Case)).all()) == 1
    assert len(session.scalars(select(CaseEvent)).all()) == len(good)
    assert verify_chain(session).ok


def test_importing_the_same_file_again_adds_nothing(
    session: Session, world: World, tmp_path: Path
) -> None:
    path = _csv(tmp_path, _good_rows())
    first = _import(session, path)
    assert first.imported == 3
    again = _import(session, path)
    assert (again.imported, again.already, again.events, again.refused) == (0, 3, 0, [])
    assert len(session.scalars(select(Case)).all()) == 3


def test_a_legacy_phone_number_is_left_out_rather_than_refusing_the_case(
    session: Session, world: World, tmp_path: Path
) -> None:
    rows = [
        _report("P-1", _at(3, 9), reporter_phone="找王师傅"),
        _report("P-2", _at(3, 9), reporter_phone="138 0000 1111"),
    ]
    report = _import(session, _csv(tmp_path, rows))
    assert (report.imported, report.phones_dropped) == (2, 1)
    assert _case(session, "P-1").reporter_phone is None
    assert _case(session, "P-2").reporter_phone == "13800001111"


def test_users_of_the_old_system_are_mapped_onto_usernames(
    session: Session, world: World, tmp_path: Path
) -> None:
    rows = [
        _report("M-1", _at(3, 9), by="张三"),
        _row("M-1", _at(3, 10), "reject", "张三", reason="非城管问题"),
    ]
    report = _import(session, _csv(tmp_path, rows), users={"张三": "operator"})
    assert report.refused == []
    assert _case(session, "M-1").status == CaseStatus.REJECTED


def test_the_command_imports_reports_and_verifies_the_chain(
    db_url: str, session: Session, world: World, tmp_path: Path
) -> None:
    rows = [*_good_rows(), _report("B-1", _at(3, 9)), _row("B-1", _at(3, 10), "polish", "ops")]
    path = _csv(tmp_path, rows)
    users = tmp_path / "users.csv"
    users.write_text("name,username\nops,operator\n", encoding="utf-8")
    result = run(db_url, tmp_path, "import", "history", str(path), "--users", str(users))
    assert result.exit_code == 1, result.output
    assert "3 imported" in result.output
    assert "1 refused" in result.output
    assert "unknown action 'polish'" in result.output
    assert "audit ok" in result.output
    again = run(db_url, tmp_path, "import", "history", str(path), "--users", str(users))
    assert "0 imported" in again.output
    assert "3 already imported (skipped)" in again.output
