"""ix_cases_status_time_left: a status's cases by time left — (status, due_at IS NULL,
due_at, id), the order of the workbench queues sorted by the unit's deadline — so the
dispatcher's parked queue reads its first page from the index instead of sorting every
parked case (about one case in a hundred of a year's; ~10,000 at a million); and
ix_cases_status_step_due gains the id, so the step queues' page of ids is read from the
index alone on PostgreSQL too (it visited every case to dispatch in the heap)

Revision ID: 0035_fill
Revises: 0034_missed3
Create Date: 2026-12-03 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_fill"
down_revision: str | None = "0034_missed3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Not a batch: on SQLite that would copy the table without 0019's search triggers.
def upgrade() -> None:
    op.drop_index("ix_cases_status_step_due", table_name="cases")
    op.create_index("ix_cases_status_step_due", "cases", ["status", "step_due_at", "id"])
    op.create_index(
        "ix_cases_status_time_left",
        "cases",
        ["status", sa.text("(due_at IS NULL)"), "due_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_status_time_left", table_name="cases")
    op.drop_index("ix_cases_status_step_due", table_name="cases")
    op.create_index("ix_cases_status_step_due", "cases", ["status", "step_due_at"])
