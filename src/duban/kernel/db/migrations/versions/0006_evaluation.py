"""evaluation: scores entered by hand with their evidence

Revision ID: 0006_evaluation
Revises: 0005_supervision
Create Date: 2026-12-03 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0006_evaluation"
down_revision: str | None = "0005_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_manual_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column(
            "object", sa.String(length=16), nullable=False, comment="district, street, … dispatcher"
        ),
        sa.Column(
            "object_code",
            sa.String(length=64),
            nullable=False,
            comment="region or unit code, username",
        ),
        sa.Column("period_start", sa.Date(), nullable=False, comment="local date, inclusive"),
        sa.Column("period_end", sa.Date(), nullable=False, comment="local date, exclusive"),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "note", sa.Text(), nullable=False, comment="the evidence: who checked what, where"
        ),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entered_by_id"],
            ["users.id"],
            name=op.f("fk_evaluation_manual_scores_entered_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_manual_scores")),
        sa.UniqueConstraint(
            "scheme",
            "item",
            "object",
            "object_code",
            "period_start",
            "period_end",
            name=op.f("uq_evaluation_manual_scores_scheme"),
        ),
    )


def downgrade() -> None:
    op.drop_table("evaluation_manual_scores")
