"""evaluation: the archive of the monthly bulletins made (每期通报存档), append-only

Revision ID: 0011_bulletins
Revises: 0010_sources
Create Date: 2026-12-03 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0011_bulletins"
down_revision: str | None = "0010_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False, comment="the month, YYYY-MM"),
        sa.Column(
            "object", sa.String(length=16), nullable=False, comment="district, street, … dispatcher"
        ),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column(
            "scheme_version",
            sa.Date(),
            nullable=False,
            comment="the effective date of the scheme's version that scored it",
        ),
        sa.Column(
            "version", sa.Integer(), nullable=False, comment="1, 2, … per period, object, scheme"
        ),
        sa.Column("source", sa.String(length=8), nullable=False, comment="request | job"),
        sa.Column(
            "job_key",
            sa.String(length=100),
            nullable=True,
            comment="period/object/scheme of a job's bulletin, else null",
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "created_by_id", sa.Integer(), nullable=True, comment="null: made by the scheduled job"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name="fk_evaluation_bulletins_created_by_id_users"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_evaluation_bulletins"),
        sa.UniqueConstraint("job_key", name="uq_evaluation_bulletins_job_key"),
        sa.UniqueConstraint(
            "period", "object", "scheme", "version", name="uq_evaluation_bulletins_version"
        ),
    )
    op.create_table(
        "evaluation_bulletin_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False, comment="docx | pdf | xlsx"),
        sa.Column("filename", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["evaluation_bulletins.id"],
            name="fk_evaluation_bulletin_files_bulletin_id_evaluation_bulletins",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_evaluation_bulletin_files"),
        sa.UniqueConstraint(
            "bulletin_id", "format", name="uq_evaluation_bulletin_files_bulletin_id"
        ),
    )
    op.create_index(
        "ix_evaluation_bulletin_files_bulletin_id", "evaluation_bulletin_files", ["bulletin_id"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_evaluation_bulletin_files_bulletin_id", table_name="evaluation_bulletin_files"
    )
    op.drop_table("evaluation_bulletin_files")
    op.drop_table("evaluation_bulletins")
