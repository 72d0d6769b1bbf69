"""Per-request web context: who is looking, in which language, and how to answer.

Routes take ``ctx: Ctx`` and return ``ctx.render(...)`` or ``ctx.redirect(...)``; both
write the session cookie back when it changed. Forms are read by the ``Form`` dependency,
which refuses any POST without this browser's CSRF token before the route runs.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, ParamSpec
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from duban.accounts.models import User
from duban.accounts.users import actor_of
from duban.api.deps import ClockDep, SessionDep, SettingsDep
from duban.config import Settings
from duban.evidence.models import Photo
from duban.evidence.public import public_content_type, public_photo_bytes
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import (
    DubanError,
    InvalidInput,
    Msg,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from duban.kernel.inputs import refuse_control_characters_in
from duban.kernel.roles import Role
from duban.reference.policy import load_policy
from duban.web import pending, sessions
from duban.web.i18n import translate
from duban.web.templating import environment
from duban.web.tiles import image_sources, layers_json, map_crs

P = ParamSpec("P")


class LoginRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(Exception):
    """A POST came without this browser's CSRF token; answered with 403."""


class SignInExpired(Exception):
    """A form came after its sign-in expired and was kept (:mod:`duban.web.pending`);
    answered with the sign-in page, which then leads to the kept form."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _now_ts(clock: Clock) -> int:
    return int(clock.now().timestamp())


def load_web_session(request: Request, clock: Clock, settings: Settings) -> WebSessionState:
    """The browser's session from its cookie (a fresh one if none or invalid)."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, WebSessionState):
        return cached
    now = _now_ts(clock)
    found = sessions.decode(request.cookies.get(sessions.COOKIE_NAME), request.app.state.secret_key)
    if found is None:
        state = WebSessionState(data=sessions.WebSession.fresh(now=now), dirty=True)
    elif sessions.is_expired(found, now=now, max_age=settings.token_ttl_minutes * 60):
        # An expired sign-in becomes an anonymous session; the language stays.
        state = WebSessionState(data=found.signed_out(now), dirty=True)
    else:
        state = WebSessionState(data=found)
    request.state.web_session = state
    return state


#: Where each role starts after signing in.
HOME_OF_ROLE: dict[Role, str] = {
    Role.CITIZEN: "/report",
    Role.COLLECTOR: "/tasks",
    Role.OPERATOR: "/work",
    Role.SHIFT_LEAD: "/work",
    Role.DISPATCHER: "/work",
    Role.HANDLER: "/work",
    Role.SUPERVISOR: "/work",
    Role.LEADER: "/dashboard",
    Role.ADMIN: "/admin",
}


PUBLIC_NAV: list[tuple[str, str]] = [
    ("/report", "Report a problem"),
    ("/track", "Track my report"),
    ("/public", "Reports near you"),
]
_WORK = ("/work", "Workbench")
_CASES = ("/cases", "Cases")
_MAP = ("/map", "Map")
_STATS = ("/dashboard", "Dashboard")
_ORDERS = ("/supervision", "Supervision orders")
_EVAL = ("/evaluation", "Evaluation")  # 考核
_JOINT = ("/joint", "Joint sessions")  # 会商
_REVISITS = ("/revisits", "Revisits")  # 回头看
_CAMPAIGNS = ("/campaigns", "Campaigns")  # 专项行动
#: 督办: the supervisor's workbench, the entry to orders, ledgers, campaigns, joint
#: sessions and revisits (one menu entry for the five; see :data:`NAV_GROUPS`).
_OVERSIGHT = ("/oversight", "Supervision")
#: A menu entry that stands for several pages: it is marked current on each of them.
NAV_GROUPS: dict[str, tuple[str, ...]] = {
    "/oversight": ("/oversight", "/supervision", "/ledgers", "/campaigns", "/joint", "/revisits"),
}
NAV_OF_ROLE: dict[Role | None, list[tuple[str, str]]] = {
    Role.CITIZEN: [
        ("/report", "Report a problem"),
        ("/my", "My reports"),
        ("/public", "Reports near you"),
    ],
    Role.COLLECTOR: [("/tasks", "My tasks"), ("/report", "Report a problem"), _MAP, _REVISITS],
    Role.OPERATOR: [_WORK, ("/report", "Hotline intake"), _CASES, _MAP],
    Role.SHIFT_LEAD: [_WORK, ("/report", "New case"), _CASES, _MAP, _STATS],
    Role.DISPATCHER: [_WORK, _CASES, _MAP, _STATS],
    Role.HANDLER: [("/work", "Inbox"), _CASES, _MAP, _ORDERS, _JOINT, _CAMPAIGNS],
    Role.SUPERVISOR: [_OVERSIGHT, _WORK, _CASES, _MAP, _STATS, _EVAL],
    Role.LEADER: [_STATS, _EVAL, _OVERSIGHT, _MAP, _CASES],
    Role.ADMIN: [("/admin", "Admin"), _CASES, _MAP, _STATS, _EVAL],
}


