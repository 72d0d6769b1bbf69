"""The one handling of the reply and review forms that an order's problem and a joint
session's decision share (as :mod:`duban.supervision.replies` is their one use-case
path): a unit's answer with its photos, a supervisor's accept or send-back."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import Response

from duban.kernel.roles import Role
from duban.supervision.replies import ReplyInput
from duban.web import forms
from duban.web.context import Ctx, Form


def field(form: Form, name: str) -> str:
    """A text field of the form ('' when missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def reply_form(ctx: Ctx, form: Form, answer: Callable[[ReplyInput], object], back: str) -> Response:
    """A unit answers its task: measures, done or not, and photos (stored through the
    photo use case with the size and pixel limits; a refused photo refuses the answer)."""
    actor = ctx.staff(Role.HANDLER)
    photo_ids = forms.answer_photos(ctx, form, actor=actor)
    answer(
        ReplyInput(
            measures=field(form, "measures"),
            done=field(form, "done") == "1",
            photo_ids=tuple(photo_ids),
        )
    )
    ctx.notice("Saved.")
    return ctx.redirect(back)


def review_form(ctx: Ctx, form: Form, review: Callable[[bool, str], object], back: str) -> Response:
    """A supervisor accepts an answer or sends it back with a reason."""
    ctx.staff(Role.SUPERVISOR)
    review(field(form, "decision") == "accept", field(form, "reason"))
    ctx.notice("Saved.")
    return ctx.redirect(back)
