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


def test_a_refused_file_is_told_from_the_catalogue(db_url: str, tmp_path: Path) -> None:
    """The message is a catalogue template (Chinese exists for it); the library's words are
    only the operator's detail line."""
    from duban.web.i18n import translate

    missing = tmp_path / "nowhere.yaml"
    refused = run(db_url, tmp_path, "handover", "load", str(missing))
    assert refused.exit_code == 2
    assert f"cannot read {missing}: the file does not exist" in refused.output
    assert "No such file" in refused.output  # OSError's own words, as the detail
    broken = tmp_path / "broken.yaml"
    broken.write_text("bodies: [\n", encoding="utf-8")
    assert run(db_url, tmp_path, "handover", "load", str(broken)).exit_code == 2
    assert translate("malformed entry: {err}", "zh", err="x") == "条目格式有误：x"
