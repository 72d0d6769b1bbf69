"""cases: 马路办公 (leaders on the street) is a source of reports

Revision ID: 0010_sources
Revises: 0009_web
Create Date: 2026-12-03 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_sources"
down_revision: str | None = "0009_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("patrol", "citizen", "hotline", "inspection", "supervision", "sensor")
_NEW = (*_OLD, "road_office")


def _retype(values: tuple[str, ...]) -> None:
    # Batch mode: SQLite rebuilds the table with the new CHECK; PostgreSQL alters in place.
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("ck_cases_case_source"), type_="check")
        batch.create_check_constraint(
            op.f("ck_cases_case_source"), f"source IN ({', '.join(repr(v) for v in values)})"
        )


def upgrade() -> None:
    _retype(_NEW)


def downgrade() -> None:
    op.execute("UPDATE cases SET source = 'patrol' WHERE source = 'road_office'")
    _retype(_OLD)
