"""cases: the old system's id of every case replayed by ``duban import history``

Revision ID: 0014_history
Revises: 0013_campaigns
Create Date: 2026-12-03 08:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0014_history"
down_revision: str | None = "0013_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_cases",
        sa.Column(
            "ref",
            sa.String(length=100),
            nullable=False,
            comment="the old system's case id (the file's 'case')",
        ),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False, comment="the file's rows replayed for it"),
        sa.Column(
            "imported_at",
            UTCDateTime(timezone=True),
            nullable=False,
            comment="when, by the real clock",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_imported_cases_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_imported_cases")),
        sa.UniqueConstraint("case_id", name=op.f("uq_imported_cases_case_id")),
    )


def downgrade() -> None:
    op.drop_table("imported_cases")
