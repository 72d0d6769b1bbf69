"""``duban evaluation score`` and ``duban evaluation show``."""

from __future__ import annotations

from pathlib import Path

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import Engine

from duban.evaluation.models import ManualScore
from tests.commands import count, run
from tests.evaluation.conftest import regions
from tests.factories.world import World

SCORE = [
    "evaluation", "score", "--scheme", "city_streets", "--item", "third_party",
    "--object", "street", "--code", "S1", "--from", "2026-11-01", "--to", "2026-12-01",
    "--note", "第三方检查报告",
]  # fmt: skip


def test_enter_a_score_then_see_the_ranking(
    world: World, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    regions(world)
    done = run(db_url, tmp_path, *SCORE, "--score", "12.5", "--by", "leader")
    assert done.exit_code == 0, done.output
    assert "third_party street S1: 12.5" in done.output
    assert count(engine, ManualScore) == 1
    shown = run(
        db_url, tmp_path, "evaluation", "show", "--object", "street", "--from", "2026-11-01",
        "--to", "2026-12-01", "--scheme", "city_streets", "--by", "leader",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[1].split()[:4] == ["1", "S1", "东街街道", "22.50"]
    assert lines[2].split()[:2] == ["2", "S2"]


def test_refusals_exit_2_with_the_message(
    world: World, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    regions(world)
    too_many = run(db_url, tmp_path, *SCORE, "--score", "30", "--by", "leader")
    assert too_many.exit_code == 2
    assert "between 0 and 18.5" in too_many.output
    handler = run(db_url, tmp_path, *SCORE, "--score", "3", "--by", "handler")
    assert handler.exit_code == 2
    assert count(engine, ManualScore) == 0


BULLETIN = ["evaluation", "bulletin", "--period"]


def test_bulletin_writes_the_file(
    world: World, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    regions(world)
    out = tmp_path / "bulletin.xlsx"
    done = run(
        db_url, tmp_path, "evaluation", "bulletin", "--period", "2026-11", "--format", "xlsx",
        "--by", "leader", str(out),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    book = load_workbook(out)
    assert book.sheetnames == ["街道综合排名", "街道指标明细"]
    names = [row[1] for row in book["街道综合排名"].iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == ["东街街道", "西街街道"]
    docx = tmp_path / "bulletin.docx"
    done = run(db_url, tmp_path, *BULLETIN, "2026-11", "--by", "leader", str(docx))
    assert done.exit_code == 0, done.output
    assert "2026年11月城市管理考核街道通报" in Document(str(docx)).paragraphs[0].text
    bad = run(db_url, tmp_path, *BULLETIN, "2026-13", "--by", "leader", str(docx))
    assert bad.exit_code == 2
    assert "YYYY-MM" in bad.output
    handler = run(db_url, tmp_path, *BULLETIN, "2026-11", "--by", "handler", str(docx))
    assert handler.exit_code == 2


def test_rebuild_the_case_facts(world: World, db_url: str, engine: Engine, tmp_path: Path) -> None:
    from duban.cases import CaseFact

    world.report()
    world.session.commit()
    kept = count(engine, CaseFact)
    assert kept == 2  # the case's row and its reporter's
    done = run(db_url, tmp_path, "evaluation", "rebuild-facts")
    assert done.exit_code == 0, done.output
    assert f"case facts rebuilt: {kept} rows" in done.output
    assert count(engine, CaseFact) == kept
