"""campaigns: named, time-boxed campaigns, their scope, the cases tagged to them and
their append-only event chain

Revision ID: 0013_campaigns
Revises: 0012_jointrev
Create Date: 2026-12-03 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.appendonly import append_only_sql, drop_append_only_sql
from duban.kernel.db.base import UTCDateTime

revision: str = "0013_campaigns"
down_revision: str | None = "0012_jointrev"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=32),
            nullable=False,
            comment="a code of campaign_kinds (policy)",
        ),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "closed",
                name="campaign_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False, comment="first local day"),
        sa.Column("ends_on", sa.Date(), nullable=False, comment="last local day"),
        sa.Column(
            "starts_at", UTCDateTime(timezone=True), nullable=False, comment="local midnight, UTC"
        ),
        sa.Column(
            "ends_at",
            UTCDateTime(timezone=True),
            nullable=False,
            comment="local midnight after the last day, UTC (exclusive)",
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "tagged_at",
            UTCDateTime(timezone=True),
            nullable=True,
            comment="when its cases were last tagged",
        ),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("last_event_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "campaign_scopes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.String(length=16), nullable=False, comment="category | region | source"
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "kind", "code"),
    )
    op.create_index("ix_campaign_scopes_campaign_id", "campaign_scopes", ["campaign_id"])
    op.create_table(
        "campaign_cases",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("tagged_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "case_id"),
    )
    op.create_index("ix_campaign_cases_case_id", "campaign_cases", ["case_id"])
    op.create_table(
        "campaign_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
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
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "seq"),
    )
    for statement in append_only_sql(op.get_bind().dialect.name, "campaign_events"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, "campaign_events"):
        op.execute(statement)
    for table in ("campaign_events", "campaign_cases", "campaign_scopes", "campaigns"):
        op.drop_table(table)
