"""History rows: whole case lifecycles as rows of a ``duban import history`` file, so a
test can lay out months of cases at chosen times through the real use cases; rows
(dicts) written as CSV or XLSX files; the case an old id went in as."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duban.cases.history import (
    HistoryReport,
    HistoryRow,
    import_history,
    read_history,
    write_history_csv,
)
from duban.cases.models import Case, ImportedCase
from tests.factories.places import LAT, LON
from tests.factories.reference import CATEGORY

#: After the report: (minutes later, action, user, fields) up to closing.
TO_CLOSE: tuple[tuple[int, str, str, dict[str, str]], ...] = (
    (10, "assign", "operator", {"collector": "collector"}),
    (40, "verify", "collector", {}),
    (60, "file", "shift_lead", {}),
    (65, "dispatch", "dispatcher", {"unit": "SZGC"}),
    (90, "accept", "handler", {}),
    (300, "feedback", "handler", {}),
    (310, "assign", "operator", {"collector": "collector"}),
    (330, "check", "collector", {"passed": "true"}),
    (420, "close", "shift_lead", {}),
)


def lifecycle(
    ref: str, reported: datetime, *, closed: bool = True, category: str = CATEGORY
) -> list[HistoryRow]:
    """A hotline case reported at ``reported`` (at the test point) and, if ``closed``,
    taken to 已结案 the same day, 7 hours later."""
    fields: dict[str, Any] = {
        "source": "hotline",
        "category_code": category,
        "lon": str(LON),
        "lat": str(LAT),
        "description": f"旧系统案件 {ref}",
    }
    rows = [HistoryRow(0, ref, reported.isoformat(), "report", "operator", fields)]
    if closed:
        rows += [
            HistoryRow(0, ref, (reported + timedelta(minutes=m)).isoformat(), a, u, f)
            for m, a, u, f in TO_CLOSE
        ]
    return rows


def lay_out(session: Session, rows: list[HistoryRow], grids: dict[str, str]) -> None:
    """Replay ``rows``, then put each case (by its ref) in the grid ``grids`` names (the
    place codes are not sealed columns)."""
    from duban.evaluation import relocate_missed

    report = import_history(session, rows=rows)
    assert report.refused == [], report.refused
    moved = []
    for ref, grid in grids.items():
        case_id = session.get(ImportedCase, ref)
        assert case_id is not None
        session.execute(update(Case).where(Case.id == case_id.case_id).values(grid_code=grid))
        moved.append(case_id.case_id)
    relocate_missed(session, moved)  # a statement, not the ORM: the 漏报 moved by hand
    session.commit()


def history_csv(
    tmp_path: Path,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    name: str = "history.csv",
) -> Path:
    path = tmp_path / name
    path.write_text(write_history_csv(rows, columns), encoding="utf-8")
    return path


def history_xlsx(tmp_path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(columns))
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    path = tmp_path / "history.xlsx"
    book.save(path)
    return path


def imported_case(session: Session, ref: str) -> Case:
    """The case the old system's id ``ref`` was imported as."""
    return session.scalars(
        select(Case)
        .join(ImportedCase, ImportedCase.case_id == Case.id)
        .where(ImportedCase.ref == ref)
    ).one()


def import_file(session: Session, path: Path) -> HistoryReport:
    """``duban import history`` of a CSV or XLSX file, through the use case."""
    return import_history(session, rows=read_history(path))
