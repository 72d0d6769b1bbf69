"""``duban webhook add|list|remove`` on this test's database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.commands import run


def test_a_webhook_is_added_listed_and_stopped(db_url: str, tmp_path: Path, engine: Engine) -> None:
    added = run(
        db_url, tmp_path, "webhook", "add", "https://hooks.example/duban", "--events",
        "case.dispatch,case.close", "--name", "12345 热线",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "webhook #1 https://hooks.example/duban (case.dispatch, case.close)" in added.output
    assert "secret: " in added.output
    listed = run(db_url, tmp_path, "webhook", "list")
    assert "#1\tactive\t12345 热线\thttps://hooks.example/duban" in listed.output
    assert run(db_url, tmp_path, "webhook", "remove", "1").exit_code == 0
    assert "#1\tstopped" in run(db_url, tmp_path, "webhook", "list").output
    assert run(db_url, tmp_path, "webhook", "remove", "9").exit_code == 2
    refused = run(db_url, tmp_path, "webhook", "add", "ftp://example.org/x")
    assert refused.exit_code == 2
