"""map counts: cases per unit grid, status and map flags (map_counts) for the zoomed-out
maps, the row each case is counted in (cases.mapped_as); backfilled set-based from cases

Revision ID: 0032_mapcounts
Revises: 0031_english
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0032_mapcounts"
down_revision: str | None = "0031_english"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "map_counts",
        sa.Column("grid_code", sa.String(32), nullable=False, comment="'': none"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grid_code", "status", "flags", name="pk_map_counts"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("mapped_as", sa.String(80), nullable=True))
    from duban.cases.mapcounts import rebuild_map_counts

    rebuild_map_counts(Session(bind=op.get_bind()))


def downgrade() -> None:
    # Not a batch: on SQLite that would copy the table without 0019's search triggers.
    op.execute("ALTER TABLE cases DROP COLUMN mapped_as")
    op.drop_table("map_counts")
