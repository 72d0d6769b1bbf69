"""ix_cases_status_category_due: an operator's filtered list (statuses, a category;
by time left or newest first) chosen and counted from the index alone

Revision ID: 0036_search
Revises: 0035_fill
Create Date: 2026-12-03 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0036_search"
down_revision: str | None = "0035_fill"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_status_category_due",
        "cases",
        ["status", "category_code", "due_at", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_status_category_due", table_name="cases")
