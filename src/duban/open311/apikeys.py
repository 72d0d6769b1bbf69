"""API keys of Open311 clients: issued per client by an admin, stored hashed, revocable.

A key looks like ``o311_<40 url-safe characters>`` (240 random bits). It is shown once,
when it is created; the database keeps its first characters (to find the row) and a
SHA-256 hash of the whole key. With that much entropy a fast hash is as safe as a slow
KDF, and checking a key on every POST costs one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.kernel.context import Clock
from duban.kernel.errors import Conflict, InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.unitofwork import writing
from duban.open311.models import ApiKey

KEY_PREFIX = "o311_"
PREFIX_CHARS = 12
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: the only moment its plain text exists."""

    name: str
    key: str
    created_at: datetime


@dataclass(frozen=True)
class KeyInfo:
    """What ``duban apikey list`` shows (never the key)."""

    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    #: The district or street the client is bound to (None: the whole city).
    region_code: str | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    session: Session,
    *,
    name: str,
    clock: Clock,
    unit_code: str | None = None,
    region_code: str | None = None,
) -> IssuedKey:
    """Issue a new key to the client ``name`` (unique; a revoked name cannot be reused).

    ``unit_code``: the key belongs to a lower platform (a district's Duban) that stands
    for that unit of ours: its ``servicerequestupdates`` on cases dispatched to the unit
    are taken as the unit's own feedback or return (see :mod:`duban.open311.updates`).
    ``region_code`` binds the key to a district's or a street's territory: its client
    reads and exports only that territory's requests and reports only inside it.
    """
    from duban.places import territory_level  # deferred: places read nothing of Open311

    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise InvalidInput("a key name must be 2-64 letters, digits, '_', '.' or '-'", field="name")
    region = (region_code or "").strip() or None
    if region is not None and territory_level(session, region) is None:
        raise InvalidInput(
            Msg(
                "unknown territory '{region}': give the code of a district or a street",
                region=region,
            ),
            field="region",
        )
    with writing(session):
        if session.scalars(select(ApiKey).where(ApiKey.name == name)).first() is not None:
            raise Conflict(Msg("an API key named '{name}' already exists", name=name))
        unit_id = None
        if unit_code:
            unit_id = session.scalar(select(Unit.id).where(Unit.code == unit_code.strip()))
            if unit_id is None:
                raise NotFound(Msg("there is no unit '{code}'", code=unit_code))
        key = KEY_PREFIX + secrets.token_urlsafe(30)
        now = clock.now()
        session.add(
            ApiKey(
                name=name,
                prefix=key[:PREFIX_CHARS],
                key_hash=_digest(key),
                created_at=now,
                revoked_at=None,
                unit_id=unit_id,
                region_code=region,
            )
        )
        return IssuedKey(name=name, key=key, created_at=now)


def revoke_api_key(session: Session, *, name: str, clock: Clock) -> KeyInfo:
    """Revoke the key of ``name``; it stops working at once. Revoking twice is harmless."""
    with writing(session):
        row = session.scalars(select(ApiKey).where(ApiKey.name == name)).first()
        if row is None:
            raise NotFound(Msg("there is no API key named '{name}'", name=name))
        if row.revoked_at is None:
            row.revoked_at = clock.now()
        return _info(row)


def list_api_keys(session: Session) -> list[KeyInfo]:
    """Every key ever issued, oldest first."""
    return [_info(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        region_code=row.region_code,
    )


def key_region(session: Session, key: str | None) -> str | None:
    """The territory a request's ``api_key`` binds it to: None without a key (public
    reads cover the city) or with a city-wide key; a wrong key is refused (403)."""
    if not (key or "").strip():
        return None
    return authenticate_key(session, key).region_code


def authenticate_key(session: Session, key: str | None) -> ApiKey:
    """The active key row for ``key``.

    Raises:
        PermissionDenied: no key, an unknown key or a revoked one (Open311 answers 403).
    """
    key = (key or "").strip()
    if not key:
        raise PermissionDenied("an api_key is required to post; ask the city for one")
    candidates = session.scalars(select(ApiKey).where(ApiKey.prefix == key[:PREFIX_CHARS])).all()
    digest = _digest(key)
    for row in candidates:
        if hmac.compare_digest(row.key_hash, digest):
            if row.revoked_at is not None:
                raise PermissionDenied("this api_key has been revoked")
            return row
    raise PermissionDenied("the api_key is not valid")
