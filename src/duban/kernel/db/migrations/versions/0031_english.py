"""regions.name_en: a region's English name (the English face falls back to the Chinese)

Revision ID: 0031_english
Revises: 0030_missed
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_english"
down_revision: str | None = "0030_missed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("regions") as batch:
        batch.add_column(
            sa.Column(
                "name_en",
                sa.String(200),
                nullable=True,
                comment="the English name; the English face falls back to name",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("regions") as batch:
        batch.drop_column("name_en")
