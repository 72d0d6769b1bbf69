"""我的账户 → 通知: a signed-in person chooses channels and addresses."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from duban.kernel.errors import InvalidInput
from duban.notify.preferences import Preferences, get_preferences, set_preferences
from duban.notify.rules import PERSONAL_CHANNELS
from duban.web import forms
from duban.web.context import Ctx, Form, WebContext, pages

router = APIRouter(include_in_schema=False)

#: Channel → its label (translated on the page).
CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "wechat": "WeChat"}


def _page(
    ctx: WebContext,
    prefs: Preferences,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return ctx.render(
        "notify/preferences.html",
        status_code=status,
        prefs=prefs,
        channels=[(c.value, ctx.t(CHANNEL_LABELS[c.value])) for c in PERSONAL_CHANNELS],
        errors=errors or {},
    )


@router.get("/account/notifications")
@pages
def notification_settings(ctx: Ctx) -> Response:
    """The channels the signed-in person hears on."""
    actor = ctx.staff()
    return _page(ctx, get_preferences(ctx.db, actor=actor))


@router.post("/account/notifications")
@pages
def save_notification_settings(ctx: Ctx, form: Form) -> Response:
    """Save the choice; a chosen channel without its address is shown in place."""
    actor = ctx.staff()
    channels = [str(c) for c in form.getlist("channels")]
    values = {k: forms.text(form, k, 200) for k in ("email", "phone", "wechat_openid")}
    locale = forms.text(form, "locale", 8) or "zh-CN"
    try:
        set_preferences(
            ctx.db, actor=actor, channels=channels, locale=locale, now=ctx.clock.now(), **values
        )
    except InvalidInput as err:
        ctx.db.rollback()
        errors = forms.FieldErrors(ctx.lang)
        errors.add_error(err, "channels")
        typed = Preferences(channels=channels, locale=locale, **values)
        return _page(ctx, typed, errors=errors.messages, status=422)
    ctx.notice("Saved.")
    return ctx.redirect("/account/notifications")
