"""Admin pages: the one pattern every capability's admin page follows, and the admin's home.

An admin page is declared, not hand-written: an :class:`AdminPage` names its template, the
list it shows (a query over the session), its create form's fields and the use case that
form calls, and its row forms (:class:`RowAction`: switch a unit off, revoke a key, …).
``page.mount(router)`` adds the routes, all for administrators only:

* ``GET /admin<path>`` — the list and the empty form;
* ``POST /admin<path>`` — create: a refused entry shows the page again with the message
  beside its field (422, or 409 for a duplicate) and what was typed; success redirects
  back to the list with "Saved.";
* ``POST /admin<row path>`` — each row action, then back to the list.

A form that does more than that (an import with its validation report, a key shown
once) is a plain route in its capability's ``pages.py`` that renders through the
same page (:meth:`AdminPage.render`). The pages live with their capability
(``accounts/pages.py``, ``reference/pages.py``, ``places/pages.py``,
``open311/pages.py``); this module keeps the pattern and the admin's home page.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData

from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, InvalidInput
from duban.kernel.roles import Role
from duban.reference.holidays import CalendarGap, calendar_gaps
from duban.web import forms
from duban.web.context import Ctx, Form, WebContext, pages

#: Text fields of a posted form, by name.
Values = dict[str, str]
#: The list a page shows: template values read from the session (and the page's query).
Listing = Callable[..., Mapping[str, Any]]
#: A create use case as a page calls it: the context, the admin, the fields, the whole form.
Create = Callable[[WebContext, Actor, Values, FormData], object]
#: A row use case: the context, the admin, the row's key and the posted form.
RowUse = Callable[[WebContext, Actor, Any, FormData], object]

ADMIN_PREFIX = "/admin"


@dataclass(frozen=True)
class RowAction:
    """A form on one row of the list, e.g. ``/units/{code}/active``.

    ``use`` runs the use case. When ``error_key`` is given (``"user:{key}"``) a refused
    entry (:class:`InvalidInput`) shows the list again with the message on that row (422);
    otherwise a refusal is an error page. Errors in ``ignore`` are not errors at all (a key
    revoked twice). Success redirects to the list with "Saved.".
    """

    path: str
    use: RowUse
    key_type: type = str
    error_key: str | None = None
    ignore: tuple[type[Exception], ...] = ()
    doc: str = ""

    @property
    def key_name(self) -> str:
        """The path parameter naming the row (``code`` of ``/units/{code}/active``)."""
        return self.path.split("{", 1)[1].split("}", 1)[0]


@dataclass(frozen=True)
class AdminPage:
    """One kind of thing an admin keeps: its list, its create form and its row forms."""

    path: str
    template: str
    listing: Listing
    doc: str
    fields: tuple[str, ...] = ()
    field_limit: int = 200
    create: Create | None = None
    create_doc: str = ""
    #: The form field that shows a refused create's message.
    error_field: str = "form"
    #: Show a duplicate (:class:`Conflict`) beside the field (409); else an error page.
    conflict_on_form: bool = True
    #: The query parameters the list reads (``?q=`` of a search), passed to ``listing``.
    query: tuple[str, ...] = ()
    #: The values of the empty form.
    blank: Callable[[WebContext], Values] | None = None
    rows: tuple[RowAction, ...] = field(default=())

    @property
    def url(self) -> str:
        """Where the page is."""
        return ADMIN_PREFIX + self.path

    def render(
        self,
        ctx: WebContext,
        *,
        errors: forms.FieldErrors | None = None,
        status: int = 200,
        values: Values | None = None,
        query: Mapping[str, str] | None = None,
        **shown: Any,
    ) -> Response:
        """The page: its list, the form with ``values`` and ``errors``, and ``shown``
        (which may override what the list gives)."""
        context = {
            **self.listing(ctx, **(query or {})),
            "errors": errors.messages if errors else {},
            "values": values or (self.blank(ctx) if self.blank else {}),
            **shown,
        }
        return ctx.render(self.template, status_code=status, **context)

    def show(self, ctx: WebContext) -> Response:
        """``GET``: the list and the empty form."""
        ctx.staff(Role.ADMIN)
        query = {name: ctx.request.query_params.get(name, "") for name in self.query}
        return self.render(ctx, query=query)

    def add(self, ctx: WebContext, form: FormData) -> Response:
        """``POST``: create through the use case; the form again with the problem if refused."""
        assert self.create is not None
        actor = ctx.staff(Role.ADMIN)
        errors = forms.FieldErrors(ctx.lang)
        values = {k: forms.text(form, k, self.field_limit) for k in self.fields}
        try:
            self.create(ctx, actor, values, form)
        except InvalidInput as err:
            ctx.db.rollback()
            errors.add_error(err, self.error_field)
            return self.render(ctx, errors=errors, status=422, values=values)
        except Conflict as err:
            if not self.conflict_on_form:
                raise
            ctx.db.rollback()
            errors.add(self.error_field, forms.translate(err.text, ctx.lang))
            return self.render(ctx, errors=errors, status=409, values=values)
        ctx.notice("Saved.")
        return ctx.redirect(self.url)

    def act(self, row: RowAction, ctx: WebContext, key: Any, form: FormData) -> Response:
        """``POST`` a row form: run its use case, then back to the list."""
        actor = ctx.staff(Role.ADMIN)
        try:
            row.use(ctx, actor, key, form)
        except row.ignore:
            pass
        except InvalidInput as err:
            if row.error_key is None:
                raise
            ctx.db.rollback()
            errors = forms.FieldErrors(ctx.lang)
            errors.add(row.error_key.format(key=key), forms.translate(err.text, ctx.lang))
            return self.render(ctx, errors=errors, status=422)
        ctx.notice("Saved.")
        return ctx.redirect(self.url)

    def mount(self, router: APIRouter) -> None:
        """Add the page's routes to ``router`` (whose prefix is ``/admin``)."""

        def show(ctx: Ctx) -> Response:
            return self.show(ctx)

        router.get(self.path, name=f"{self.template}:show")(_documented(pages(show), self.doc))
        if self.create is not None:

            def add(ctx: Ctx, form: Form) -> Response:
                return self.add(ctx, form)

            router.post(self.path, name=f"{self.template}:add")(
                _documented(pages(add), self.create_doc)
            )
        for row in self.rows:
            router.post(row.path, name=f"{self.template}:{row.path}")(
                _documented(pages(_row_endpoint(self, row)), row.doc)
            )


