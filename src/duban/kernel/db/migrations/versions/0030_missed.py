"""collector_beat_grids: the unit grids each collector's beat covers (漏报 is a join on
the cases' grid codes), resolved from the beats already drawn

Revision ID: 0030_missed
Revises: 0029_secrets
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0030_missed"
down_revision: str | None = "0029_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collector_beat_grids",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", name="fk_collector_beat_grids_user_id_users", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("grid_code", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "grid_code", name="pk_collector_beat_grids"),
    )
    op.create_index("ix_collector_beat_grids_grid_code", "collector_beat_grids", ["grid_code"])
    # The backfill: the same resolution as setting a beat.
    from duban.accounts.beats import resolve_beat_grids

    session = Session(bind=op.get_bind())
    resolve_beat_grids(session)
    session.flush()


def downgrade() -> None:
    op.drop_index("ix_collector_beat_grids_grid_code", table_name="collector_beat_grids")
    op.drop_table("collector_beat_grids")
