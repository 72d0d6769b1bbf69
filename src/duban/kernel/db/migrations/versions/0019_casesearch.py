"""case search: a trigram index over the description and address of cases; saved filters

SQLite: an FTS5 table with the trigram tokenizer (``case_search``), an external-content
index on ``cases`` kept in step by triggers; it finds any substring of three or more
characters, Chinese included, and ranks with bm25. PostgreSQL: ``pg_trgm`` GIN indexes on
``description`` and ``address`` serve ``ILIKE`` and similarity ranking.

Revision ID: 0019_casesearch
Revises: 0018_handover
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.base import UTCDateTime

revision: str = "0019_casesearch"
down_revision: str | None = "0018_handover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE case_search USING fts5("
    "description, address, content='cases', content_rowid='id', tokenize='trigram')",
    "INSERT INTO case_search(rowid, description, address) "
    "SELECT id, description, address FROM cases",
    "CREATE TRIGGER case_search_ai AFTER INSERT ON cases BEGIN "
    "INSERT INTO case_search(rowid, description, address) "
    "VALUES (new.id, new.description, new.address); END",
    "CREATE TRIGGER case_search_ad AFTER DELETE ON cases BEGIN "
    "INSERT INTO case_search(case_search, rowid, description, address) "
    "VALUES ('delete', old.id, old.description, old.address); END",
    "CREATE TRIGGER case_search_au AFTER UPDATE OF description, address ON cases BEGIN "
    "INSERT INTO case_search(case_search, rowid, description, address) "
    "VALUES ('delete', old.id, old.description, old.address); "
    "INSERT INTO case_search(rowid, description, address) "
    "VALUES (new.id, new.description, new.address); END",
]

_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS case_search_au",
    "DROP TRIGGER IF EXISTS case_search_ad",
    "DROP TRIGGER IF EXISTS case_search_ai",
    "DROP TABLE IF EXISTS case_search",
]

_PG_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_cases_description_trgm ON cases USING gin (description gin_trgm_ops)",
    "CREATE INDEX ix_cases_address_trgm ON cases USING gin (address gin_trgm_ops)",
]

_PG_DOWN = [
    "DROP INDEX IF EXISTS ix_cases_address_trgm",
    "DROP INDEX IF EXISTS ix_cases_description_trgm",
]


def upgrade() -> None:
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("query", sa.String(2000), nullable=False, comment="the /cases query string"),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "name"),
    )
    op.create_index("ix_saved_filters_user_id", "saved_filters", ["user_id"])
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_UP if dialect == "sqlite" else _PG_UP:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_DOWN if dialect == "sqlite" else _PG_DOWN:
        op.execute(statement)
    op.drop_index("ix_saved_filters_user_id", table_name="saved_filters")
    op.drop_table("saved_filters")
