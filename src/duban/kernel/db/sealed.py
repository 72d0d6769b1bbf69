"""Credentials we send (an exchange link's keys, webhook secrets, a citizen's tracking
link) kept encrypted at rest: a copy of the database alone does not reveal them.

They cannot be hashed, since we must send them, so they are sealed with Fernet
(AES-128-CBC with an HMAC-SHA256, from ``cryptography``) under a key derived from the
application's signing key (``DUBAN_SECRET_KEY``), which is never in the database. The
configuration layer names where that secret comes from (:func:`use_secret_source`);
the column type seals on write and opens on read, so code using the models sees the
plain value and never writes it in clear by mistake.

**Rotation.** The source may give several secrets, the current one first
(``DUBAN_SECRET_KEY``, then ``DUBAN_SECRET_KEY_OLD``): values are sealed with the first and
open with any (``MultiFernet``), so a city changes its key without losing what was sealed
under the old one; :func:`reseal_all` (``duban secrets rotate``) then seals every value
again with the current key, after which the old keys can go.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import MetaData, Table, Text, bindparam, column, select, table, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from duban.kernel.errors import Msg
from duban.kernel.unitofwork import writing

#: Binds the derived key to this use: the signing key signs, this one encrypts.
_PURPOSE = b"duban sealed column v1:"
#: Rows read and written again at a time by :func:`reseal_all`.
RESEAL_BATCH: Final = 1000

NO_KEY = "no secret key is configured to seal credentials with"
DOES_NOT_OPEN = (
    "a sealed credential does not open with DUBAN_SECRET_KEY or any key of "
    "DUBAN_SECRET_KEY_OLD (was the key changed? put the old one in DUBAN_SECRET_KEY_OLD, "
    "or set the credential again)"
)

_source: Callable[[], str | Sequence[str]] | None = None


class SealingKeyError(RuntimeError):
    """No secret to seal with, or a sealed value that none of the secrets opens. Carries
    its catalogue template (``text``) like a domain error: a misconfigured server, not a
    request's fault."""

    def __init__(self, message: str | Msg, /, **detail: Any) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        self.detail = detail
        super().__init__(str(self.text))


def use_secret_source(source: Callable[[], str | Sequence[str]]) -> None:
    """Name where the secrets come from: one secret, or several with the current one first
    (read once, on the first seal or open)."""
    global _source
    _source = source
    _fernets.cache_clear()


def _derive(secret: str) -> Fernet:
    digest = hashlib.sha256(_PURPOSE + secret.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@functools.cache
def _fernets() -> tuple[Fernet, MultiFernet]:
    """The current key's Fernet, and the MultiFernet of every key (current first)."""
    if _source is None:
        raise SealingKeyError(NO_KEY)
    given = _source()
    secrets = [given] if isinstance(given, str) else [s for s in given if s]
    if not secrets:
        raise SealingKeyError(NO_KEY)
    keys = [_derive(s) for s in dict.fromkeys(secrets)]  # each once, the current first
    return keys[0], MultiFernet(keys)


def seal(text: str) -> str:
    """``text`` encrypted with the current key (ASCII, about 1.4 × its length + 100
    characters)."""
    return _fernets()[1].encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    """The text :func:`seal` sealed, under the current key or an old one;
    :class:`SealingKeyError` under none of them."""
    try:
        return _fernets()[1].decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as err:
        raise SealingKeyError(DOES_NOT_OPEN) from err


def is_current(token: str) -> bool:
    """Whether a sealed value opens with the current key alone."""
    try:
        _fernets()[0].decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


class SealedText(TypeDecorator[str]):
    """A text column stored sealed (:func:`seal`) and read back in clear."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else seal(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unseal(str(value))


# --------------------------------------------------------------------------- rotation


@dataclass(frozen=True)
class Resealed:
    """What :func:`reseal_all` did to one table: values sealed again with the current key,
    and values already sealed with it (left alone)."""

    table: str
    resealed: int
    current: int


def sealed_columns(metadata: MetaData) -> dict[str, list[str]]:
    """Table name → its sealed columns, of the tables on ``metadata``."""
    out: dict[str, list[str]] = {}
    for name, tbl in sorted(metadata.tables.items()):
        found = [c.name for c in tbl.columns if isinstance(c.type, SealedText)]
        if found:
            out[name] = found
    return out


def _raw(tbl: Table, columns: Sequence[str]) -> Any:
    """The table seen with its sealed columns as plain text (the stored tokens)."""
    key = [c.name for c in tbl.primary_key.columns]
    if key != ["id"]:
        raise SealingKeyError(Msg("table {table} has no id to reseal by", table=tbl.name))
    return table(tbl.name, column("id"), *[column(c, Text) for c in columns])


def _batches(session: Session, raw: Any, columns: Sequence[str]) -> Iterator[Sequence[Any]]:
    last = None
    while True:
        stmt = select(raw.c.id, *[raw.c[c] for c in columns]).order_by(raw.c.id)
        if last is not None:
            stmt = stmt.where(raw.c.id > last)
        rows = session.execute(stmt.limit(RESEAL_BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def reseal_table(session: Session, tbl: Table, columns: Sequence[str]) -> Resealed:
    """Seal again with the current key every value of ``columns`` of ``tbl`` that is not
    sealed with it (in the caller's transaction). :class:`SealingKeyError` (naming the
    table, column and row) when a value opens with none of the keys."""
    raw = _raw(tbl, columns)
    every = _fernets()[1]
    resealed = already = 0
    for rows in _batches(session, raw, columns):
        changed: list[dict[str, Any]] = []
        for row in rows:
            values: dict[str, Any] = {}
            for name, token in zip(columns, row[1:], strict=True):
                if token is None:
                    continue
                if is_current(token):
                    already += 1
                    continue
                try:
                    values[name] = every.rotate(token.encode("ascii")).decode("ascii")
                except (InvalidToken, UnicodeError) as err:
                    raise SealingKeyError(
                        Msg(
                            "{table}.{column} of row {row_id} does not open with "
                            "DUBAN_SECRET_KEY or any key of DUBAN_SECRET_KEY_OLD; add the "
                            "key it was sealed with to DUBAN_SECRET_KEY_OLD",
                            table=tbl.name,
                            column=name,
                            row_id=row[0],
                        )
                    ) from err
            if values:
                resealed += len(values)
                kept = dict(zip(columns, row[1:], strict=True))
                changed.append(
                    {"row_id": row[0], **{f"new_{c}": values.get(c, kept[c]) for c in columns}}
                )
        if changed:
            stmt = (
                update(raw)
                .where(raw.c.id == bindparam("row_id"))
                .values({c: bindparam(f"new_{c}") for c in columns})
            )
            session.execute(stmt, changed)
    return Resealed(tbl.name, resealed, already)


def reseal_all(session: Session, metadata: MetaData) -> list[Resealed]:
    """:func:`reseal_table` for every table with sealed columns, one write transaction
    each (a table whose values do not all open is rolled back and stops the run).
    Idempotent: a second run finds every value current."""
    done: list[Resealed] = []
    for name, columns in sealed_columns(metadata).items():
        with writing(session):
            done.append(reseal_table(session, metadata.tables[name], columns))
    return done
