"""Credentials we send (an exchange link's keys, webhook secrets, a citizen's tracking
link) kept encrypted at rest: a copy of the database alone does not reveal them.

They cannot be hashed, since we must send them, so they are sealed with Fernet
(AES-128-CBC with an HMAC-SHA256, from ``cryptography``) under a key derived from the
application's signing key (``DUBAN_SECRET_KEY``), which is never in the database. The
configuration layer names where that secret comes from (:func:`use_secret_source`);
the column type seals on write and opens on read, so code using the models sees the
plain value and never writes it in clear by mistake.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: Binds the derived key to this use: the signing key signs, this one encrypts.
_PURPOSE = b"duban sealed column v1:"

_source: Callable[[], str] | None = None


class SealingKeyError(RuntimeError):
    """No secret to seal with, or a sealed value that this secret does not open."""


def use_secret_source(source: Callable[[], str]) -> None:
    """Name where the secret comes from (read once, on the first seal or open)."""
    global _source
    _source = source
    _fernet.cache_clear()


@functools.cache
def _fernet() -> Fernet:
    if _source is None:
        raise SealingKeyError("no secret key is configured to seal credentials with")
    digest = hashlib.sha256(_PURPOSE + _source().encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(text: str) -> str:
    """``text`` encrypted (ASCII, about 1.4 × its length + 100 characters)."""
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    """The text :func:`seal` sealed; :class:`SealingKeyError` under another secret."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as err:
        raise SealingKeyError(
            "a sealed credential does not open with this DUBAN_SECRET_KEY (was the key "
            "changed? set the credential again)"
        ) from err


class SealedText(TypeDecorator[str]):
    """A text column stored sealed (:func:`seal`) and read back in clear."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else seal(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unseal(str(value))
