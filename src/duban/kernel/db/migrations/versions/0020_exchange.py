"""exchange: links to a higher platform, the cases taken from it, the results pushed back;
the unit an Open311 key stands for

Revision ID: 0020_exchange
Revises: 0019_casesearch
Create Date: 2026-12-03 11:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0020_exchange"
down_revision: str | None = "0019_casesearch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN with its reference, no table copy of api_keys (open311_requests and
    # open311_updates refer to it). SQLite takes REFERENCES in ADD COLUMN, but Alembic
    # would send it as a separate ALTER, which SQLite lacks: so the statement is ours there.
    comment = "a lower platform's key: its updates are this unit's feedback (issue 15)"
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE api_keys ADD COLUMN unit_id INTEGER REFERENCES units (id)")
    else:
        op.add_column(
            "api_keys", sa.Column("unit_id", sa.Integer(), nullable=True, comment=comment)
        )
        op.create_foreign_key(
            op.f("fk_api_keys_unit_id_units"), "api_keys", "units", ["unit_id"], ["id"]
        )
    op.create_table(
        "exchange_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False, comment="our name for the link"),
        sa.Column(
            "base_url",
            sa.String(length=300),
            nullable=False,
            comment="the Open311 endpoint, …/open311/v2",
        ),
        sa.Column("api_key", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction_id", sa.String(length=200), nullable=True),
        sa.Column(
            "agency",
            sa.String(length=64),
            nullable=False,
            comment="the higher platform's unit code that stands for us",
        ),
        sa.Column(
            "service_codes",
            sa.JSON(),
            nullable=False,
            comment="the service codes taken (empty: all)",
        ),
        sa.Column(
            "code_map",
            sa.JSON(),
            nullable=False,
            comment="their service code -> our category code, where they differ",
        ),
        sa.Column(
            "source", sa.String(length=20), nullable=False, comment="the source our cases are given"
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "cursor",
            UTCDateTime(timezone=True),
            nullable=True,
            comment="the last updated_datetime pulled",
        ),
        sa.Column("last_run_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_links")),
        sa.UniqueConstraint("name", name=op.f("uq_exchange_links_name")),
    )
    op.create_table(
        "exchange_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column(
            "external_id",
            sa.String(length=64),
            nullable=False,
            comment="service_request_id upstream",
        ),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "external_status",
            sa.String(length=40),
            nullable=False,
            comment="status_extended upstream",
        ),
        sa.Column("external_updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_cases_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["exchange_links.id"],
            name=op.f("fk_exchange_cases_link_id_exchange_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_cases")),
        sa.UniqueConstraint("case_id", name=op.f("uq_exchange_cases_case_id")),
        sa.UniqueConstraint("link_id", "external_id", name=op.f("uq_exchange_cases_link_id")),
    )
    op.create_table(
        "exchange_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, comment="pending | sent | failed"),
        sa.Column(
            "status", sa.String(length=40), nullable=False, comment="the extended status sent"
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "remote_id", sa.String(length=64), nullable=True, comment="the update's id upstream"
        ),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_pushes_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["case_events.id"], name=op.f("fk_exchange_pushes_event_id_case_events")
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["exchange_links.id"],
            name=op.f("fk_exchange_pushes_link_id_exchange_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_pushes")),
        sa.UniqueConstraint("event_id", name=op.f("uq_exchange_pushes_event_id")),
    )
    op.create_index(
        op.f("ix_exchange_pushes_case_id"), "exchange_pushes", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_exchange_pushes_next_try_at"), "exchange_pushes", ["next_try_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_pushes_next_try_at"), table_name="exchange_pushes")
    op.drop_index(op.f("ix_exchange_pushes_case_id"), table_name="exchange_pushes")
    op.drop_table("exchange_pushes")
    op.drop_table("exchange_cases")
    op.drop_table("exchange_links")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("unit_id")
