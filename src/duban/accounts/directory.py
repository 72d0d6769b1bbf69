"""The admin's directory: switching units and users on and off, roles and passwords.

(The working calendar's local days live in :mod:`duban.reference.holidays`.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit, User
from duban.accounts.unitnames import english_unit_name
from duban.accounts.users import MIN_PASSWORD_CHARS, check_region, end_sessions, hash_password
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.reference import require_admin


def set_unit_active(session: Session, *, actor: Actor, code: str, active: bool) -> Unit:
    """Switch a unit on or off (an inactive unit gets no new cases; old ones keep it)."""
    require_admin(actor)
    with writing(session):
        unit = _unit(session, code)
        unit.is_active = active
        return unit


def set_unit_english_name(session: Session, *, actor: Actor, code: str, name_en: str) -> Unit:
    """Correct a unit's English name (empty: the draft made from its Chinese name)."""
    require_admin(actor)
    with writing(session):
        unit = _unit(session, code)
        unit.name_en = name_en.strip()[:200] or english_unit_name(unit.name)[:200]
        return unit


def _unit(session: Session, code: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise NotFound(Msg("unit '{code}' does not exist", code=code))
    return unit


def update_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    role: str | None = None,
    unit_code: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    region_code: str | None = None,
) -> User:
    """Change a user's role and unit, switch them on or off, set a new password, or
    change their territory (``region_code``: a district or street; "" makes them
    city-wide; None leaves it).

    A handler must keep a unit and other roles none; admins cannot switch themselves off
    or take away their own admin role (someone must be left to undo it).
    """
    require_admin(actor)
    with writing(session):
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(Msg("user '{username}' does not exist", username=username))
        if role is not None:
            try:
                new_role = Role(role)
            except ValueError as err:
                raise InvalidInput(Msg("unknown role '{role}'", role=role), field="role") from err
            if new_role == Role.SYSTEM:
                raise InvalidInput("'system' is not a role a person can have", field="role")
            if user.id == actor.user_id and new_role != Role.ADMIN:
                raise InvalidInput("you cannot take away your own admin role", field="role")
            unit: Unit | None = None
            if new_role == Role.HANDLER:
                if not unit_code:
                    raise InvalidInput("a unit handler needs a unit", field="unit")
                unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
                if unit is None:
                    raise InvalidInput(
                        Msg("unknown unit '{unit_code}'", unit_code=unit_code), field="unit"
                    )
            user.role = new_role
            user.unit_id = unit.id if unit else None
        if region_code is not None:
            # Tokens and sessions carry no scope: the next request reads the new one.
            user.region_code = check_region(session, user.role, region_code)
        elif role is not None and user.role == Role.CITIZEN and user.region_code:
            user.region_code = None
        if active is not None:
            if user.id == actor.user_id and not active:
                raise InvalidInput("you cannot switch off your own account", field="active")
            if user.is_active and not active:
                end_sessions(user)
            user.is_active = active
        if password:
            if len(password) < MIN_PASSWORD_CHARS:
                raise InvalidInput(
                    Msg(
                        "password must be at least {MIN_PASSWORD_CHARS} characters",
                        MIN_PASSWORD_CHARS=MIN_PASSWORD_CHARS,
                    ),
                    field="password",
                )
            # A new hash also signs the user out of every browser (the session binds to it).
            user.password_hash = hash_password(password)
            end_sessions(user)  # and every API token
        return user
