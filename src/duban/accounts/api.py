"""Sign-in and "who am I"; the admin's units and users."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.beats import beat_grid_counts
from duban.accounts.models import Unit, User
from duban.accounts.schemas import (
    BeatRead,
    MeRead,
    TokenRead,
    UnitCreate,
    UnitRead,
    UserCreate,
    UserRead,
)
from duban.accounts.users import (
    authenticate,
    create_unit,
    create_user,
    set_beat,
    sign_out_everywhere,
)
from duban.api.deps import ActorDep, ClockDep, CurrentUser, SessionDep, SettingsDep, issue_token
from duban.api.limits import client_ip, request_lang, request_limits
from duban.kernel.errors import Unauthenticated
from duban.kernel.roles import ROLE_LABELS
from duban.reference import require_admin

router = APIRouter(tags=["auth"])
#: The admin's units and users (mounted after the other routers, as ``/admin/...``).
admin_router = APIRouter(prefix="/admin", tags=["admin"])


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
    sign_out_everywhere(session, user)
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
        region=user.region_code,
    )


def _user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        unit=user.unit.code if user.unit else None,
        is_active=user.is_active,
        region=user.region_code,
    )


@admin_router.get("/units", response_model=list[UnitRead], summary="List units")
def units(session: SessionDep, actor: ActorDep) -> list[UnitRead]:
    """All responsible units."""
    require_admin(actor)
    return [
        UnitRead(code=u.code, name=u.name, name_en=u.name_en, kind=u.kind, is_active=u.is_active)
        for u in session.scalars(select(Unit).order_by(Unit.code))
    ]


@admin_router.post("/units", response_model=UnitRead, status_code=201, summary="Add a unit")
def add_unit(body: UnitCreate, session: SessionDep, actor: ActorDep) -> UnitRead:
    """Add a responsible unit (专业部门 or 属地)."""
    require_admin(actor)
    unit = create_unit(
        session, code=body.code, name=body.name, kind=body.kind, name_en=body.name_en
    )
    return UnitRead(
        code=unit.code,
        name=unit.name,
        name_en=unit.name_en,
        kind=unit.kind,
        is_active=unit.is_active,
    )


@admin_router.get("/users", response_model=list[UserRead], summary="List users")
def users(session: SessionDep, actor: ActorDep) -> list[UserRead]:
    """All users with their roles and units."""
    require_admin(actor)
    return [_user_read(u) for u in session.scalars(select(User).order_by(User.username))]


@admin_router.post("/users", response_model=UserRead, status_code=201, summary="Add a user")
def add_user(body: UserCreate, session: SessionDep, actor: ActorDep, clock: ClockDep) -> UserRead:
    """Add a user with a role (handlers need a unit)."""
    require_admin(actor)
    user = create_user(
        session,
        clock=clock,
        username=body.username,
        password=body.password,
        role=body.role,
        unit_code=body.unit,
        display_name=body.display_name,
        phone=body.phone,
        beat=body.beat,
        region_code=body.region,
    )
    return _user_read(user)


def _beat_read(session: Session, user: User) -> BeatRead:
    grids = beat_grid_counts(session, [user.id]).get(user.id, 0)
    return BeatRead(username=user.username, beat=user.beat, grids=grids)


@admin_router.put(
    "/users/{username}/beat", response_model=BeatRead, summary="Draw a collector's beat"
)
def put_beat(
    username: str,
    body: Annotated[dict[str, Any], Body(description="GeoJSON (Multi)Polygon or its Feature")],
    session: SessionDep,
    actor: ActorDep,
) -> BeatRead:
    """Draw a collector's beat (责任区): a GeoJSON Polygon or MultiPolygon, or a Feature of
    one, inside the city. The unit grids it covers (half of a grid's area or more) are
    resolved at once: 漏报 counts others' reports in them. The answer says how many."""
    require_admin(actor)
    return _beat_read(session, set_beat(session, username=username, beat=body))


@admin_router.delete(
    "/users/{username}/beat", response_model=BeatRead, summary="Clear a collector's beat"
)
def delete_beat(username: str, session: SessionDep, actor: ActorDep) -> BeatRead:
    """Clear a collector's beat: no grids, so no 漏报 is counted against them."""
    require_admin(actor)
    return _beat_read(session, set_beat(session, username=username, beat=None))
