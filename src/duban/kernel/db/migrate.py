"""Schema migrations, run from code (``duban init`` / ``duban migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (creating it on an empty database)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        if connection.dialect.name == "sqlite":
            _analyze_new_indexes(connection)


def _analyze_new_indexes(connection: Connection) -> None:
    """SQLite: gather statistics for the indexes a migration added to analysed tables.

    The planner trusts an index without statistics beside indexes with them: after 0036
    added ``ix_cases_status_category_due``, the dispatcher's approvals queue (a partial
    index of ~500 cases) was read through it instead, 92 ms per query at 1M cases, until
    the next ANALYZE. PostgreSQL plans plain indexes from the column statistics and
    autovacuum keeps those.
    """
    analysed = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).first()
    if not analysed:
        return  # never analysed (a new database): the planner's defaults are consistent
    missing = (
        connection.exec_driver_sql(
            "SELECT i.name FROM sqlite_master i "
            "WHERE i.type = 'index' AND i.sql IS NOT NULL "
            "AND i.tbl_name IN (SELECT tbl FROM sqlite_stat1) "
            "AND i.name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)"
        )
        .scalars()
        .all()
    )
    for name in missing:
        connection.exec_driver_sql(f'ANALYZE "{name}"')


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when empty)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
