"""handover: bodies outside 城管 with contacts, the responsibility list, hand-overs

Revision ID: 0018_handover
Revises: 0017_casefacts
Create Date: 2026-12-03 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime
from duban.kernel.db.checks import change_check_values

revision: str = "0018_handover"
down_revision: str | None = "0017_casefacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = (
    "'reported', 'verified', 'filed', 'dispatched', 'handling', 'returned', 'parked', "
    "'awaiting_check', 'checked', 'closed', 'rejected', 'voided', 'merged'"
)
_NEW_STATUSES = _OLD_STATUSES + ", 'transferred'"


def _case_statuses(old: str, new: str) -> None:
    """Widen (or narrow) the CHECK of ``cases.status`` (no copy of ``cases``)."""
    change_check_values(table="cases", name="case_status", column="status", old=old, new=new)


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it too): no table copy.
    op.add_column(
        "units",
        sa.Column(
            "phone", sa.String(length=64), nullable=True, comment="contact phone (external bodies)"
        ),
    )
    op.add_column(
        "units", sa.Column("email", sa.String(length=200), nullable=True, comment="contact email")
    )
    op.add_column(
        "units",
        sa.Column("address", sa.String(length=300), nullable=True, comment="contact address"),
    )
    _case_statuses(_OLD_STATUSES, _NEW_STATUSES)
    op.create_table(
        "responsibilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "category_code",
            sa.String(length=32),
            nullable=True,
            comment="a major class or subclass (none: the condition says)",
        ),
        sa.Column(
            "condition_code", sa.String(length=40), nullable=True, comment="a filing condition"
        ),
        sa.Column("unit_id", sa.Integer(), nullable=False, comment="the responsible body"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False, comment="法律依据"),
        sa.Column(
            "at_once",
            sa.Boolean(),
            nullable=False,
            comment="hand over at filing, without waiting for a dispatcher",
        ),
        sa.Column(
            "reply_days",
            sa.Integer(),
            nullable=True,
            comment="working days the body has to answer (none: the policy's)",
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "case_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False, comment="the body"),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.String(length=16),
            nullable=False,
            comment="open | accepted | refused | done",
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("reply_due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "answered_at",
            UTCDateTime(timezone=True),
            nullable=True,
            comment="when it was refused or done",
        ),
        sa.Column("answer_note", sa.Text(), nullable=False),
        sa.Column("answered_via", sa.String(length=16), nullable=True, comment="link | dispatcher"),
        sa.Column(
            "overdue_marked_at",
            UTCDateTime(timezone=True),
            nullable=True,
            comment="set once by the sweep when no answer came by reply_due_at",
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_transfers_case_id", "case_transfers", ["case_id"])
    op.create_index("ix_case_transfers_state_due", "case_transfers", ["state", "reply_due_at"])


def downgrade() -> None:
    op.drop_index("ix_case_transfers_state_due", table_name="case_transfers")
    op.drop_index("ix_case_transfers_case_id", table_name="case_transfers")
    op.drop_table("case_transfers")
    op.drop_table("responsibilities")
    _case_statuses(_NEW_STATUSES, _OLD_STATUSES)
    with op.batch_alter_table("units") as batch:
        batch.drop_column("address")
        batch.drop_column("email")
        batch.drop_column("phone")
