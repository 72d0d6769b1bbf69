"""Filing conditions' English names: shipped for every condition, loaded and stored
with the taxonomy, optional in a city's own file (the English face then shows the
Chinese), and filled for existing databases by migration 0038_conditions."""

from __future__ import annotations

import copy
import importlib.resources
import re
from typing import Any

import pytest
import yaml
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from duban.kernel.db.migrate import alembic_config, upgrade
from duban.kernel.db.session import make_session_factory
from duban.reference.categories import category_tree, install_taxonomy, live_taxonomy
from duban.reference.models import FilingCondition
from duban.reference.taxonomy import TaxonomyError, load_taxonomy
from tests.fakes import FixedClock

CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")


def _shipped_data() -> dict[str, Any]:
    text_ = importlib.resources.files("duban.data").joinpath("taxonomy.yaml").read_text("utf-8")
    data = yaml.safe_load(text_)
    assert isinstance(data, dict)
    return data


def test_every_shipped_condition_has_an_english_name() -> None:
    shipped = load_taxonomy(_shipped_data())
    assert len(shipped.conditions) >= 200
    missing = [c.code for c in shipped.conditions.values() if not c.name_en.strip()]
    assert missing == [], f"filing conditions without name_en: {missing}"
    chinese = [c.code for c in shipped.conditions.values() if CJK.search(c.name_en)]
    assert chinese == [], f"name_en with Chinese characters: {chinese}"
    for category in shipped.subclasses():
        names = [c.name_en for c in category.conditions]
        assert len(set(names)) == len(names), category.code  # a choice tells them apart
    garbage = shipped.require_condition("E010201")
    assert garbage.name_en == "Exposed rubbish visible on roads, squares or other public areas"
    assert garbage.display_name("en") == garbage.name_en
    assert garbage.display_name("zh") == "道路、广场等公共区域可见暴露垃圾"


def _without_condition_names(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for major in data["classes"]:
        for sub in major.get("children", []):
            for cond in sub["conditions"]:
                cond.pop("name_en", None)
    return data


def test_a_taxonomy_without_condition_names_loads_and_shows_the_chinese(
    session: Session, clock: FixedClock
) -> None:
    data = _without_condition_names(_shipped_data())
    taxonomy = load_taxonomy(data)
    cond = taxonomy.require_condition("E010201")
    assert cond.name_en == ""
    assert cond.display_name("en") == cond.name
    assert "name_en" not in taxonomy.to_mapping()["classes"][0]["children"][0]["conditions"][0]

    install_taxonomy(session, data, now=clock.now())
    session.commit()
    row = session.get(FilingCondition, "E010201")
    assert row is not None
    assert row.name_en == ""
    live = live_taxonomy(session).require_condition("E010201")
    assert live.display_name("en") == "道路、广场等公共区域可见暴露垃圾"

    # Loading the shipped file again brings the English names back.
    install_taxonomy(session, _shipped_data(), now=clock.now())
    session.commit()
    session.expire_all()
    row = session.get(FilingCondition, "E010201")
    assert row is not None
    assert row.name_en == "Exposed rubbish visible on roads, squares or other public areas"
    tree = {n["code"]: n for root in category_tree(session) for n in root["children"]}
    assert tree["E0102"]["conditions"][0]["name_en"] == row.name_en


def test_a_bad_condition_name_en_is_a_problem_named_by_place() -> None:
    data = _shipped_data()
    data["classes"][0]["children"][0]["conditions"][0]["name_en"] = 12
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(data)
    assert any("'name_en' must be text" in p for p in caught.value.problems)


def test_migration_0038_fills_the_shipped_names_by_code_and_name(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        shipped = {
            c.code: c.name_en
            for c in session.scalars(select(FilingCondition).where(FilingCondition.is_active))
        }
    assert shipped["E010201"]
    url = engine.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), "0037_english")
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM filing_conditions LIMIT 1")).keys()
        assert "name_en" not in columns
    with engine.begin() as conn:  # a city's own condition under a shipped code
        conn.execute(
            text("UPDATE filing_conditions SET name = '本市自定条件' WHERE code = 'E010202'")
        )
    original = "背街小巷、城乡结合部暴露垃圾"
    try:
        upgrade(engine)
        with factory() as session:
            filled = {c.code: c.name_en for c in session.scalars(select(FilingCondition))}
        assert filled["E010202"] == ""  # not the shipped condition: no name is guessed
        del filled["E010202"], shipped["E010202"]
        assert {code: filled[code] for code in shipped} == shipped
    finally:
        with engine.begin() as conn:  # as the shipped data was (PostgreSQL keeps the rows)
            conn.execute(
                text(
                    "UPDATE filing_conditions SET name = :name, name_en = :en "
                    "WHERE code = 'E010202'"
                ),
                {
                    "name": original,
                    "en": load_taxonomy(_shipped_data()).conditions["E010202"].name_en,
                },
            )