def _row_endpoint(page: AdminPage, row: RowAction) -> Callable[..., Response]:
    """An endpoint taking the row's key under the name and type its path gives."""

    def endpoint(ctx: WebContext, form: FormData, **path: Any) -> Response:
        return page.act(row, ctx, path[row.key_name], form)

    kind = inspect.Parameter.KEYWORD_ONLY
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("ctx", kind, annotation=Ctx),
            inspect.Parameter(row.key_name, kind, annotation=row.key_type),
            inspect.Parameter("form", kind, annotation=Form),
        ]
    )
    return endpoint


def _documented(fn: Callable[..., Response], doc: str) -> Callable[..., Response]:
    fn.__doc__ = doc
    return fn


router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


@router.get("")
@pages
def admin_home(ctx: Ctx) -> Response:
    """What an admin keeps."""
    ctx.staff(Role.ADMIN)
    return ctx.render("admin/index.html", calendar_gaps=admin_calendar_gaps(ctx))


def admin_calendar_gaps(ctx: WebContext) -> list[CalendarGap]:
    """The years whose holidays nobody has entered (provisional or unknown)."""
    return calendar_gaps(ctx.db, ctx.clock.now())


@router.get("/worker")
@pages
def admin_worker(ctx: Ctx) -> Response:
    """The background jobs' last and next runs, and the notification outbox."""
    from duban import notify
    from duban.jobs.schedule import job_status
    from duban.jobs.worker import JOBS

    ctx.staff(Role.ADMIN)
    return ctx.render(
        "admin/worker.html",
        jobs=job_status(ctx.db, list(JOBS)),
        outbox=notify.outbox_counts(ctx.db),
        failures=notify.recent_failures(ctx.db),
        webhooks=notify.list_subscriptions(ctx.db),
        channel_labels={"email": "Email", "sms": "SMS", "wechat": "WeChat", "webhook": "Webhook"},
    )
