"""web: a citizen's report form is its own idempotency key (one form, one case)

Revision ID: 0009_web
Revises: 0008_photochecks
Create Date: 2026-12-03 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_web"
down_revision: str | None = "0008_photochecks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column(
            "user_id",
            existing_type=sa.Integer(),
            nullable=True,
            comment="none: a citizen without an account (a form token)",
        )
    op.create_index(
        "uq_idempotency_keys_anonymous_key",
        "idempotency_keys",
        ["key"],
        unique=True,
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_idempotency_keys_anonymous_key", table_name="idempotency_keys")
    op.execute(sa.text("DELETE FROM idempotency_keys WHERE user_id IS NULL"))
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False, comment=None)
