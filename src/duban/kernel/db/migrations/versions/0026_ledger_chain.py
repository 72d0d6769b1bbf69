"""ledgers: chain the ledger events per ledger; cases raised by a measure or an item

``ledger_events`` gets ``seq``, ``prev_hash``, ``hash`` and ``key_id``, ``ledgers`` the
head (``event_count``, ``last_event_hash``). The rows already written are numbered and
linked here as plain sha256 links (``key_id`` NULL: there is no audit key in a
migration); ``duban audit verify --accept-unkeyed`` accepts them, and every row written
after is signed. ``ledger_node_cases``: the cases a measure or an item raised.

Revision ID: 0026_ledger_chain
Revises: 0025_platforms
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

from duban.kernel.db.appendonly import append_only_sql, drop_append_only_sql
from duban.kernel.db.base import UTCDateTime

revision: str = "0026_ledger_chain"
down_revision: str | None = "0025_platforms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _canonical(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_EVENTS = sa.table(
    "ledger_events",
    sa.column("id", sa.Integer),
    sa.column("ledger_id", sa.Integer),
    sa.column("node_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("actor_id", sa.Integer),
    sa.column("actor_name", sa.String),
    sa.column("at", UTCDateTime()),
    sa.column("payload", sa.JSON),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
_LEDGERS = sa.table(
    "ledgers",
    sa.column("id", sa.Integer),
    sa.column("event_count", sa.Integer),
    sa.column("last_event_hash", sa.String),
)


def _link_existing_rows() -> None:
    """Number and link the rows written before the chain (plain sha256 links)."""
    bind = op.get_bind()
    heads: dict[int, tuple[int, str]] = {}
    rows = bind.execute(sa.select(_EVENTS).order_by(_EVENTS.c.ledger_id, _EVENTS.c.id)).all()
    for row in rows:
        count, prev = heads.get(row.ledger_id, (0, ""))
        seq = count + 1
        body = {
            "ledger_id": row.ledger_id,
            "seq": seq,
            "node_id": row.node_id,
            "kind": row.kind,
            "actor_id": row.actor_id,
            "actor_name": row.actor_name,
            "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "payload": _canonical(row.payload or {}),
        }
        digest = hashlib.sha256((prev + _canonical(body)).encode("utf-8")).hexdigest()
        bind.execute(
            sa.update(_EVENTS)
            .where(_EVENTS.c.id == row.id)
            .values(seq=seq, prev_hash=prev, hash=digest)
        )
        heads[row.ledger_id] = (seq, digest)
    for ledger_id, (count, last) in heads.items():
        bind.execute(
            sa.update(_LEDGERS)
            .where(_LEDGERS.c.id == ledger_id)
            .values(event_count=count, last_event_hash=last)
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("ledgers") as batch:
        batch.add_column(sa.Column("event_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("last_event_hash", sa.String(length=64), nullable=False, server_default="")
        )
    for statement in drop_append_only_sql(dialect, "ledger_events"):
        op.execute(statement)
    op.add_column(
        "ledger_events",
        sa.Column("seq", sa.Integer(), nullable=True, comment="place in the ledger's chain"),
    )
    op.add_column("ledger_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("ledger_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.add_column(
        "ledger_events",
        sa.Column(
            "key_id",
            sa.String(length=32),
            nullable=True,
            comment="the audit key that signed the row (NULL: before the chain)",
        ),
    )
    _link_existing_rows()
    op.create_index("uq_ledger_events_seq", "ledger_events", ["ledger_id", "seq"], unique=True)
    for statement in append_only_sql(dialect, "ledger_events"):
        op.execute(statement)
    op.create_table(
        "ledger_node_cases",
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["ledger_nodes.id"], name=op.f("fk_ledger_node_cases_node_id_ledger_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_ledger_node_cases_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_ledger_node_cases_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("node_id", "case_id", name=op.f("pk_ledger_node_cases")),
    )
    op.create_index(
        op.f("ix_ledger_node_cases_case_id"), "ledger_node_cases", ["case_id"], unique=False
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("ledger_node_cases")
    for statement in drop_append_only_sql(dialect, "ledger_events"):
        op.execute(statement)
    op.drop_index("uq_ledger_events_seq", table_name="ledger_events")
    with op.batch_alter_table("ledger_events") as batch:
        for column in ("key_id", "hash", "prev_hash", "seq"):
            batch.drop_column(column)
    if dialect == "postgresql":  # back to 0004_ledgers' trigger, which its downgrade drops
        op.execute(
            "CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events"
            " FOR EACH ROW EXECUTE FUNCTION duban_ledger_append_only()"
        )
    else:
        for statement in append_only_sql(dialect, "ledger_events"):
            op.execute(statement)
    with op.batch_alter_table("ledgers") as batch:
        batch.drop_column("last_event_hash")
        batch.drop_column("event_count")
