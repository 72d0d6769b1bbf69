"""Core statements compiled once and run straight on a DB-API cursor.

SQLAlchemy spends about a tenth of a millisecond of CPU per ``Connection.execute`` on
building its execution context, more than SQLite or a pooled PostgreSQL connection need
for a primary-key read or a one-row insert. The few statements of the hot path (a
report: read what it needs, write its rows) are therefore compiled by SQLAlchemy once
per dialect and then executed on the DB-API cursor, with the column types' own bind and
result processors, so the values written and read are exactly those ``execute`` would
write and read.

Only plain statements qualify: named bind parameters, no ``IN`` lists to expand, no
``literal_execute``. Anything else goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any] | None


class Compiled:
    """One statement compiled for one dialect: its SQL text and how to bind and read it."""

    __slots__ = ("_binds", "_named", "_results", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        if getattr(compiled, "literal_execute_params", None) or getattr(
            compiled, "post_compile_params", None
        ):
            raise ValueError("expanding or literal-execute parameters can not be prepared")
        self.sql = str(compiled)
        # Positional paramstyles (SQLite's qmark) list the parameters in their order.
        order: Sequence[str] = compiled.positiontup or list(compiled.binds)
        self._named = compiled.positiontup is None
        # Each parameter: its name, the key of its value in ``values`` (None for a value
        # fixed in the statement, such as a literal), its processor, the fixed value.
        self._binds: list[tuple[str, str | None, _Processor, Any]] = []
        for name in order:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required or bind.callable is not None:
                self._binds.append((name, bind.key, processor, None))
            else:  # a literal or a bound value given when the statement was built
                fixed = processor(bind.value) if processor else bind.value
                self._binds.append((name, None, None, fixed))
        # A SELECT's columns, or an INSERT's RETURNING columns.
        columns = getattr(statement, "exported_columns", ())
        self._results: list[_Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """The DB-API parameters for ``values`` (keyed by bind parameter name). NULL
        stays NULL without a call to the processor (every processor here keeps None)."""
        out = [
            fixed
            if key is None
            else processor(value)
            if processor is not None and (value := values[key]) is not None
            else values[key]
            for _name, key, processor, fixed in self._binds
        ]
        if self._named:
            return {name: value for (name, *_), value in zip(self._binds, out, strict=True)}
        return tuple(out)

    def row(self, raw: Sequence[Any] | None) -> tuple[Any, ...] | None:
        """A fetched row with each column's result processor applied."""
        if raw is None:
            return None
        return tuple(
            processor(value) if processor else value
            for processor, value in zip(self._results, raw, strict=False)
        )


class Prepared:
    """A Core statement, compiled on first use per dialect and run on DB-API cursors."""

    __slots__ = ("_by_dialect", "_lock", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, Compiled] = {}
        self._lock = threading.Lock()

    def on(self, dialect: Dialect) -> Compiled:
        """The statement compiled for ``dialect``."""
        key = f"{dialect.name}+{dialect.driver}"  # the driver decides the paramstyle
        compiled = self._by_dialect.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._by_dialect.get(key)
                if compiled is None:
                    compiled = Compiled(self.statement, dialect)
                    self._by_dialect[key] = compiled
        return compiled

    def execute(self, cursor: Any, dialect: Dialect, values: Mapping[str, Any]) -> Compiled:
        """Run the statement with ``values`` on ``cursor``; returns the compiled form (to
        read rows with :meth:`Compiled.row`)."""
        compiled = self.on(dialect)
        cursor.execute(compiled.sql, compiled.parameters(values))
        return compiled

    def execute_many(
        self, cursor: Any, dialect: Dialect, rows: Sequence[Mapping[str, Any]]
    ) -> Compiled:
        """Run the statement once per row of values (the driver's ``executemany``)."""
        compiled = self.on(dialect)
        cursor.executemany(compiled.sql, [compiled.parameters(values) for values in rows])
        return compiled

    def first(self, cursor: Any, dialect: Dialect, values: Mapping[str, Any]) -> Any:
        """Run the statement and return its first row (processed), or None."""
        compiled = self.execute(cursor, dialect, values)
        return compiled.row(cursor.fetchone())

    def run_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`execute_many` on the session's connection, in its transaction; a
        driver's error raised as SQLAlchemy's ``execute`` raises it."""
        if not rows:
            return
        # Autoflush as ``session.execute`` does: the ORM's pending rows (the case's new
        # version) are written first, so every writer locks the case row before the
        # counts' rows, in the same order in every transaction (no deadlock on PostgreSQL).
        if session.autoflush:
            session.flush()
        conn = session.connection()
        dialect = conn.dialect
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            self.execute_many(cursor, dialect, rows)
        except dialect.loaded_dbapi.Error as err:
            raise DBAPIError.instance(
                self.on(dialect).sql, None, err, dialect.loaded_dbapi.Error, dialect=dialect
            ) from err
        finally:
            cursor.close()


def bind_columns(table: Table, *, but: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of ``table`` (but ``but``) bound to a parameter of its own name and
    type: the VALUES of a statement to prepare."""
    return {
        c.key: bindparam(c.key, type_=c.type, required=True) for c in table.c if c.key not in but
    }


def insert_all(table: Table, *, but: tuple[str, ...] = ()) -> Any:
    """An INSERT binding every column of ``table`` (but ``but``) to its own name."""
    return insert(table).values(bind_columns(table, but=but))
