"""evaluation summary: per local month, object and indicator the numerator and
denominator over the case facts (eval_summary), the keys each case is counted under
(cases.counted_as) and the partial index of the cases counted under other keys; backfilled
set-based from case_facts

Revision ID: 0027_evalsummary
Revises: 0026_ledger_chain
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0027_evalsummary"
down_revision: str | None = "0026_ledger_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from duban.cases.models import RECOUNT_SQL

    op.create_table(
        "eval_summary",
        sa.Column("month", sa.Integer(), nullable=False, comment="local YYYYMM"),
        sa.Column("object", sa.String(16), nullable=False),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "object", "key", "indicator", name="pk_eval_summary"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("counted_as", sa.String(200), nullable=True))
    op.create_index(
        "ix_cases_recount",
        "cases",
        ["id"],
        sqlite_where=sa.text(RECOUNT_SQL),
        postgresql_where=sa.text(RECOUNT_SQL),
    )
    # The backfill: the same set-based statements as `duban evaluation rebuild-facts`.
    from duban.evaluation.indicators import rebuild_summary

    rebuild_summary(Session(bind=op.get_bind()), missed=False)  # 0034 adds 漏报


def downgrade() -> None:
    op.drop_index("ix_cases_recount", table_name="cases")
    # Not a batch: on SQLite that would copy the table without 0019's search triggers.
    op.execute("ALTER TABLE cases DROP COLUMN counted_as")
    op.drop_table("eval_summary")
