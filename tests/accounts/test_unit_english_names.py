"""Every unit has an English name for the English pages: drafted from its Chinese name
(the trade's words translated, proper names in pinyin) when it is created or, for the
units before it, by migration 0035; the admin corrects the draft."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text

from duban.accounts.unitnames import english_unit_name
from duban.accounts.users import create_unit
from duban.kernel.db.migrate import alembic_config, upgrade
from duban.kernel.db.session import make_session_factory
from tests.factories.world import World


@pytest.mark.parametrize(
    ("chinese", "english"),
    [
        ("环卫处", "Sanitation Office"),
        ("市政工程管理处", "Municipal Engineering Administration Office"),
        ("环境卫生管理处", "Environmental Sanitation Administration Office"),
        ("魏都区城管局", "Weidu District Urban Management Bureau"),
        ("许昌市城市管理局", "Xuchang City Urban Management Bureau"),
        ("供电公司", "Power Supply Company"),
        ("SZ 单位", "SZ Unit"),
    ],
)
def test_the_draft_translates_the_trades_words_and_spells_the_rest(
    chinese: str, english: str
) -> None:
    assert english_unit_name(chinese) == english


def test_a_unit_created_without_an_english_name_gets_the_draft(world: World) -> None:
    drafted = create_unit(world.session, code="YLC", name="园林绿化管理处")
    given = create_unit(world.session, code="ZF", name="执法大队", name_en="Enforcement Brigade")
    assert drafted.name_en == "Landscaping and Greening Administration Office"
    assert given.name_en == "Enforcement Brigade"


def test_migration_0037_drafts_the_english_names_units_lack(world: World, engine: Engine) -> None:
    world.session.execute(text("UPDATE units SET name_en = NULL WHERE code = 'HWC'"))
    world.session.execute(text("UPDATE units SET name_en = 'Works' WHERE code = 'SZGC'"))
    world.session.commit()
    world.session.close()
    url = engine.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), "0036_search")
    upgrade(engine)
    with make_session_factory(engine)() as session:
        rows = session.execute(
            text("SELECT code, name_en FROM units WHERE code IN ('HWC', 'SZGC')")
        )
        names = {code: name_en for code, name_en in rows}
    assert names == {
        "HWC": "Environmental Sanitation Administration Office",
        "SZGC": "Works",  # an admin's name stays
    }
