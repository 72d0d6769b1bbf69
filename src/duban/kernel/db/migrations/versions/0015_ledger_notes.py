"""ledgers: milestones on items and measures; files of progress notes

Revision ID: 0015_ledger_notes
Revises: 0014_history
Create Date: 2026-12-03 08:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import duban.kernel.db.base

revision: str = "0015_ledger_notes"
down_revision: str | None = "0014_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_nodes") as batch:
        batch.add_column(
            sa.Column(
                "milestones",
                sa.JSON(),
                nullable=False,
                server_default="[]",
                comment='[{"date": "2026-12-31", "text": …, "done": false}] of an item or measure',
            )
        )
    op.create_table(
        "ledger_note_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", duban.kernel.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["ledger_nodes.id"], name=op.f("fk_ledger_note_files_node_id_ledger_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ledger_events.id"],
            name=op.f("fk_ledger_note_files_event_id_ledger_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_note_files")),
    )
    with op.batch_alter_table("ledger_note_files") as batch:
        batch.create_index(batch.f("ix_ledger_note_files_node_id"), ["node_id"], unique=False)
        batch.create_index(batch.f("ix_ledger_note_files_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_table("ledger_note_files")
    with op.batch_alter_table("ledger_nodes") as batch:
        batch.drop_column("milestones")
