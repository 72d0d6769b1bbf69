"""The models alone make a schema: no two indexes or constraints share a name (the
benchmarks build their databases with ``create_all``; the migrations are checked
elsewhere)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import create_engine

import duban.tables


def test_index_names_are_unique_and_create_all_runs() -> None:
    metadata = duban.tables.Base.metadata
    names = Counter(index.name for table in metadata.tables.values() for index in table.indexes)
    assert [name for name, n in names.items() if n > 1] == []
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    engine.dispose()
