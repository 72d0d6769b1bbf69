"""Accounts: units, users, and one user per role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit, User
from duban.accounts.unitnames import english_unit_name
from duban.accounts.users import hash_password, set_beat
from duban.kernel.roles import Role
from tests.factories.places import BEAT
from tests.fakes import FixedClock

PASSWORD = "test-password"
_HASH = hash_password(PASSWORD)  # once: Argon2 is slow on purpose

#: The units every test town has: (code, name).
UNITS = (("SZGC", "市政工程管理处"), ("HWC", "环境卫生管理处"))

#: The people of a test town: username → (role, unit code or None).
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "citizen": (Role.CITIZEN, None),
    "citizen2": (Role.CITIZEN, None),
    "collector": (Role.COLLECTOR, None),
    "collector2": (Role.COLLECTOR, None),
    "operator": (Role.OPERATOR, None),
    "shift_lead": (Role.SHIFT_LEAD, None),
    "dispatcher": (Role.DISPATCHER, None),
    "supervisor": (Role.SUPERVISOR, None),
    "leader": (Role.LEADER, None),
    "admin": (Role.ADMIN, None),
    "handler": (Role.HANDLER, "SZGC"),
    "handler2": (Role.HANDLER, "HWC"),
}


def make_unit(session: Session, code: str = "SZGC", name: str = "市政工程管理处") -> Unit:
    """The unit ``code``, created (and committed) if it does not exist yet."""
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        # The English name create_unit drafts (an installed unit always has one).
        unit = Unit(
            code=code,
            name=name,
            name_en=english_unit_name(name),
            kind="professional",
            is_active=True,
        )
        session.add(unit)
        session.commit()
    return unit


def make_user(
    session: Session,
    username: str,
    role: Role,
    *,
    unit: Unit | None = None,
    beat: dict[str, Any] | None = None,
    clock: FixedClock | None = None,
) -> User:
    """An active user whose password is :data:`PASSWORD` (committed); a ``beat`` is drawn
    the one way beats are (:func:`~duban.accounts.users.set_beat`: its grids resolved)."""
    user = User(
        username=username,
        display_name=username,
        password_hash=_HASH,
        role=role,
        unit_id=unit.id if unit else None,
        is_active=True,
        created_at=(clock or FixedClock()).now(),
    )
    session.add(user)
    session.commit()
    if beat is not None:
        set_beat(session, username=username, beat=beat)
    return user


def make_people(session: Session, clock: FixedClock) -> tuple[dict[str, Unit], dict[str, User]]:
    """The units of :data:`UNITS` and the users of :data:`PEOPLE`; ``collector`` walks
    :data:`~tests.factories.places.BEAT`."""
    units = {code: make_unit(session, code, name) for code, name in UNITS}
    users = {
        name: make_user(
            session,
            name,
            role,
            unit=units[unit] if unit else None,
            beat=BEAT if name == "collector" else None,
            clock=clock,
        )
        for name, (role, unit) in PEOPLE.items()
    }
    return units, users
