"""Workbooks in and out: a hostile-file check before openpyxl opens anything, the read
(``read_only``), and the template, export and progress workbooks (``write_only``)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from duban.ledgers.policy import ImportLimits
from duban.ledgers.sheet import EXAMPLE, HEADER


class FileRefused(ValueError):
    """The file as a whole is refused (not a workbook, too large, a zip bomb…)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key.format(**values) if values else key)
        self.key = key
        self.values = values


def check_zip(data: bytes, limits: ImportLimits) -> None:
    """Refuse a file that is no xlsx or would unpack too large, before openpyxl reads it.

    Raises:
        FileRefused: saying why.
    """
    if len(data) > limits.max_file_bytes:
        raise FileRefused(
            "the file is larger than the limit of {limit} bytes", limit=limits.max_file_bytes
        )
    if not data.startswith(b"PK\x03\x04"):
        raise FileRefused("the file is not an .xlsx workbook")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise FileRefused("the file is not an .xlsx workbook") from err
    if len(infos) > limits.max_entries:
        raise FileRefused("the workbook has more than {limit} entries", limit=limits.max_entries)
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise FileRefused("the file is not an .xlsx workbook")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise FileRefused(
                "an entry of the workbook inflates more than {ratio} times (a zip bomb?)",
                ratio=limits.max_ratio,
            )
    if total > limits.max_uncompressed_bytes:
        raise FileRefused(
            "the workbook unpacks to more than {limit} bytes", limit=limits.max_uncompressed_bytes
        )


def read_rows(data: bytes, limits: ImportLimits) -> list[tuple[object, ...]]:
    """The first sheet's rows (values as stored: a formula stays its text ``=…``).

    Raises:
        FileRefused: not a readable workbook, no sheet, too many rows.
    """
    check_zip(data, limits)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as err:  # openpyxl raises many kinds on a broken file
        raise FileRefused(
            "the workbook cannot be read: {reason}", reason=type(err).__name__
        ) from err
    try:
        if not book.worksheets:
            raise FileRefused("the workbook has no sheet")
        sheet = book.worksheets[0]
        rows: list[tuple[object, ...]] = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(tuple(row[: len(HEADER) + 5]))
            if len(rows) > limits.max_rows + 1:
                raise FileRefused("the sheet has more than {limit} rows", limit=limits.max_rows)
        return rows
    except FileRefused:
        raise
    except Exception as err:
        raise FileRefused(
            "the workbook cannot be read: {reason}", reason=type(err).__name__
        ) from err
    finally:
        book.close()


_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_WIDTHS = (18, 18, 24, 36, 40, 10, 16, 20, 12, 14, 16)


def write_sheet(rows: Iterable[Sequence[object]], *, title: str = "整改台账") -> bytes:
    """An xlsx of ``rows`` (the first the header, in bold); dates shown as dates."""
    return write_sheets([(title, rows)])


def write_sheets(sheets: Sequence[tuple[str, Iterable[Sequence[object]]]]) -> bytes:
    """An xlsx of one sheet per ``(title, rows)``."""
    book = Workbook(write_only=True)
    for title, rows in sheets:
        _fill(book.create_sheet(title), rows)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill(sheet: Any, rows: Iterable[Sequence[object]]) -> None:
    """The header styled, then plain rows (a styled cell each costs ~20× a plain value);
    a date cell gets its date format."""
    for index, width in enumerate(_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    first = True
    for row in rows:
        if first:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font = _HEAD_FONT
                cell.fill = _HEAD_FILL
                cells.append(cell)
            sheet.append(cells)
            first = False
            continue
        if any(isinstance(v, date) for v in row):
            sheet.append([_date_cell(sheet, v) if isinstance(v, date) else v for v in row])
        else:
            sheet.append(list(row))


def _date_cell(sheet: Any, value: date) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "yyyy-mm-dd"
    return cell


def template_workbook() -> bytes:
    """The downloadable template: the header and one example row."""
    return write_sheet([HEADER, EXAMPLE])
