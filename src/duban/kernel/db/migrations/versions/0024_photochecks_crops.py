"""photo checks: a hash of each picture's centre, indexed, and the probes a crop is tried by

A cropped copy of a stored photo has a whole-picture hash too far from the original's for
the band index; the hash of the original's centre, looked up with the crop's probes (the
regions that would be that centre for a few usual crops), finds it (BENCHMARKS.md, "Photo
checks"). Columns are NULL until ``duban photos backfill-prints`` prints the photo again.

Revision ID: 0024_photochecks_crops
Revises: 0023_unitnames
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_photochecks_crops"
down_revision: str | None = "0023_unitnames"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photo_prints") as batch:
        batch.add_column(
            sa.Column("chash", sa.BigInteger(), nullable=True, comment="hash of the centre 80 %")
        )
        for band in range(4):
            batch.add_column(sa.Column(f"cband{band}", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "probes",
                sa.LargeBinary(),
                nullable=True,
                comment="hashes of where an original's centre would be, uint64 each",
            )
        )
    for band in range(4):
        op.create_index(
            f"ix_photo_prints_cband{band}_cover",
            "photo_prints",
            [f"cband{band}", "chash", "photo_id"],
        )


def downgrade() -> None:
    for band in range(4):
        op.drop_index(f"ix_photo_prints_cband{band}_cover", table_name="photo_prints")
    with op.batch_alter_table("photo_prints") as batch:
        batch.drop_column("probes")
        for band in range(4):
            batch.drop_column(f"cband{band}")
        batch.drop_column("chash")
