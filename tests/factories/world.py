"""A test's world: its session, clock, people and photo store, with short verbs.

Only a bundle: every method calls a function of the capability factories
(:mod:`tests.factories.accounts`, :mod:`~tests.factories.cases`,
:mod:`~tests.factories.evidence`) with the world's session, clock and people, so a test
reads ``world.act(case, "accept", "handler")`` rather than passing five arguments.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from duban.accounts.models import Unit, User
from duban.accounts.users import actor_of
from duban.adapters.photostore import LocalPhotoStore
from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus
from duban.kernel.context import Actor
from tests.factories import cases, evidence
from tests.factories.accounts import make_people
from tests.fakes import FixedClock


class World:
    """One user per role (:data:`~tests.factories.accounts.PEOPLE`), units SZGC and HWC."""

    def __init__(
        self,
        session: Session,
        clock: FixedClock,
        session_factory: sessionmaker[Session] | None = None,
        store: LocalPhotoStore | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.store = store
        self._session_factory = session_factory
        self.units, self.users = make_people(session, clock)
        self.unit, self.unit2 = self.units["SZGC"], self.units["HWC"]

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """New sessions on the world's database (to read what was committed)."""
        assert self._session_factory is not None, "this world was made without a factory"
        return self._session_factory

    def actor(self, name: str) -> Actor:
        return actor_of(self.users[name])

    def user(self, name: str) -> User:
        return self.users[name]

    def unit_of(self, code: str) -> Unit:
        return self.units[code]

    def report(self, *, by: str = "operator", **kw: Any) -> Case:
        """A case reported by ``by`` (see :func:`tests.factories.cases.report`)."""
        return cases.report(self.session, actor=self.actor(by), clock=self.clock, **kw)

    def act(self, case: Case | int, action: Action | str, by: str, **params: Any) -> Case:
        return cases.act(
            self.session, case, action, actor=self.actor(by), clock=self.clock, **params
        )

    def photo(self, colour: tuple[int, int, int] | None = None, by: str = "handler") -> str:
        """A photo stored by ``by`` (a report attaches only its author's photos); its id.
        Without ``colour``, a colour no other photo of the world has: the photo checks
        rightly find one file sent as the fix of two cases."""
        if colour is None:
            self._fresh = getattr(self, "_fresh", 0) + 1
            n = self._fresh
            colour = (8 * (n % 32), 8 * (n // 32 % 32), 255 - 8 * (n // 1024 % 32))
        assert self.store is not None, "this world was made without a photo store"
        return evidence.stored_photo(
            self.session,
            actor=self.actor(by),
            clock=self.clock,
            store=self.store,
            colour=colour,
        )

    def case_in(self, status: CaseStatus, **report_kw: Any) -> Case:
        """A case driven along the happy path until it reaches ``status``."""
        return cases.drive(
            self.report(**report_kw),
            status,
            act_as=lambda case, action, by, params: self.act(case, action, by, **params),
            photo=self.photo,
        )
