"""The one unit of work (kernel.unitofwork): commit, roll back, discard, hooks after commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.kernel.db.models import Setting
from duban.kernel.unitofwork import after_commit, discard, in_unit_of_work, writing

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _keys(factory: sessionmaker[Session]) -> set[str]:
    with factory() as other:
        return set(other.scalars(select(Setting.key).where(Setting.key.like("uow.%"))))


def test_a_unit_of_work_commits_and_then_runs_its_hooks(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    seen: list[set[str]] = []
    with writing(session):
        session.add(Setting(key="uow.one", value=1, updated_at=NOW))
        after_commit(session, lambda: seen.append(_keys(session_factory)))
        assert in_unit_of_work(session)
        assert seen == []
    assert not in_unit_of_work(session)
    assert seen == [{"uow.one"}]  # the hook ran after the commit: another session saw the row


def test_a_failed_unit_of_work_writes_nothing_and_runs_no_hook(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    seen: list[str] = []

    def refused() -> None:
        with writing(session):
            session.add(Setting(key="uow.two", value=2, updated_at=NOW))
            after_commit(session, lambda: seen.append("ran"))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        refused()
    assert seen == []
    assert _keys(session_factory) == set()


def test_a_nested_unit_of_work_joins_the_outer_one_and_a_discard_ends_all_of_it(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    seen: list[str] = []
    with writing(session):
        session.add(Setting(key="uow.outer", value=1, updated_at=NOW))
        with writing(session):
            session.add(Setting(key="uow.inner", value=2, updated_at=NOW))
            after_commit(session, lambda: seen.append("inner"))
            discard(session)  # a dry run: nothing at all is written
        assert _keys(session_factory) == set()  # nothing committed by the inner block
    assert seen == []
    assert _keys(session_factory) == set()
    with writing(session):  # the next unit of work starts afresh
        session.add(Setting(key="uow.after", value=3, updated_at=NOW))
    assert _keys(session_factory) == {"uow.after"}


def test_a_failing_hook_does_not_undo_the_commit_or_stop_the_others(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise ValueError("the notifier is down")

    with writing(session):
        session.add(Setting(key="uow.kept", value=1, updated_at=NOW))
        after_commit(session, broken)
        after_commit(session, lambda: seen.append("second"))
    assert seen == ["second"]
    assert _keys(session_factory) == {"uow.kept"}


def test_outside_a_unit_of_work_a_hook_runs_at_once(session: Session) -> None:
    seen: list[str] = []
    after_commit(session, lambda: seen.append("now"))
    assert seen == ["now"]