@dataclass
class WebSessionState:
    """The session as loaded, and whether the cookie must be written back."""

    data: sessions.WebSession
    dirty: bool = False

    def update(self, data: sessions.WebSession) -> None:
        """Replace the session; the response will carry the new cookie."""
        self.data = data
        self.dirty = True


@dataclass
class WebContext:
    """What a page needs: the database, the clock, the viewer and the renderer."""

    request: Request
    db: Session
    clock: Clock
    settings: Settings
    state: WebSessionState
    user: User | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        """``zh`` or ``en``."""
        return self.state.data.lang

    @property
    def csrf(self) -> str:
        """This browser's CSRF token, for forms."""
        return self.state.data.csrf

    @property
    def actor(self) -> Actor | None:
        """The signed-in user as an actor of use cases."""
        return actor_of(self.user) if self.user else None

    @property
    def role(self) -> Role | None:
        """The signed-in user's role."""
        return self.user.role if self.user else None

    @property
    def nav(self) -> list[tuple[str, str]]:
        """The menu of the viewer's role: (path, label)."""
        return [(path, self.t(label)) for path, label in NAV_OF_ROLE.get(self.role, PUBLIC_NAV)]

    def nav_current(self, path: str) -> bool:
        """Whether the menu entry ``path`` (or a page of its group) is being shown."""
        here = self.request.url.path
        return any(here.startswith(p) for p in NAV_GROUPS.get(path, (path,)))

    def t(self, text: str | Msg, **values: Any) -> str:
        """``text`` (a catalogue key, or an error's template and values) in the page's
        language."""
        return translate(text, self.lang, **values)

    def staff(self, *roles: Role) -> Actor:
        """The signed-in actor; redirect to sign in, or 403 if the role is not in ``roles``."""
        actor = self.actor
        if actor is None:
            raise LoginRequired(self.request.url.path + _query(self.request))
        if roles and actor.role not in roles:
            raise PermissionDenied("This page is not for your role.")
        return actor

    def notice(self, key: str) -> None:
        """Show ``key`` (translated) once on the next page."""
        self.state.update(self.state.data.with_notice(key))

    def _finish(self, response: Response) -> Response:
        if self.state.dirty:
            response.set_cookie(
                sessions.COOKIE_NAME,
                sessions.encode(self.state.data, self.request.app.state.secret_key),
                max_age=30 * 24 * 3600,
                httponly=True,
                samesite="lax",
                secure=self.request.url.scheme == "https",
                path="/",
            )
        if response.media_type == "text/html":
            response.headers.setdefault("Content-Security-Policy", content_policy(self.settings))
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        """Render a page (or an htmx partial) with the context and ``values``."""
        notices: tuple[str, ...] = ()
        if not template.startswith("partials/") and self.state.data.notices:
            notices = self.state.data.notices
            self.state.update(replace(self.state.data, notices=()))
        html = (
            environment()
            .get_template(template)
            .render(
                ctx=self,
                _=self.t,
                lang=self.lang,
                user=self.user,
                notices=notices,
                tz=load_policy(self.db).tz,
                now=self.clock.now(),
                settings=self.settings,
                map_layers=layers_json(self.settings),
                map_crs=map_crs(self.settings),
                **values,
            )
        )
        return self._finish(HTMLResponse(html, status_code=status_code))

    def redirect(self, url: str) -> Response:
        """See other (303) to a local ``url``."""
        return self._finish(RedirectResponse(safe_next(url), status_code=303))

    def error_page(self, err: DubanError) -> Response:
        """A domain error as a page."""
        if isinstance(err, TooManyRequests):
            response = self.render(
                "error.html", status_code=429, message=translate(err.text, self.lang)
            )
            response.headers["Retry-After"] = str(err.retry_after)
            return response
        status = (
            404
            if isinstance(err, NotFound)
            else 403
            if isinstance(err, PermissionDenied)
            else 422
            if isinstance(err, InvalidInput)
            else 409
        )
        return self.render("error.html", status_code=status, message=translate(err.text, self.lang))

    def respond(self, response: Response) -> Response:
        """Pass a ready response through (cookie and headers added)."""
        return self._finish(response)


