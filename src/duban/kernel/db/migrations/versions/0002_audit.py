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

revision: str = "0002_audit"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION duban_case_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events"
    " FOR EACH ROW EXECUTE FUNCTION duban_case_events_append_only()",
    "CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events"
    " FOR EACH STATEMENT EXECUTE FUNCTION duban_case_events_append_only()",
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events"
    " BEGIN SELECT RAISE(ABORT, 'case_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events"
    " BEGIN SELECT RAISE(ABORT, 'case_events is append-only: DELETE refused'); END",
)


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
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    elif dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_truncate ON case_events")
        op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
        op.execute("DROP FUNCTION IF EXISTS duban_case_events_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS case_events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS case_events_no_update")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_column("case_digest")
        batch_op.drop_column("key_id")
