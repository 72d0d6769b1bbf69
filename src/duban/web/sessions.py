"""Browser sessions: a signed cookie, and the CSRF token every form carries.

The cookie holds who is signed in, the language, the CSRF token, the tracking codes of
reports made from this browser and one-shot notices. It is signed with HMAC-SHA256 under
a key derived from the app's secret, ``HttpOnly`` and ``SameSite=Lax``; nothing secret
is in it, and the server keeps no session state (web processes stay stateless).

A session also binds to a fingerprint of the user's password hash and token epoch, so
changing a password, a deactivation or signing out (here or through the API) signs out
every other browser too.

CSRF: a random token per browser session (synchronizer token kept in the signed cookie)
must come back with every POST, as the form field ``csrf_token`` or the header
``X-CSRF-Token`` (htmx). It is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

COOKIE_NAME = "duban_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LANGS = ("zh", "en")
MAX_TRACKED = 20
MAX_NOTICES = 5
MAX_UPLOADS = 20


@dataclass(frozen=True)
class WebSession:
    """The contents of the session cookie."""

    csrf: str
    lang: str = "zh"
    user_id: int | None = None
    user_fp: str = ""
    issued_at: int = 0
    tracked: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default_factory=tuple)
    #: Photos uploaded from this browser without an account: the only ones its
    #: anonymous reports may attach (newest first, a few only).
    uploads: tuple[str, ...] = ()

    @classmethod
    def fresh(cls, *, lang: str = "zh", now: int = 0) -> WebSession:
        """A new anonymous session with its own CSRF token."""
        return cls(csrf=secrets.token_urlsafe(24), lang=lang, issued_at=now)

    def signed_in(self, user_id: int, user_fp: str, now: int) -> WebSession:
        """The session after a sign-in: new CSRF token (no fixation), same language."""
        return replace(
            self,
            csrf=secrets.token_urlsafe(24),
            user_id=user_id,
            user_fp=user_fp,
            issued_at=now,
            notices=(),
        )

    def signed_out(self, now: int) -> WebSession:
        """The session after signing out: anonymous again, with a new CSRF token."""
        return WebSession.fresh(lang=self.lang, now=now)

    def tracking(self, code: str) -> WebSession:
        """Remember a tracking code made from this browser (newest first, a few only)."""
        codes = (code, *[c for c in self.tracked if c != code])[:MAX_TRACKED]
        return replace(self, tracked=codes)

    def uploaded(self, photo_ids: list[str]) -> WebSession:
        """Remember photos uploaded from this browser (newest first, a few only)."""
        ids = (*photo_ids, *[p for p in self.uploads if p not in photo_ids])[:MAX_UPLOADS]
        return replace(self, uploads=tuple(ids))

    def with_notice(self, key: str) -> WebSession:
        """Add a one-shot notice (an i18n key) shown on the next page."""
        return replace(self, notices=(*self.notices, key)[-MAX_NOTICES:])


def user_fingerprint(password_hash: str, epoch: int = 0) -> str:
    """A short fingerprint of a password hash and token epoch: changes when the password
    changes or the user signs out everywhere."""
    return hashlib.sha256(f"{password_hash}\x00{epoch}".encode()).hexdigest()[:16]


def _key(secret: str) -> bytes:
    # A key of its own, so a session cookie can never pass as an API token or vice versa.
    return hashlib.sha256(b"duban-web-session\x00" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: WebSession, secret: str) -> str:
    """The cookie value: ``base64(json).base64(hmac)``."""
    body: dict[str, Any] = {
        "c": session.csrf,
        "l": session.lang,
        "u": session.user_id,
        "f": session.user_fp,
        "i": session.issued_at,
        "t": list(session.tracked),
        "n": list(session.notices),
    }
    if session.uploads:
        body["p"] = list(session.uploads)
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{sig}"


def decode(value: str | None, secret: str) -> WebSession | None:
    """The session in a cookie, or None if it is missing or forged."""
    if not value or "." not in value or len(value) > 4096:
        return None
    payload, sig = value.rsplit(".", 1)
    good = _b64(hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(sig, good):
        return None
    try:
        body = json.loads(_unb64(payload))
        session = WebSession(
            csrf=str(body["c"]),
            lang=str(body["l"]) if body["l"] in LANGS else "zh",
            user_id=int(body["u"]) if body["u"] is not None else None,
            user_fp=str(body.get("f", "")),
            issued_at=int(body["i"]),
            tracked=tuple(str(c) for c in body.get("t", []))[:MAX_TRACKED],
            notices=tuple(str(n) for n in body.get("n", []))[:MAX_NOTICES],
            uploads=tuple(str(p) for p in body.get("p", []))[:MAX_UPLOADS],
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session


def is_expired(session: WebSession, *, now: int, max_age: int) -> bool:
    """Whether a sign-in is older than ``max_age`` seconds (anonymous ones never expire)."""
    return session.user_id is not None and now - session.issued_at > max_age


def csrf_ok(session: WebSession | None, sent: str | None) -> bool:
    """Whether ``sent`` is this session's CSRF token."""
    if session is None or not sent:
        return False
    return hmac.compare_digest(session.csrf.encode(), sent.encode())