def content_policy(settings: Settings) -> str:
    """Scripts and connections from this site only; pictures also from the tile server.

    Styles allow inline attributes because Leaflet positions map panes with them.
    """
    images = " ".join(["'self' data: blob:", *image_sources(settings)])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _query(request: Request) -> str:
    return f"?{request.url.query}" if request.url.query else ""


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to go to; anything pointing off-site becomes ``default``."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    if "\\" in url:
        return default
    return url


def login_url(next_url: str) -> str:
    """The sign-in page that comes back to ``next_url``."""
    return f"/login?next={quote(safe_next(next_url), safe='/')}"


def get_ctx(request: Request, db: SessionDep, clock: ClockDep, settings: SettingsDep) -> WebContext:
    """The web context of this request."""
    state = load_web_session(request, clock, settings)
    user: User | None = None
    if state.data.user_id is not None:
        user = db.get(User, state.data.user_id)
        if (
            user is None
            or not user.is_active
            or sessions.user_fingerprint(user.password_hash, user.token_epoch or 0)
            != state.data.user_fp
        ):
            user = None
            state.update(state.data.signed_out(_now_ts(clock)))
    return WebContext(
        request=request, db=db, clock=clock, settings=settings, state=state, user=user
    )


Ctx = Annotated[WebContext, Depends(get_ctx)]


async def checked_form(
    request: Request, clock: ClockDep, settings: SettingsDep
) -> AsyncIterator[FormData]:
    """The posted form, after its CSRF token was checked (403 page otherwise).

    Uploaded files are closed when the response has been sent.
    """
    form = await request.form(max_files=20, max_fields=200)
    try:
        state = load_web_session(request, clock, settings)
        sent = form.get(sessions.CSRF_FIELD)
        token = sent if isinstance(sent, str) else request.headers.get(sessions.CSRF_HEADER)
        if not sessions.csrf_ok(state.data, token):
            if pending.is_resumable(request.url.path):
                expired = pending.expired_sign_in(
                    request.cookies.get(sessions.COOKIE_NAME),
                    token,
                    secret=request.app.state.secret_key,
                    now=_now_ts(clock),
                    max_age=settings.token_ttl_minutes * 60,
                )
                if expired is not None and expired.user_id is not None:
                    kept = await pending.stash(
                        request.app.state.photo_store,
                        form,
                        path=request.url.path,
                        user_id=expired.user_id,
                        now=_now_ts(clock),
                        max_file_bytes=settings.max_photo_bytes,
                    )
                    raise SignInExpired(kept)
            raise CsrfRefused()
        refuse_control_characters_in(form.multi_items())  # 422 for NUL and the like
        yield form
    finally:
        await form.close()


Form = Annotated[FormData, Depends(checked_form)]


def pages(fn: Callable[P, Response]) -> Callable[P, Response]:
    """Render a domain error raised by a page as an error page instead of JSON."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return fn(*args, **kwargs)
        except DubanError as err:
            ctx = kwargs.get("ctx")
            if not isinstance(ctx, WebContext):
                raise
            ctx.db.rollback()
            return ctx.error_page(err)

    return wrapper


def photo_response(
    request: Request, key: str, content_type: str, *, public: Photo | None = None
) -> Response:
    """The bytes of a stored photo (404 page text if the file went missing); with
    ``public``, its copy without EXIF (:mod:`duban.evidence.public`)."""
    store = request.app.state.photo_store
    try:
        data = public_photo_bytes(store, public) if public is not None else store.get(key)
    except (FileNotFoundError, ValueError):
        return Response("photo file missing", status_code=404, media_type="text/plain")
    return Response(
        content=data,
        media_type=public_content_type(content_type) if public is not None else content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
