"""``duban apikey …``, ``duban export open311`` and ``duban import open311``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from duban.cases.models import Case
from duban.cases.workflow import CaseStatus
from duban.cli import app
from duban.kernel.errors import PermissionDenied
from duban.open311.apikeys import authenticate_key
from duban.open311.config import load_config
from duban.open311.models import ApiKey
from tests.factories.world import World


def cases(session: Session) -> int:
    session.rollback()  # a new transaction sees what the command wrote
    return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_apikey_create_prints_the_key_once_and_keeps_only_its_hash(
    cli: CliRunner, session: Session
) -> None:
    result = cli.invoke(app, ["apikey", "create", "fixmystreet"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    assert key.startswith("o311_")
    assert len(key) >= 40
    row = session.scalars(select(ApiKey)).one()
    assert key not in (row.key_hash, row.prefix)
    assert authenticate_key(session, key).name == "fixmystreet"

    again = cli.invoke(app, ["apikey", "create", "fixmystreet"])
    assert again.exit_code == 2
    listed = cli.invoke(app, ["apikey", "list"])
    assert "fixmystreet" in listed.stdout
    assert "active" in listed.stdout
    assert key not in listed.stdout

    revoked = cli.invoke(app, ["apikey", "revoke", "fixmystreet"])
    assert revoked.exit_code == 0, revoked.output
    session.rollback()  # a new transaction sees what the command wrote
    with pytest.raises(PermissionDenied):
        authenticate_key(session, key)
    assert "revoked" in cli.invoke(app, ["apikey", "list"]).stdout
    assert cli.invoke(app, ["apikey", "revoke", "nobody"]).exit_code == 2


def test_export_then_import_through_the_command_line(
    cli: CliRunner, world: World, session: Session, tmp_path: Path
) -> None:
    world.case_in(CaseStatus.HANDLING)
    world.report(category="C0118")
    out = tmp_path / "cases.csv"
    result = cli.invoke(app, ["export", "open311", "--status", "open", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 2
    as_json = cli.invoke(
        app, ["export", "open311", "--format", "json", "--service-code", "C01", "-"]
    )
    assert as_json.exit_code == 0, as_json.output
    assert [r["service_code"] for r in json.loads(as_json.stdout)] == ["C0118"]

    imported = cli.invoke(app, ["import", "open311", str(out)])
    assert imported.exit_code == 0, imported.output
    assert "2 imported" in imported.stdout
    assert cases(session) == 4

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "service_request_id,service_code,lat,long,description\n"
        "a,E0102,34.03,113.82,ok\n"
        "b,E0102,,,no point\n",
        encoding="utf-8",
    )
    report = tmp_path / "errors.csv"
    refused = cli.invoke(app, ["import", "open311", str(bad), "--errors", str(report)])
    assert refused.exit_code == 1
    assert "nothing written" in refused.stdout
    problems = list(csv.DictReader(report.read_text(encoding="utf-8").splitlines()))
    assert [(p["row"], p["external_id"], p["field"]) for p in problems] == [("2", "b", "lat")]
    assert cases(session) == 4
    partial = cli.invoke(app, ["import", "open311", str(bad), "--skip-invalid"])
    assert partial.exit_code == 0, partial.output
    assert cases(session) == 5


def test_open311_config_is_shown_and_set(cli: CliRunner, tmp_path: Path, session: Session) -> None:
    shown = cli.invoke(app, ["open311", "config"])
    assert shown.exit_code == 0, shown.output
    assert "attributes:" in shown.stdout
    assert "@conditions" in shown.stdout
    config = tmp_path / "open311.yaml"
    config.write_text("jurisdiction_id: xuchang.gov.cn\nservice_type: batch\n", encoding="utf-8")
    saved = cli.invoke(app, ["open311", "config", str(config)])
    assert saved.exit_code == 0, saved.output
    session.rollback()
    live = load_config(session)
    assert live.config.jurisdiction_id == "xuchang.gov.cn"
    assert live.config.service_type == "batch"
    config.write_text("service_type: sometimes\n", encoding="utf-8")
    refused = cli.invoke(app, ["open311", "config", str(config)])
    assert refused.exit_code == 2
