"""The DDL that makes a table append-only: triggers refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE). One spelling for every migration that makes such a table — the
case events, the order events, the joint-session records, the campaign events."""

from __future__ import annotations

__all__ = ["append_only_sql", "drop_append_only_sql"]


def append_only_sql(dialect: str, table: str) -> list[str]:
    """The statements that make ``table`` append-only on ``dialect`` (postgresql, sqlite)."""
    if dialect == "postgresql":
        function = f"duban_{table}_append_only"
        return [
            f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE"
            f" ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    return []


def drop_append_only_sql(dialect: str, table: str) -> list[str]:
    """The statements that undo :func:`append_only_sql` (for a migration's downgrade)."""
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP FUNCTION IF EXISTS duban_{table}_append_only()",
        ]
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for verb in ("delete", "update")]
    return []
