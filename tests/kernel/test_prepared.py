"""Statements compiled once and run on the DB-API cursor (store/prepared.py).

They must bind and read values exactly as ``Connection.execute`` does, on both
databases: aware UTC datetimes, enums, JSON, booleans, NULLs and literals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Integer, Table, bindparam, func, insert, select

from duban.accounts.models import User
from duban.kernel.db.models import Setting
from duban.kernel.db.prepared import Compiled, Prepared
from duban.kernel.roles import Role

AT = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
USERS = cast(Table, User.__table__)
SETTINGS = cast(Table, Setting.__table__)


def _run(engine: Engine, prepared: Prepared, values: dict[str, Any]) -> Any:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        row = prepared.first(cursor, engine.dialect, values)
        raw.commit()
        return row
    finally:
        raw.close()


def test_rows_written_on_the_cursor_read_back_as_sqlalchemy_wrote_them(engine: Engine) -> None:
    stmt = Prepared(
        insert(USERS)
        .values(
            {
                c.key: bindparam(c.key, type_=c.type)
                for c in USERS.c
                if c.key not in ("id", "unit_id")
            }
        )
        .returning(USERS.c.id, USERS.c.created_at, USERS.c.role, USERS.c.beat)
    )
    beat = {"type": "Point", "coordinates": [113.82, 34.03]}
    row = _run(
        engine,
        stmt,
        {
            "username": "prepared",
            "display_name": "预编译",
            "password_hash": "x",
            "role": Role.COLLECTOR,
            "phone": None,
            "region_code": None,
            "beat": beat,
            "is_active": True,
            "created_at": AT,
            "token_epoch": 0,
        },
    )
    user_id, created_at, role, read_beat = row
    assert created_at == AT  # aware UTC again, microseconds kept
    assert role == Role.COLLECTOR
    assert read_beat == beat
    with engine.connect() as conn:
        stored = conn.execute(select(USERS).where(USERS.c.id == user_id)).one()
    assert stored.created_at == AT
    assert stored.role == Role.COLLECTOR
    assert stored.beat == beat
    assert stored.is_active is True
    assert stored.phone is None


def test_literals_in_a_statement_are_bound_with_it(engine: Engine) -> None:
    stmt = Prepared(
        select(
            func.coalesce(bindparam("a", type_=Integer), 40) + 2,
            bindparam("b", type_=Integer),
        )
    )
    assert _run(engine, stmt, {"a": None, "b": 7}) == (42, 7)
    assert _run(engine, stmt, {"a": 1, "b": None}) == (3, None)


def test_a_select_reads_typed_columns(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(SETTINGS).values(key="prepared-test", value={"n": 1}, updated_at=AT))
    stmt = Prepared(
        select(SETTINGS.c.value, SETTINGS.c.updated_at).where(SETTINGS.c.key == bindparam("key"))
    )
    assert _run(engine, stmt, {"key": "prepared-test"}) == ({"n": 1}, AT)
    assert _run(engine, stmt, {"key": "absent"}) is None


def test_expanding_parameters_are_refused(engine: Engine) -> None:
    stmt = select(USERS.c.id).where(USERS.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        Compiled(stmt, engine.dialect)
