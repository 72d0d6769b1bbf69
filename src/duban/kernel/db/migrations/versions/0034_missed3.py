"""missed_reports: 漏报 counted when a case is reported (by the beat and patrol hours in
force then) and kept in the evaluation summary; backfilled with today's beats

Revision ID: 0034_missed3
Revises: 0033_mapcounts2
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0034_missed3"
down_revision: str | None = "0033_mapcounts2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "missed_reports",
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("cases.id", name="fk_missed_reports_case_id_cases", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_missed_reports_user_id_users", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("month", sa.Integer(), nullable=False, comment="local YYYYMM of the report"),
        sa.PrimaryKeyConstraint("case_id", "user_id", name="pk_missed_reports"),
    )
    op.create_index("ix_missed_reports_user_id", "missed_reports", ["user_id"])
    # The backfill: today's beats for every case, then the summary's rows from them.
    from duban.evaluation.missed import CODE, missed_sums, rebuild_missed
    from duban.evaluation.summary import write_sums

    session = Session(bind=op.get_bind())
    rebuild_missed(session)
    session.execute(sa.text("DELETE FROM eval_summary WHERE indicator = :code"), {"code": CODE})
    write_sums(session, missed_sums(session))
    session.flush()


def downgrade() -> None:
    op.execute("DELETE FROM eval_summary WHERE indicator = 'missed_report_count'")
    op.drop_index("ix_missed_reports_user_id", table_name="missed_reports")
    op.drop_table("missed_reports")
