"""FastAPI dependencies: the database session, the clock, the signed-in actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
import jwt
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from duban.accounts.models import User
from duban.accounts.users import active_actor
from duban.config import Settings
from duban.kernel.context import Actor, Clock
from duban.kernel.db.session import REQUEST_MEMO
from duban.kernel.errors import Unauthenticated

TOKEN_ALGORITHM = "HS256"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, closed (and rolled back if unfinished) afterwards.

    Opening a session does no I/O, so it runs on the event loop, as does closing one
    whose work is committed; only a session with a transaction still open (rolled back
    on close) is closed in the thread pool. The session memoizes the reference data it
    reads for the request (see :func:`duban.kernel.db.session.request_memo`).
    """
    session: Session = request.app.state.session_factory()
    session.info[REQUEST_MEMO] = {}
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)
        else:
            session.close()


# Dependencies that do no I/O are ``async``: FastAPI runs them on the event loop instead
# of handing each to the thread pool (a round trip per dependency per request).


async def get_clock(request: Request) -> Clock:
    """The application's clock (the real one outside tests)."""
    clock: Clock = request.app.state.clock
    return clock


async def get_settings(request: Request) -> Settings:
    """The validated settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def issue_token(secret: str, user: User, *, ttl: timedelta, now: datetime) -> str:
    """A signed bearer token for ``user``."""
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "role": user.role.value,
        # The user's epoch when signed: a sign-out, password change or deactivation bumps
        # it, and every token signed before stops working.
        "ep": int(user.token_epoch or 0),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


@dataclass(frozen=True)
class TokenSubject:
    """Who a valid token was issued to, and the user's token epoch then."""

    user_id: int
    epoch: int


class TokenVerifier:
    """Checks bearer tokens, remembering the ones already checked.

    A token's signature is checked once (an HMAC and three base64 decodes cost more than
    the rest of a small request); after that only its lifetime is, against the app's
    clock. The memory is bounded: when full it starts again.
    """

    MAX_REMEMBERED = 10_000

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._checked: dict[str, tuple[TokenSubject, int]] = {}  # token → (subject, expiry)

    def user_id(self, token: str | None, now: datetime) -> int:
        """The user id ``token`` was issued to (see :meth:`subject`)."""
        return self.subject(token, now).user_id

    def subject(self, token: str | None, now: datetime) -> TokenSubject:
        """Whom ``token`` was issued to; :class:`Unauthenticated` if it is missing,
        forged, malformed or expired at ``now``. Whether its epoch is still the user's is
        checked where the user's row is read (:func:`signed_in_actor`)."""
        if not token:
            raise Unauthenticated(
                "sign in first: send 'Authorization: Bearer <token>' "
                "(get one from POST /api/v1/auth/token)"
            )
        checked = self._checked.get(token)
        if checked is None:
            checked = self._verify(token)
            if len(self._checked) >= self.MAX_REMEMBERED:
                self._checked.clear()
            self._checked[token] = checked
        subject, expires = checked
        if expires <= now.timestamp():
            raise Unauthenticated("the access token is invalid or expired; sign in again")
        return subject

    def _verify(self, token: str) -> tuple[TokenSubject, int]:
        try:
            # Lifetimes are checked against the app's clock, the one that issued the token.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[TOKEN_ALGORITHM],
                options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False},
            )
            return TokenSubject(int(claims["sub"]), int(claims.get("ep", 0))), int(claims["exp"])
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as err:
            raise Unauthenticated("the access token is invalid or expired; sign in again") from err


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one (what
    :data:`oauth2_scheme` reads, for a route that reads it itself)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def token_verifier(app: Any) -> TokenVerifier:
    """The app's verifier (made on first use, for the app's signing key)."""
    verifier: TokenVerifier | None = getattr(app.state, "token_verifier", None)
    if verifier is None:
        verifier = TokenVerifier(app.state.secret_key)
        app.state.token_verifier = verifier
    return verifier


async def get_token_user_id(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> TokenSubject:
    """Whom the bearer token was issued to; 401 without a valid token.

    Only checks the signature and lifetime (no I/O, so it runs on the event loop); the
    user row is read where the request reads the rest (:func:`signed_in_actor`).
    """
    return token_verifier(request.app).subject(token, request.app.state.clock.now())


TokenUserId = Annotated[TokenSubject, Depends(get_token_user_id)]

SIGNED_OUT = "this account no longer exists, is disabled or was signed out; sign in again"


def signed_in_user(session: Session, subject: TokenSubject) -> User:
    """The active user behind a token; 401 if gone, disabled or signed out since."""
    user = session.get(User, subject.user_id)
    if user is None or not user.is_active or int(user.token_epoch or 0) != subject.epoch:
        raise Unauthenticated(SIGNED_OUT)
    return user


def signed_in_actor(session: Session, subject: TokenSubject) -> Actor:
    """:func:`signed_in_user` as an :class:`Actor`, without loading the user."""
    actor = active_actor(session, subject.user_id, epoch=subject.epoch)
    if actor is None:
        raise Unauthenticated(SIGNED_OUT)
    return actor


def get_current_user(session: SessionDep, user_id: TokenUserId) -> User:
    """The signed-in user, from the bearer token; 401 otherwise."""
    return signed_in_user(session, user_id)


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_actor(session: SessionDep, user_id: TokenUserId) -> Actor:
    """The signed-in user as an :class:`Actor` for use cases (the user row is not loaded)."""
    return signed_in_actor(session, user_id)


ActorDep = Annotated[Actor, Depends(get_actor)]


def utcnow() -> datetime:
    """The real time, aware UTC."""
    return datetime.now(UTC)
