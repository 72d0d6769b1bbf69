"""ix_cases_status_due covers the zoomed-out maps' running-late count: (status, due_at,
grid_code, duplicate_of_id), so it is read from the index alone

Revision ID: 0033_mapcounts2
Revises: 0032_mapcounts
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0033_mapcounts2"
down_revision: str | None = "0032_mapcounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Not batches: on SQLite those would copy the table without 0019's search triggers.
def upgrade() -> None:
    op.drop_index("ix_cases_status_due", table_name="cases")
    op.create_index(
        "ix_cases_status_due", "cases", ["status", "due_at", "grid_code", "duplicate_of_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_cases_status_due", table_name="cases")
    op.create_index("ix_cases_status_due", "cases", ["status", "due_at"])
