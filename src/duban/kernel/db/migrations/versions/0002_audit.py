"""audit: signed event rows, case seals, an append-only event table

Revision ID: 0002_audit
Revises: 0001
Create Date: 2026-12-02 21:40:00

``case_events`` gains ``key_id`` (the audit key that signed the row; NULL on the rows
written before, plain sha256 links) and ``case_digest`` (the seal of the case row as the
event left it). Triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE of the table:
the application only ever appends. An administrator can still disable them (PostgreSQL:
``session_replication_role = replica``, or owning the table), which is what the keyed
chain and the checkpoints of ``duban audit`` are for.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.appendonly import append_only_sql, drop_append_only_sql

revision: str = "0002_audit"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "key_id",
                sa.String(length=32),
                nullable=True,
                comment="the audit key that signed the row; NULL: a sha256 link from before",
            )
        )
        batch_op.add_column(
            sa.Column(
                "case_digest",
                sa.String(length=64),
                nullable=True,
                comment="HMAC of the case's workflow columns as this event left them",
            )
        )
    for statement in append_only_sql(op.get_bind().dialect.name, "case_events"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, "case_events"):
        op.execute(statement)
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_column("case_digest")
        batch_op.drop_column("key_id")
