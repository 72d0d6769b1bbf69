"""``duban taxonomy``: a city's own taxonomy loaded, refused whole, or exported.

Each test runs the real Typer app against this test's database (SQLite file or the
PostgreSQL test database), with the environment a script would set.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from duban.kernel.db.models import Setting
from duban.kernel.db.session import make_session_factory
from duban.reference.categories import TAXONOMY_KEY, shipped_taxonomy_data
from duban.reference.models import Category, FilingCondition
from tests.commands import count, run


def _city_taxonomy() -> dict[str, Any]:
    """The shipped taxonomy as a city would change it: one class gone, one new."""
    data = copy.deepcopy(shipped_taxonomy_data())
    data["name"] = "某市城市管理部件事件分类"
    data["classes"] = [c for c in data["classes"] if (c["kind"], c["code"]) != ("component", "01")]
    data["classes"].append(
        {
            "kind": "event",
            "code": "99",
            "name": "共享出行",
            "children": [
                {
                    "code": "9901",
                    "name": "共享单车乱停放",
                    "keywords": ["共享单车"],
                    "conditions": [
                        {
                            "code": "01",
                            "name": "占用盲道或阻碍通行",
                            "limit": {"amount": 2, "unit": "work_hours"},
                            "close_rule": "车辆已清理或规范停放",
                        }
                    ],
                }
            ],
        }
    )
    return data


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_city_replaces_the_taxonomy(engine: Engine, db_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "city.yaml", _city_taxonomy())
    result = run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert result.exit_code == 0, result.output
    assert "taxonomy loaded" in result.output
    with make_session_factory(engine)() as session:
        new = session.get(Category, "E9901")
        assert new is not None
        assert (new.name, new.kind, new.level, new.parent_code, new.is_active) == (
            "共享单车乱停放",
            "event",
            2,
            "E99",
            True,
        )
        condition = session.get(FilingCondition, "E990101")
        assert condition is not None
        assert (condition.limit_amount, condition.limit_unit) == (2, "work_hours")
        for code in ("C01", "C0101"):
            gone = session.get(Category, code)
            assert gone is not None  # old cases keep their codes ...
            assert not gone.is_active  # ... but the class is retired
        retired = session.get(FilingCondition, "C010101")
        assert retired is not None
        assert not retired.is_active
        kept = session.get(Category, "E0102")
        assert kept is not None
        assert kept.is_active
        meta = session.get(Setting, TAXONOMY_KEY)
        assert meta is not None
        assert meta.value["name"] == "某市城市管理部件事件分类"
    assert f"{len(_shipped_component_01())} retired" in result.output

    # Loading the same file again changes nothing.
    again = run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert again.exit_code == 0, again.output


def _shipped_component_01() -> list[str]:
    major = next(
        c
        for c in shipped_taxonomy_data()["classes"]
        if (c["kind"], c["code"]) == ("component", "01")
    )
    return ["C01", *(f"C{child['code']}" for child in major["children"])]


def test_a_broken_taxonomy_is_refused_whole_with_every_problem_listed(
    engine: Engine, db_url: str, tmp_path: Path, session: Session
) -> None:
    data = _city_taxonomy()
    new = data["classes"][-1]["children"][0]
    new["conditions"][0]["limit"] = {"amount": 2, "unit": "fortnights"}
    new["conditions"].append({"code": "01", "name": "重复编号", "limit": "2 work_hours"})
    data["classes"][0]["children"][0]["name"] = ""
    path = _write(tmp_path / "broken.yaml", data)
    before = (
        count(engine, Category, Category.is_active),
        count(engine, FilingCondition, FilingCondition.is_active),
    )
    result = run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert result.exit_code == 2, result.output
    assert "fortnights" in result.output
    assert "duplicate code E990101" in result.output
    assert "'name' is empty" in result.output
    assert "error: the taxonomy has 4 problem(s), listed above" in result.output
    chinese = run(db_url, tmp_path, "taxonomy", "load", str(path), LC_ALL="zh_CN.UTF-8")
    assert chinese.exit_code == 2
    assert "错误：分类数据有 4 处问题，见上方列表" in chinese.output
    # The listing in the operator's language too: no English sentence left in it.
    assert "编码 E990101 重复：已被" in chinese.output
    assert "未知时限单位 'fortnights'" in chinese.output
    assert "“name”为空" in chinese.output
    assert "duplicate code" not in chinese.output
    assert "unknown time-limit unit" not in chinese.output
    after = (
        count(engine, Category, Category.is_active),
        count(engine, FilingCondition, FilingCondition.is_active),
    )
    assert after == before
    assert session.get(Category, "E9901") is None
    kept = session.get(Category, "C01")
    assert kept is not None
    assert kept.is_active


@pytest.mark.parametrize(
    ("content", "message"),
    [("- just\n- a list\n", "does not hold a taxonomy mapping"), ("{unclosed: [", "cannot read")],
)
def test_an_unreadable_taxonomy_file_is_refused(
    engine: Engine, db_url: str, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert result.exit_code == 2
    assert message in result.output
    missing = run(db_url, tmp_path, "taxonomy", "load", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2


def test_taxonomy_export_prints_a_loadable_file(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    exported = run(db_url, tmp_path, "taxonomy", "export")
    assert exported.exit_code == 0
    path = tmp_path / "exported.yaml"
    path.write_text(exported.output, encoding="utf-8")
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == shipped_taxonomy_data()
    loaded = run(db_url, tmp_path, "taxonomy", "load", str(path))
    assert loaded.exit_code == 0, loaded.output
    assert "0 retired" in loaded.output
