"""``duban handover load`` and ``duban handover list``."""

from __future__ import annotations

from pathlib import Path

from tests.commands import run


def test_load_the_shipped_list_twice_then_list_it(db_url: str, tmp_path: Path) -> None:
    first = run(db_url, tmp_path, "handover", "load")
    assert first.exit_code == 0, first.output
    assert "6 bodies saved, 10 responsibility-list entries added" in first.output
    again = run(db_url, tmp_path, "handover", "load")
    assert "0 responsibility-list entries added" in again.output
    listed = run(db_url, tmp_path, "handover", "list")
    assert "E040301 → RQGS" in listed.output
    assert "at-once" in listed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n", encoding="utf-8")
    assert run(db_url, tmp_path, "handover", "load", str(bad)).exit_code == 2
