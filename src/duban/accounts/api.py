"""Sign-in and "who am I"."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from duban.accounts.users import authenticate
from duban.api.deps import ClockDep, CurrentUser, SessionDep, SettingsDep, issue_token
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
    """Exchange ``username`` and ``password`` (form fields) for a bearer token."""
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise Unauthenticated("wrong username or password")
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    return TokenRead(
        access_token=issue_token(request.app.state.secret_key, user, ttl=ttl, now=clock.now()),
        expires_in=int(ttl.total_seconds()),
    )


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
