"""tiers: staff scoped to a territory; on-the-spot fixes counted apart; 12345 tickets

Revision ID: 0007_tiers
Revises: 0006_evaluation
Create Date: 2026-12-03 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tiers"
down_revision: str | None = "0006_evaluation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it too): no table copy, the partial indexes stay.
    op.add_column(
        "users",
        sa.Column(
            "region_code",
            sa.String(length=32),
            nullable=True,
            comment="the district or street whose cases the user sees and acts on "
            "(none: city-wide)",
        ),
    )
    op.add_column(
        "cases",
        sa.Column(
            "hotline_ticket",
            sa.String(length=40),
            nullable=True,
            comment="12345 热线工单号 of a hotline case",
        ),
    )
    op.create_index("ix_cases_hotline_ticket", "cases", ["hotline_ticket"])
    op.add_column(
        "cases",
        sa.Column(
            "fixed_on_site",
            sa.Boolean(),
            nullable=False,
            server_default=sa.text("false"),
            comment="即查即改: fixed by the reporter on the spot, born closed, never dispatched",
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_hotline_ticket", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("fixed_on_site")
        batch.drop_column("hotline_ticket")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("region_code")
