"""The one unit of work: every use case writes through :func:`writing`.

``with writing(session):`` begins a write transaction (on SQLite ``BEGIN IMMEDIATE``, so
writers queue on the busy timeout instead of failing half-way), runs the block, and
commits. On any error it rolls back, so nothing is half-written; a lost race (the case's
version check, the event chain's ``(case_id, seq)`` key) becomes :class:`StaleCase`, a
409. Side effects — notifications, webhooks, cache bumps — are registered with
:func:`after_commit` inside the block and run only once the commit has succeeded.

Units of work nest: a use case that calls another (a citizen's rating through
``perform_action``, a bulk import reporting row by row) joins the outer one, and only the
outermost commits. That is what makes "the caller commits" and ``commit=False`` unneeded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from duban.kernel.db.session import begin_write
from duban.kernel.errors import StaleCase

log = logging.getLogger(__name__)

_DEPTH: Final = "duban.uow_depth"
_HOOKS: Final = "duban.after_commit"
_DISCARD: Final = "duban.uow_discard"


@contextmanager
def writing(session: Session, *, case_id: int | None = None) -> Iterator[Session]:
    """Run the block as one write transaction of ``session``; commit, then run the hooks.

    ``case_id`` names the case a lost race is reported against (``StaleCase``).

    Raises:
        StaleCase: someone else changed the case (or its event chain) first.
    """
    depth = session.info.get(_DEPTH, 0)
    if depth:  # inside another use case's unit of work: it begins and commits
        session.info[_DEPTH] = depth + 1
        try:
            yield session
        finally:
            session.info[_DEPTH] = depth
        return
    session.info[_DEPTH] = 1
    session.info[_HOOKS] = []
    session.info[_DISCARD] = False
    try:
        begin_write(session)
        yield session
        if session.info[_DISCARD]:
            session.rollback()
            session.info[_HOOKS] = []
        else:
            session.commit()
    except StaleDataError as err:
        session.rollback()
        raise StaleCase(case_id or 0) from err
    except IntegrityError as err:
        session.rollback()
        if case_id is not None and "seq" in str(err.orig):
            raise StaleCase(case_id) from err
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info[_DEPTH] = 0
        session.info.pop(_DISCARD, None)
        hooks = session.info.pop(_HOOKS, [])
    for hook in hooks:  # committed: now the side effects, each on its own
        try:
            hook()
        except Exception:  # a failed side effect must not undo or hide a committed change
            log.exception("after-commit hook %r failed", hook)


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run ``hook`` once the current unit of work has committed (never if it rolls back).

    Outside a unit of work the hook runs at once: there is nothing left to wait for.
    """
    hooks = session.info.get(_HOOKS)
    if hooks is None or not session.info.get(_DEPTH):
        hook()
        return
    hooks.append(hook)


def discard(session: Session) -> None:
    """End the current unit of work with a rollback instead of a commit: a dry run, or a
    file refused for its problems, writes nothing and runs no hook, without an error.

    Nested, it discards the outermost unit of work (all of it is one transaction).
    Outside a unit of work it rolls back at once.
    """
    if not session.info.get(_DEPTH):
        session.rollback()
        return
    session.info[_DISCARD] = True


def in_unit_of_work(session: Session) -> bool:
    """Whether a :func:`writing` block of ``session`` is open."""
    return bool(session.info.get(_DEPTH))
