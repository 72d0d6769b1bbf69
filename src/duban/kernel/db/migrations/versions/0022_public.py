"""public view: subscriptions to an area by email; cases indexed by place

``public_subscriptions`` keeps who follows which area (pending until confirmed, then
active until unsubscribed). (The public map and list of a box or a point read cases by
``ix_cases_lat_lon``, there since the initial schema.) ``ix_cases_street_created`` and
``ix_cases_community_created`` serve the list and feed of a street or a community, newest
first, without sorting the area's cases.

Revision ID: 0022_public
Revises: 0021_notify
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0022_public"
down_revision: str | None = "0021_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "public_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column(
            "area",
            sa.String(120),
            nullable=False,
            comment="region:CODE | bbox:W,S,E,N | point:LAT,LON,M",
        ),
        sa.Column("region_code", sa.String(32), comment="a region area's code"),
        sa.Column("south", sa.Float(), comment="the box around a box or point area"),
        sa.Column("west", sa.Float()),
        sa.Column("north", sa.Float()),
        sa.Column("east", sa.Float()),
        sa.Column("lang", sa.String(8), nullable=False, comment="zh | en: the emails' language"),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(timezone=True)),
        sa.Column("unsubscribed_at", UTCDateTime(timezone=True)),
    )
    op.create_index(
        "ix_public_subscriptions_region", "public_subscriptions", ["region_code", "confirmed_at"]
    )
    op.create_index("ix_public_subscriptions_box", "public_subscriptions", ["south", "north"])
    op.create_index("ix_public_subscriptions_email", "public_subscriptions", ["email"])
    op.create_index("ix_cases_street_created", "cases", ["street_code", "created_at"])
    op.create_index("ix_cases_community_created", "cases", ["community_code", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_community_created", table_name="cases")
    op.drop_index("ix_cases_street_created", table_name="cases")
    op.drop_index("ix_public_subscriptions_email", table_name="public_subscriptions")
    op.drop_index("ix_public_subscriptions_box", table_name="public_subscriptions")
    op.drop_index("ix_public_subscriptions_region", table_name="public_subscriptions")
    op.drop_table("public_subscriptions")
