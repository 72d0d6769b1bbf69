"""credentials we send kept sealed at rest: exchange_links.api_key and staff_token,
webhook_subscriptions.secret, and case_contacts.link (it carries the citizen's
tracking code, which case_trackers keeps only as a hash). The columns become TEXT (a
sealed value is longer) and the values in place are sealed, so old links and keys keep
working.

Revision ID: 0029_secrets
Revises: 0028_orderx
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.sealed import seal, unseal

revision: str = "0029_secrets"
down_revision: str | None = "0028_orderx"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table -> (column, its type before, whether it may be empty)
_SEALED: dict[str, list[tuple[str, sa.types.TypeEngine[str], bool]]] = {
    "exchange_links": [("api_key", sa.String(200), False), ("staff_token", sa.Text(), True)],
    "webhook_subscriptions": [("secret", sa.String(200), False)],
    "case_contacts": [("link", sa.String(300), True)],
}


def _rewrite(table: str, column: str, change: Callable[[str], str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")
    ).all()
    statement = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
    for row_id, value in rows:
        conn.execute(statement, {"id": row_id, "value": change(value)})


def _retype(*, to_text: bool) -> None:
    # SQLite keeps any length in any text column; its batch ALTER would copy tables that
    # other tables' foreign keys point at (webhook_subscriptions), so only PostgreSQL
    # changes the declared types.
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in _SEALED.items():
        for column, before, nullable in columns:
            op.alter_column(
                table,
                column,
                type_=sa.Text() if to_text else before,
                existing_type=before if to_text else sa.Text(),
                existing_nullable=nullable,
            )


def upgrade() -> None:
    _retype(to_text=True)
    for table, columns in _SEALED.items():
        for column, _, _ in columns:
            _rewrite(table, column, seal)


def downgrade() -> None:
    for table, columns in _SEALED.items():
        for column, _, _ in columns:
            _rewrite(table, column, unseal)
    _retype(to_text=False)
