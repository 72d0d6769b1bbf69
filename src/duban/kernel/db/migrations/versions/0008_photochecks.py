"""photo checks: prints of photos (perceptual-hash bands indexed) and findings per feedback photo

Revision ID: 0008_photochecks
Revises: 0007_tiers
Create Date: 2026-12-03 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0008_photochecks"
down_revision: str | None = "0007_tiers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photo_prints",
        sa.Column("photo_id", sa.String(length=36), nullable=False),
        sa.Column("phash", sa.BigInteger(), nullable=False),
        sa.Column("band0", sa.Integer(), nullable=False),
        sa.Column("band1", sa.Integer(), nullable=False),
        sa.Column("band2", sa.Integer(), nullable=False),
        sa.Column("band3", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False, comment="EXIF summary, JPEG quality"),
        sa.Column(
            "keypoints", sa.LargeBinary(), nullable=False, comment="ORB positions, float32 N×2"
        ),
        sa.Column("descriptors", sa.LargeBinary(), nullable=False, comment="ORB descriptors, N×32"),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    for band in range(4):
        op.create_index(f"ix_photo_prints_band{band}", "photo_prints", [f"band{band}"])
    op.create_table(
        "photo_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.String(length=36), nullable=False),
        sa.Column("check", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "case_id", "photo_id", "check", name="uq_photo_findings_case_photo_check"
        ),
    )
    op.create_index("ix_photo_findings_case_id", "photo_findings", ["case_id"])
    op.create_index("ix_photo_findings_photo", "photo_findings", ["photo_id"])


def downgrade() -> None:
    op.drop_index("ix_photo_findings_photo", table_name="photo_findings")
    op.drop_index("ix_photo_findings_case_id", table_name="photo_findings")
    op.drop_table("photo_findings")
    for band in range(4):
        op.drop_index(f"ix_photo_prints_band{band}", table_name="photo_prints")
    op.drop_table("photo_prints")
