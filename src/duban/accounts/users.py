"""Users, units and sign-in. Passwords are hashed with Argon2id."""

from __future__ import annotations

import contextlib
import re
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from duban.accounts.beats import check_beat, resolve_beat_grids
from duban.accounts.models import Unit, User
from duban.accounts.unitnames import english_unit_name
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import Conflict, InvalidInput, Msg, NotFound
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing

MIN_PASSWORD_CHARS = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("duban-no-such-user")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher.hash(password)


def actor_of(user: User) -> Actor:
    """The :class:`Actor` a signed-in user acts as."""
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        unit_id=user.unit_id,
        region_code=user.region_code,
    )


_USERS = cast(Table, User.__table__)
_ACTIVE_ACTOR = select(
    _USERS.c.id,
    _USERS.c.username,
    _USERS.c.role,
    _USERS.c.unit_id,
    _USERS.c.region_code,
    _USERS.c.token_epoch,
).where(_USERS.c.id == bindparam("user_id"), _USERS.c.is_active)


def active_actor(session: Session, user_id: int, *, epoch: int | None = None) -> Actor | None:
    """The :class:`Actor` of an active user, read without loading the user (the one
    read of every API write), or None if the user is gone or disabled (or, given the
    ``epoch`` of a token, if the user signed out or changed password since)."""
    row = session.connection().execute(_ACTIVE_ACTOR, {"user_id": user_id}).first()
    if row is None:
        return None
    if epoch is not None and int(row.token_epoch or 0) != epoch:
        return None
    return Actor(
        user_id=row.id,
        username=row.username,
        role=Role(row.role),
        unit_id=row.unit_id,
        region_code=row.region_code,
    )


def end_sessions(user: User) -> None:
    """End every token and web session of ``user`` (they carry the epoch bumped here),
    inside the caller's unit of work: a password change, a deactivation, a sign-out."""
    user.token_epoch = int(user.token_epoch or 0) + 1


def sign_out_everywhere(session: Session, user: User) -> None:
    """退出: end every token and web session of ``user``, this one included."""
    with writing(session):
        end_sessions(user)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def create_unit(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str = "professional",
    name_en: str | None = None,
    region_code: str | None = None,
) -> Unit:
    """Add a responsible unit (``name_en``: its English name for English pages, drafted
    from the name by :func:`~duban.accounts.unitnames.english_unit_name` when not given);
    ``region_code`` makes it a unit of a district's or a street's platform (二级派遣:
    that platform's dispatchers send cases to it)."""
    if not code.strip() or not name.strip():
        raise InvalidInput("a unit needs a code and a name", field="code")
    region = check_region(session, Role.HANDLER, region_code)
    with writing(session):
        if session.scalars(select(Unit).where(Unit.code == code)).first() is not None:
            raise Conflict(Msg("unit '{code}' already exists", code=code))
        unit = Unit(
            code=code.strip(),
            name=name.strip(),
            name_en=(name_en or "").strip()[:200] or english_unit_name(name.strip())[:200],
            kind=kind,
            is_active=True,
            region_code=region,
        )
        session.add(unit)
        session.flush()
        return unit


def create_user(
    session: Session,
    *,
    clock: Clock,
    username: str,
    password: str,
    role: Role | str,
    unit_code: str | None = None,
    display_name: str = "",
    phone: str | None = None,
    beat: dict[str, Any] | None = None,
    password_hash: str | None = None,
    region_code: str | None = None,
) -> User:
    """Create a user. Handlers must belong to a unit; other roles must not.

    ``password_hash`` may carry a ready Argon2 hash of ``password`` (the demo hashes its
    one shared password once instead of once per user: Argon2 is slow on purpose).
    """
    if not USERNAME_RE.match(username or ""):
        raise InvalidInput(
            "username must be 2-64 letters, digits, '_', '.' or '-'", field="username"
        )
    if len(password or "") < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            Msg(
                "password must be at least {MIN_PASSWORD_CHARS} characters",
                MIN_PASSWORD_CHARS=MIN_PASSWORD_CHARS,
            ),
            field="password",
        )
    try:
        role = Role(role)
    except ValueError as err:
        names = ", ".join(r.value for r in Role if r != Role.SYSTEM)
        raise InvalidInput(
            Msg("unknown role '{role}'; one of: {names}", role=role, names=names), field="role"
        ) from err
    if role == Role.SYSTEM:
        raise InvalidInput("'system' is not a role a person can have", field="role")
    unit: Unit | None = None
    if role == Role.HANDLER:
        if not unit_code:
            raise InvalidInput("a unit handler needs a unit (--unit CODE)", field="unit")
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise InvalidInput(Msg("unknown unit '{unit_code}'", unit_code=unit_code), field="unit")
    elif unit_code:
        raise InvalidInput(
            Msg("role '{role}' does not belong to a unit", role=role.value), field="unit"
        )
    region = check_region(session, role, region_code)
    if beat is not None:
        if role != Role.COLLECTOR:
            raise InvalidInput("only a collector has a beat", field="beat")
        beat = check_beat(session, beat)
    with writing(session):
        if session.scalars(select(User).where(User.username == username)).first() is not None:
            raise Conflict(Msg("user '{username}' already exists", username=username))
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=password_hash or hash_password(password),
            role=role,
            unit_id=unit.id if unit else None,
            region_code=region,
            phone=phone,
            beat=beat,
            is_active=True,
            created_at=clock.now(),
        )
        session.add(user)
        session.flush()
        if beat is not None:
            resolve_beat_grids(session, [user.id])
        return user


def set_beat(session: Session, *, username: str, beat: Any) -> User:
    """Draw (or, with None, clear) a collector's beat, and resolve the grids it covers.
    ``beat``: a GeoJSON geometry or Feature (see :func:`~duban.accounts.beats.check_beat`).
    The one way a beat is written (:func:`create_user` draws the first one the same way)."""
    with writing(session):
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(Msg("unknown user '{username}'", username=username))
        if user.role != Role.COLLECTOR:
            raise InvalidInput("only a collector has a beat", field="beat")
        if beat is not None:
            beat = check_beat(session, beat)
        user.beat = beat
        session.flush()
        resolve_beat_grids(session, [user.id])
        return user


def check_region(session: Session, role: Role, region_code: str | None) -> str | None:
    """The territory a user of ``role`` may belong to: the code of a current district or
    street (None: city-wide). Citizens belong to none."""
    from duban.places import territory_level  # deferred: places reads accounts

    code = (region_code or "").strip()
    if not code:
        return None
    if role == Role.CITIZEN:
        raise InvalidInput("a citizen does not belong to a territory", field="region")
    if territory_level(session, code) is None:
        raise InvalidInput(
            Msg("unknown territory '{code}': give the code of a district or a street", code=code),
            field="region",
        )
    return code
