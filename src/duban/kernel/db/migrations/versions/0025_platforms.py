"""tiers: second-level dispatch (二级派遣) — region platforms, their units; API keys of a territory

A case may sit with a district or street platform (status ``at_platform``,
``cases.platform_code``); a unit may belong to one (``units.region_code``); an Open311
API key may be bound to a territory (``api_keys.region_code``).

Revision ID: 0025_platforms
Revises: 0024_photochecks_crops
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.checks import change_check_values

revision: str = "0025_platforms"
down_revision: str | None = "0024_photochecks_crops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = (
    "'reported', 'verified', 'filed', 'dispatched', 'handling', 'returned', 'parked', "
    "'awaiting_check', 'checked', 'closed', 'rejected', 'voided', 'merged', 'transferred'"
)
_NEW_STATUSES = _OLD_STATUSES + ", 'at_platform'"


def _case_statuses(old: str, new: str) -> None:
    """Widen (or narrow) the CHECK of ``cases.status`` (no copy of ``cases``)."""
    change_check_values(table="cases", name="case_status", column="status", old=old, new=new)


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it too): no table copy.
    op.add_column(
        "cases",
        sa.Column(
            "platform_code",
            sa.String(length=32),
            nullable=True,
            comment="二级派遣: the district or street platform the city sent the case down to",
        ),
    )
    op.create_index(op.f("ix_cases_platform_code"), "cases", ["platform_code"], unique=False)
    op.add_column(
        "units",
        sa.Column(
            "region_code",
            sa.String(length=32),
            nullable=True,
            comment="二级派遣: the district or street platform the unit belongs to (none: the city)",
        ),
    )
    op.create_index(op.f("ix_units_region_code"), "units", ["region_code"], unique=False)
    op.add_column(
        "api_keys",
        sa.Column(
            "region_code",
            sa.String(length=32),
            nullable=True,
            comment="the district or street whose cases the client may see (none: the city)",
        ),
    )
    _case_statuses(_OLD_STATUSES, _NEW_STATUSES)


def downgrade() -> None:
    op.execute(
        "UPDATE cases SET status = 'returned', platform_code = NULL WHERE status = 'at_platform'"
    )
    _case_statuses(_NEW_STATUSES, _OLD_STATUSES)
    op.drop_index(op.f("ix_units_region_code"), table_name="units")
    op.drop_index(op.f("ix_cases_platform_code"), table_name="cases")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("region_code")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("region_code")
    # Plain DROP COLUMN (SQLite 3.35+): no copy of cases, its triggers and partial indexes.
    op.drop_column("cases", "platform_code")
