"""Sign-in and "who am I"."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from duban.accounts.users import authenticate, end_sessions
from duban.api.deps import ClockDep, CurrentUser, SessionDep, SettingsDep, issue_token
from duban.api.limits import client_ip, request_lang, request_limits
from duban.api.schemas import MeRead, TokenRead
from duban.kernel.errors import Unauthenticated
from duban.kernel.roles import ROLE_LABELS

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=TokenRead, summary="Sign in (OAuth2 password form)")
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> TokenRead:
    """Exchange ``username`` and ``password`` (form fields) for a bearer token. Sign-ins
    are limited per address, and wrong passwords for a username make it wait longer
    each time (429 with ``Retry-After``)."""
    limits = request_limits(request.app)
    limits.check_sign_in(client_ip(request), form.username, request_lang(request))
    user = authenticate(session, form.username, form.password)
    limits.signed_in(form.username, user is not None)
    if user is None:
        raise Unauthenticated("wrong username or password")
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    return TokenRead(
        access_token=issue_token(request.app.state.secret_key, user, ttl=ttl, now=clock.now()),
        expires_in=int(ttl.total_seconds()),
    )


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    summary="Sign out everywhere",
)
def logout(user: CurrentUser, session: SessionDep) -> Response:
    """End every token and web session of the caller (this token included): sign in
    again to go on. A password change or a deactivation does the same."""
    end_sessions(user)
    session.commit()
    return Response(status_code=204)


@router.get("/me", response_model=MeRead, summary="The signed-in user")
def me(user: CurrentUser) -> MeRead:
    """Username, role and unit of the caller."""
    return MeRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        role_label=ROLE_LABELS[user.role][0],
        unit=user.unit.code if user.unit else None,
        unit_name=user.unit.name if user.unit else None,
    )
