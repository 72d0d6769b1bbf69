"""case facts: a row per case, local month and actor with a bit per fact the evaluation
counts (data/case_facts.yaml), backfilled from the event log

Revision ID: 0017_casefacts
Revises: 0016_photochecks_cover
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0017_casefacts"
down_revision: str | None = "0016_photochecks_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("month", sa.Integer(), nullable=False, comment="local YYYYMM"),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False, comment="0: the case"),
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("cases.id", name="fk_case_facts_case_id_cases"),
            nullable=False,
        ),
        sa.Column("flags", sa.BigInteger(), nullable=False, comment="a bit per fact"),
        sa.PrimaryKeyConstraint("month", "actor_role", "actor_id", "case_id", name="pk_case_facts"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_case_facts_case_id", "case_facts", ["case_id"])
    # The backfill: the same set-based statement as `duban evaluation rebuild-facts`.
    from duban.cases.facts import rebuild_facts

    rebuild_facts(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_index("ix_case_facts_case_id", table_name="case_facts")
    op.drop_table("case_facts")
