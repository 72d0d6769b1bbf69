"""``duban ledger import FILE --title T`` and ``duban ledger export ID FILE``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from duban.ledgers.models import Ledger, LedgerNode
from tests.commands import count, run
from tests.factories.ledgers import seed003_rows, seed003_xlsx, write_xlsx


def test_import_then_export_then_import_again(engine: Engine, db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "台账.xlsx"
    source.write_bytes(seed003_xlsx())
    made = run(db_url, tmp_path, "ledger", "import", str(source), "--title", "巡察整改台账")
    assert made.exit_code == 0, made.output
    counts = "3 aspects, 10 categories, 29 problems, 79 items, 242 measures"
    assert f"imported ledger 1 '巡察整改台账': {counts}" in made.output
    out = tmp_path / "out.xlsx"
    exported = run(db_url, tmp_path, "ledger", "export", "1", str(out))
    assert exported.exit_code == 0, exported.output
    again = run(db_url, tmp_path, "ledger", "import", str(out), "--title", "再导入")
    assert again.exit_code == 0, again.output
    assert "242 measures" in again.output
    assert count(engine, LedgerNode) == 2 * (3 + 10 + 29 + 79 + 242)


def test_a_bad_file_lists_every_bad_cell_and_writes_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    rows = [list(r) for r in seed003_rows()[:2]]
    rows[1][8] = "下个月"
    source = tmp_path / "bad.xlsx"
    source.write_bytes(write_xlsx(rows))
    refused = run(db_url, tmp_path, "ledger", "import", str(source), "--title", "坏")
    assert refused.exit_code == 2
    assert "第 3 行「完成时限」" in refused.output
    assert "row 3, 完成时限: 不是日期" in refused.output
    assert count(engine, Ledger) == 0
    missing = run(db_url, tmp_path, "ledger", "export", "42", str(tmp_path / "x.xlsx"))
    assert missing.exit_code == 2
    assert "no ledger 42" in missing.output
