"""unitnames: an optional English name for each unit, shown on English pages

Revision ID: 0023_unitnames
Revises: 0022_public
Create Date: 2026-12-03 12:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_unitnames"
down_revision: str | None = "0022_public"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(
            sa.Column(
                "name_en",
                sa.String(length=200),
                nullable=True,
                comment="English name, shown on English pages (optional: else the name)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("name_en")
