"""Changing the values a CHECK constraint allows, without copying the table.

PostgreSQL drops and adds the constraint. SQLite cannot alter a constraint, and a table
copy of ``cases`` (referenced by every case table, with partial indexes) is what we
avoid; so the constraint's text is changed in the schema itself, as SQLite's
documentation describes for changes that leave the stored rows valid ("Making Other
Kinds Of Table Schema Changes": writable_schema, then a bumped schema_version). One
spelling for every migration that widens or narrows such a list (0018, 0025).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["change_check_values"]


def change_check_values(*, table: str, name: str, column: str, old: str, new: str) -> None:
    """Make the CHECK ``name`` of ``table`` read ``column IN (new)`` instead of
    ``column IN (old)`` (``old`` and ``new`` are SQL lists of quoted values)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
        op.create_check_constraint(name, table, f"{column} IN ({new})")
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
            "WHERE type = 'table' AND name = :table"
        ),
        {"old": f"{column} IN ({old})", "new": f"{column} IN ({new})", "table": table},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"),
        {"table": table},
    ).scalar_one()
    if f"{column} IN ({new})" not in sql:  # the table was written differently: say so
        raise RuntimeError(f"cannot find the CHECK of {table}.{column} to change it")
