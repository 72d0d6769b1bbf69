"""Web routes: sign-in, language, home, photos; the feature routers; the static files.

``install_web(app, pages)`` is all ``create_app`` calls. Pages are thin: read the form, call a
service, render. Domain errors become error pages (:func:`~duban.web.context.pages`);
a missing sign-in becomes a redirect and a missing CSRF token a 403 page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from duban.accounts.users import authenticate, sign_out_everywhere
from duban.api.limits import client_ip, request_limits
from duban.cases.casefile import photo_for_viewer
from duban.kernel.roles import Role
from duban.web import pending, sessions
from duban.web.context import (
    HOME_OF_ROLE,
    CsrfRefused,
    Ctx,
    Form,
    LoginRequired,
    SignInExpired,
    get_ctx,
    login_url,
    pages,
    photo_response,
    safe_next,
)
from duban.web.forms import text
from duban.web.timing import ServerTiming

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
@pages
def home(ctx: Ctx) -> Response:
    """Staff go to their workbench; everybody else sees the citizens' front page."""
    if ctx.user is not None and ctx.user.role != Role.CITIZEN:
        return ctx.redirect(HOME_OF_ROLE.get(ctx.user.role, "/cases"))
    return ctx.render("home.html")


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it whatever the page says."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/login")
@pages
def login_page(ctx: Ctx, next: str = "/") -> Response:
    """The sign-in form."""
    return ctx.render("login.html", next=safe_next(next), error="", username="")


@router.post("/login")
@pages
def login(ctx: Ctx, form: Form) -> Response:
    """Check the password; on success start a signed-in session with a new CSRF token."""
    username = text(form, "username", 64)
    next_url = safe_next(text(form, "next", 500))
    limits = request_limits(ctx.request.app)
    limits.check_sign_in(client_ip(ctx.request), username, ctx.lang)  # 429 page if over
    user = authenticate(ctx.db, username, text(form, "password", 200))
    limits.signed_in(username, user is not None)
    if user is None:
        return ctx.render(
            "login.html",
            status_code=401,
            next=next_url,
            error=ctx.t("Wrong username or password."),
            username=username,
        )
    ctx.state.update(
        ctx.state.data.signed_in(
            user.id,
            sessions.user_fingerprint(user.password_hash, user.token_epoch or 0),
            int(ctx.clock.now().timestamp()),
        )
    )
    if next_url == "/":
        next_url = HOME_OF_ROLE.get(user.role, "/")
    return ctx.redirect(next_url)


@router.post("/logout")
@pages
def logout(ctx: Ctx, form: Form) -> Response:
    """Sign out: the session becomes anonymous (language kept), and every other session
    and token of the user ends too (a copied cookie is worth nothing after this)."""
    if ctx.user is not None:
        sign_out_everywhere(ctx.db, ctx.user)
    ctx.state.update(ctx.state.data.signed_out(int(ctx.clock.now().timestamp())))
    return ctx.redirect("/")


@router.get("/lang/{lang}")
@pages
def set_language(ctx: Ctx, lang: str, next: str = "/") -> Response:
    """Switch between 中文 and English and go back."""
    if lang in sessions.LANGS:
        ctx.state.update(replace(ctx.state.data, lang=lang))
    return ctx.redirect(safe_next(next))


@router.get("/photos/{photo_id}")
@pages
def photo(ctx: Ctx, photo_id: str) -> Response:
    """A photo for a signed-in viewer who may see it."""
    actor = ctx.staff()
    found = photo_for_viewer(ctx.db, actor=actor, photo_id=photo_id)
    # A citizen sees the staff's photos of their case too: without EXIF.
    public = found if actor.role == Role.CITIZEN else None
    return photo_response(ctx.request, found.storage_key, found.content_type, public=public)


def install_web(app: FastAPI, pages: Sequence[APIRouter]) -> None:
    """Add the capabilities' ``pages`` (and the web's own sign-in and photo pages), the
    static files and the web's own error answers to ``app``."""
    for feature in (router, *pages):
        app.include_router(feature)
    app.add_middleware(ServerTiming)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    async def _login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    async def _csrf_refused(request: Request, exc: Exception) -> Response:
        from starlette.concurrency import run_in_threadpool

        def _page() -> Response:
            factory = request.app.state.session_factory
            with factory() as db:
                ctx = get_ctx(request, db, request.app.state.clock, request.app.state.settings)
                return ctx.render(
                    "error.html",
                    status_code=403,
                    message=ctx.t(
                        "This form has expired or did not come from this site. "
                        "Go back, reload the page and send it again."
                    ),
                )

        return await run_in_threadpool(_page)

    async def _sign_in_expired(request: Request, exc: Exception) -> Response:
        from starlette.concurrency import run_in_threadpool

        assert isinstance(exc, SignInExpired)

        def _page() -> Response:
            factory = request.app.state.session_factory
            with factory() as db:
                ctx = get_ctx(request, db, request.app.state.clock, request.app.state.settings)
                ctx.notice("Your sign-in expired. Your form was kept: sign in again to send it.")
                return ctx.redirect(login_url(pending.RESUME_URL.format(token=exc.token)))

        return await run_in_threadpool(_page)

    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(SignInExpired, _sign_in_expired)
