"""supervision: numbered orders, their units and problems, saved rules, escalation steps
and the append-only supervision event chain

Revision ID: 0005_supervision
Revises: 0004_ledgers
Create Date: 2026-12-03 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.appendonly import append_only_sql, drop_append_only_sql
from duban.kernel.db.base import UTCDateTime

revision: str = "0005_supervision"
down_revision: str | None = "0004_ledgers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supervision_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "number", sa.String(length=100), nullable=False, comment="督查通知单〔2026〕第12期"
        ),
        sa.Column("series", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "issued",
                "in_progress",
                "closed",
                name="supervision_order_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reply_work_days", sa.Integer(), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False, comment="reply deadline"),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False, comment="提请领导督办"),
        sa.Column("rule", sa.JSON(), nullable=True, comment="the rule that picked"),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("last_event_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("series", "year", "sequence"),
    )
    op.create_index("ix_supervision_orders_status_due", "supervision_orders", ["status", "due_at"])
    op.create_table(
        "supervision_order_units",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["supervision_orders.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("order_id", "unit_id"),
    )
    op.create_index("ix_supervision_order_units_unit_id", "supervision_order_units", ["unit_id"])
    op.create_table(
        "supervision_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, comment="序号, from 1"),
        sa.Column(
            "subject_kind", sa.String(length=16), nullable=False, comment="case | ledger_item"
        ),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column(
            "ledger_item_id",
            sa.Integer(),
            nullable=True,
            comment="a ledger item (整改台账), when ledgers exist; no FK yet",
        ),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("photo_id", sa.String(length=36), nullable=True, comment="thumbnail"),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "answered",
                "sent_back",
                "accepted",
                name="supervision_problem_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("measures", sa.Text(), nullable=True, comment="整改措施 the unit reported"),
        sa.Column("reply_photo_ids", sa.JSON(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=True, comment="the unit says it is fixed"),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("send_back_reason", sa.Text(), nullable=True),
        sa.Column("send_back_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["answered_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["supervision_orders.id"]),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"]),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "position"),
    )
    for column in ("case_id", "order_id", "unit_id"):
        op.create_index(f"ix_supervision_problems_{column}", "supervision_problems", [column])
    op.create_table(
        "supervision_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "supervision_escalations",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("taken_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["supervision_orders.id"]),
        sa.PrimaryKeyConstraint("order_id", "step"),
    )
    op.create_table(
        "supervision_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="canonical JSON"),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column(
            "key_id",
            sa.String(length=32),
            nullable=False,
            comment="the audit key that signed the row",
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["supervision_orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "seq"),
    )
    for statement in append_only_sql(op.get_bind().dialect.name, "supervision_events"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, "supervision_events"):
        op.execute(statement)
    for table in (
        "supervision_events",
        "supervision_escalations",
        "supervision_rules",
        "supervision_problems",
        "supervision_order_units",
        "supervision_orders",
    ):
        op.drop_table(table)
