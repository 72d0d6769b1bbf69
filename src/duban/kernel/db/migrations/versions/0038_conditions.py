"""filing_conditions.name_en: a filing condition's English name (the English face falls
back to the Chinese name), filled for the shipped taxonomy's conditions

Revision ID: 0038_conditions
Revises: 0037_english
Create Date: 2026-12-03 19:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038_conditions"
down_revision: str | None = "0037_english"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "filing_conditions",
        sa.Column(
            "name_en",
            sa.String(300),
            nullable=False,
            server_default="",
            comment="the English name; the English face falls back to name",
        ),
    )
    # The shipped taxonomy's English names, for the rows that are still its conditions:
    # same code and same Chinese name (a city's own taxonomy may reuse a code for another
    # condition, which keeps an empty English name until the city loads one).
    from duban.reference.categories import parse_taxonomy, shipped_taxonomy_data

    shipped = parse_taxonomy(shipped_taxonomy_data()).conditions.values()
    rows = [{"code": c.code, "cname": c.name, "name_en": c.name_en} for c in shipped if c.name_en]
    if rows:
        op.get_bind().execute(
            sa.text(
                "UPDATE filing_conditions SET name_en = :name_en "
                "WHERE code = :code AND name = :cname AND name_en = ''"
            ),
            rows,
        )


def downgrade() -> None:
    # A plain ALTER (SQLite 3.35+): a batch copy of a table other tables point at would
    # trip the foreign keys.
    op.execute("ALTER TABLE filing_conditions DROP COLUMN name_en")
