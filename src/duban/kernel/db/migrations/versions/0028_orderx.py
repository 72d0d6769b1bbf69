"""exchange of supervision orders with a higher platform: the link's staff token, the
higher platform's order problems addressed to us (exchange_problems, unique per link),
and answers going up through the same retry table (exchange_pushes.problem_id)

Revision ID: 0028_orderx
Revises: 0027_evalsummary
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0028_orderx"
down_revision: str | None = "0027_evalsummary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_links") as batch:
        batch.add_column(sa.Column("staff_token", sa.Text(), nullable=True))
    op.create_table(
        "exchange_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("external_order_id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(100), nullable=False),
        sa.Column("order_title", sa.String(200), nullable=False),
        sa.Column("external_problem_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("external_status", sa.String(20), nullable=False),
        sa.Column("send_back_reason", sa.Text(), nullable=True),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=True),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answer_count", sa.Integer(), nullable=False),
        sa.Column("local_order_id", sa.Integer(), nullable=True),
        sa.Column("local_problem_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["exchange_links.id"],
            name=op.f("fk_exchange_problems_link_id_exchange_links"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_problems_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["users.id"], name=op.f("fk_exchange_problems_answered_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["local_order_id"],
            ["supervision_orders.id"],
            name=op.f("fk_exchange_problems_local_order_id_supervision_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["local_problem_id"],
            ["supervision_problems.id"],
            name=op.f("fk_exchange_problems_local_problem_id_supervision_problems"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_problems")),
        sa.UniqueConstraint(
            "link_id", "external_problem_id", name=op.f("uq_exchange_problems_link_id")
        ),
    )
    with op.batch_alter_table("exchange_pushes") as batch:
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("event_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("problem_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_exchange_pushes_problem_id_exchange_problems"),
            "exchange_problems",
            ["problem_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_exchange_pushes_problem_id"), ["problem_id"])


def downgrade() -> None:
    op.execute("DELETE FROM exchange_pushes WHERE problem_id IS NOT NULL")
    with op.batch_alter_table("exchange_pushes") as batch:
        batch.drop_index(op.f("ix_exchange_pushes_problem_id"))
        batch.drop_constraint(
            op.f("fk_exchange_pushes_problem_id_exchange_problems"), type_="foreignkey"
        )
        batch.drop_column("problem_id")
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("event_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("exchange_problems")
    with op.batch_alter_table("exchange_links") as batch:
        batch.drop_column("staff_token")
