"""The ledgers' domain errors (mapped to HTTP once, in ``api/errors.py``, by their bases)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duban.kernel.errors import InvalidInput
from duban.ledgers.messages import text
from duban.ledgers.sheet import CellError


class LedgerFileRefused(InvalidInput):
    """An imported workbook refused whole: ``detail.rows`` names every bad row and cell."""

    code = "invalid_ledger_file"

    def __init__(self, summary: str, rows: Sequence[dict[str, Any]], *, lang: str) -> None:
        super().__init__(
            text(
                "the ledger file is refused; nothing was imported: {summary}", lang, summary=summary
            ),
            rows=list(rows),
        )
        self.rows = list(rows)


def cell_rows(errors: Sequence[CellError], *, lang: str, limit: int) -> list[dict[str, Any]]:
    """The ``detail.rows`` of a refusal: ``{"row", "column", "message"}`` per bad cell
    (at most ``limit``, then one row saying how many more)."""
    rows = [
        {"row": e.row, "column": e.column, "message": text(e.key, lang, **e.values)}
        for e in errors[:limit]
    ]
    if len(errors) > limit:
        rows.append(
            {
                "row": 0,
                "column": "",
                "message": text("and {count} more", lang, count=len(errors) - limit),
            }
        )
    return rows
