"""token epoch: sign-outs that end every token and web session; no signing key in the database

Revision ID: 0003_token_epoch
Revises: 0002_audit
Create Date: 2026-12-02 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_token_epoch"
down_revision: str | None = "0002_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "token_epoch",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="bumped by a password change, deactivation or sign-out: ends every "
                "token and web session issued before",
            )
        )
    # The signing key is never kept in the database any more (a read-only copy of it was
    # enough to forge tokens): the old one is dropped, so every token it signed ends.
    op.execute(sa.text("DELETE FROM settings WHERE key = 'secret_key'"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_epoch")
