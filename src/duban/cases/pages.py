"""The case page and the case list.

The page shows the case file and, as forms, only the actions the viewer can take now;
every form posts to one route that turns the form into an :class:`ActionInput` and calls
:func:`~duban.cases.actions.perform_action`. A refusal comes back as the same page with
the message next to the field it is about.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from duban.accounts import Unit
from duban.cases.access import can_see
from duban.cases.actions import ActionInput, get_case, perform_action
from duban.cases.casefile import case_file
from duban.cases.models import Case, SavedFilter
from duban.cases.queries import SORTS, CaseFilter, CaseLine, case_lines, list_cases
from duban.cases.workbench import active_collectors, active_units, dispatch_units
from duban.cases.workflow import SOURCE_LABELS, STATUS_LABELS, Action, CaseStatus, Source
from duban.evidence import PhotoLimits
from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, InvalidInput, Msg
from duban.kernel.roles import Role
from duban.reference import load_policy
from duban.web import forms, pending
from duban.web.context import HOME_OF_ROLE, Ctx, Form, WebContext, pages, safe_next

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def case_filter_from(request: Request, tz: ZoneInfo) -> tuple[CaseFilter, dict[str, str]]:
    """The list filters in a query string, and the values seen. A bad value is left out of
    the filter; a date that is not a date is flagged (``seen["bad_dates"]``) so the page
    says so instead of silently listing everything."""
    q = request.query_params
    bad_dates: list[str] = []
    statuses = [CaseStatus(s) for s in q.getlist("status") if s in CaseStatus._value2member_map_]
    if q.get("open") == "1":
        from duban.cases.workflow import OPEN

        statuses = sorted(OPEN)
    sources = [Source(s) for s in q.getlist("source") if s in Source._value2member_map_]

    def day(name: str, end: bool) -> datetime | None:
        raw = q.get(name, "").strip()
        if not raw:
            return None
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            bad_dates.append(name)
            return None
        return datetime.combine(d + timedelta(days=1) if end else d, time(0), tzinfo=tz)

    overdue = {"1": True, "0": False}.get(q.get("overdue", ""))
    supervised = {"1": True, "0": False}.get(q.get("supervised", ""))
    filters = CaseFilter(
        statuses=statuses,
        unit_code=q.get("unit") or None,
        categories=tuple(c for c in [q.get("category", "").strip()] if c),
        sources=sources,
        overdue=overdue,
        grid=q.get("grid") or None,
        created_from=day("from", False),
        created_to=day("to", True),
        supervised=supervised,
        text=q.get("q", "").strip()[:200] or None,
    )
    seen = {k: q.get(k, "") for k in ("unit", "category", "overdue", "grid", "from", "to", "q")}
    seen["sort"] = q.get("sort", "") if q.get("sort", "").lstrip("-") in SORTS else ""
    seen["supervised"] = q.get("supervised", "")
    seen["open"] = q.get("open", "")
    seen["bad_dates"] = ",".join(bad_dates)
    return filters, seen


@router.get("/cases")
@pages
def case_list(ctx: Ctx, after: str | None = None, before: str | None = None) -> Response:
    """Cases the viewer may see, filtered (the dashboard's numbers link here); pages go
    by keyset (``after``/``before`` a row), so page 200 costs what page 1 does."""
    actor = ctx.staff()
    policy = load_policy(ctx.db)
    filters, seen = case_filter_from(ctx.request, policy.tz)
    now = ctx.clock.now()
    listing = list_cases(
        ctx.db,
        actor=actor,
        filters=filters,
        now=now,
        page_size=PAGE_SIZE,
        sort=seen["sort"] or None,
        after=after or None,
        before=before or None,
    )
    kept = ctx.request.url.remove_query_params(PAGING)
    unsorted = str(kept.remove_query_params(["sort"]).query)
    return ctx.render(
        "cases/list.html",
        rows=case_lines(ctx.db, listing.rows, policy, now),
        sort_query=unsorted,
        export_query=unsorted + ("&sort=" + seen["sort"] if seen["sort"] else ""),
        listing=listing,
        previous_query=str(kept.include_query_params(before=listing.before).query)
        if listing.before
        else None,
        next_query=str(kept.include_query_params(after=listing.after).query)
        if listing.after
        else None,
        filters=filters,
        seen=seen,
        units=active_units(ctx.db),
        saved=saved_filters(ctx.db, actor),
        current_query=unsorted_all(ctx),
    )


#: The query parameters that say which page of a list: not part of its filters.
PAGING = ["page", "after", "before"]


def unsorted_all(ctx: WebContext) -> str:
    """The list's query string without its page (what a saved filter keeps)."""
    return str(ctx.request.url.remove_query_params(PAGING).query)


def saved_filters(session: Session, actor: Actor) -> list[SavedFilter]:
    """The filters ``actor`` saved, by name."""
    if actor.user_id is None:
        return []
    return list(
        session.scalars(
            select(SavedFilter)
            .where(SavedFilter.user_id == actor.user_id)
            .order_by(SavedFilter.name, SavedFilter.id)
        )
    )


#: The most filters one person keeps.
SAVED_FILTERS_MAX = 50


@router.post("/cases/filters")
@pages
def save_filter(ctx: Ctx, form: Form) -> Response:
    """Keep the list's query under a name (the same name replaces the old one)."""
    actor = ctx.staff()
    assert actor.user_id is not None
    name = forms.text(form, "name", 60).strip()
    query = forms.text(form, "query", 2000).strip().lstrip("?")
    if not name:
        ctx.notice("Give the filter a name to save it.")
        return ctx.redirect("/cases" + ("?" + query if query else ""))
    existing = ctx.db.scalar(
        select(SavedFilter).where(SavedFilter.user_id == actor.user_id, SavedFilter.name == name)
    )
    if existing is not None:
        existing.query = query
    elif len(saved_filters(ctx.db, actor)) >= SAVED_FILTERS_MAX:
        ctx.notice("You keep 50 saved filters already: delete one first.")
        return ctx.redirect("/cases" + ("?" + query if query else ""))
    else:
        ctx.db.add(
            SavedFilter(user_id=actor.user_id, name=name, query=query, created_at=ctx.clock.now())
        )
    ctx.db.commit()
    ctx.notice("The filter was saved.")
    return ctx.redirect("/cases" + ("?" + query if query else ""))


@router.post("/cases/filters/{filter_id}/delete")
@pages
def delete_filter(ctx: Ctx, filter_id: int, form: Form) -> Response:
    """Forget one of the viewer's saved filters."""
    actor = ctx.staff()
    kept = ctx.db.get(SavedFilter, filter_id)
    if kept is not None and kept.user_id == actor.user_id:
        ctx.db.delete(kept)
        ctx.db.commit()
        ctx.notice("The filter was deleted.")
    return ctx.redirect("/cases")


#: The most rows the list exports to a workbook; more must be narrowed by the filters.
EXPORT_CAP = 100_000


@router.get("/cases/export.xlsx")
@pages
def case_list_export(ctx: Ctx) -> Response:
    """The filtered, sorted case list as an XLSX workbook (names, local times)."""
    actor = ctx.staff()
    policy = load_policy(ctx.db)
    filters, seen = case_filter_from(ctx.request, policy.tz)
    now = ctx.clock.now()
    listing = list_cases(
        ctx.db,
        actor=actor,
        filters=filters,
        now=now,
        page_size=EXPORT_CAP,
        sort=seen["sort"] or None,
        counted=EXPORT_CAP,
    )
    cases = listing.rows
    if not listing.total_exact:
        ctx.notice(
            "The list holds more than 100,000 cases, too many to export: "
            "narrow it with the filters first."
        )
        back = str(ctx.request.url.query)
        return ctx.redirect("/cases" + ("?" + back if back else ""))
    data = case_list_workbook(ctx, case_lines(ctx.db, cases, policy, now), policy.tz)
    stamp = now.astimezone(policy.tz).strftime("%Y%m%d-%H%M")
    return Response(
        content=data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=cases-{stamp}.xlsx"},
    )


def case_list_workbook(ctx: WebContext, lines: list[CaseLine], tz: ZoneInfo) -> bytes:
    """The lines as a one-sheet workbook in the page's language."""
    from openpyxl import Workbook

    en = 1 if ctx.lang == "en" else 0
    book = Workbook(write_only=True)
    sheet = book.create_sheet(ctx.t("Cases"))
    heads: tuple[str, ...] = (
        "Case number",
        "Status",
        "Category",
        "Address",
        "Description",
        "Unit",
        "Source",
    )
    heads += ("Reported", "Deadline", "Hours left", "Overdue")
    sheet.append([ctx.t(h) for h in heads])

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    for line in lines:
        c, d = line.case, line.deadline
        left = "" if d.seconds_left is None else round(d.seconds_left / 3600, 1)
        sheet.append(
            [
                c.code,
                STATUS_LABELS[c.status][en],
                line.category_name_en if en else line.category_name,
                c.address,
                c.description,
                ((c.unit.name_en or c.unit.name) if en else c.unit.name) if c.unit else "",
                SOURCE_LABELS[c.source][en],
                when(c.created_at),
                when(c.due_at),
                left,
                ctx.t("yes") if d.is_overdue else "",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: The rework reasons (返工原因) a checker chooses from, as the form offers them.
REWORK_REASONS = (
    ("not_fixed", "Not fixed"),
    ("wrong_angle", "Not the angle of the problem photo"),
    ("not_original", "Not an original photo"),
    ("wrong_place", "Taken elsewhere"),
    ("reused_photo", "A reused photo"),
    ("other", "Other"),
)


def _case_page(
    ctx: WebContext,
    case_id: int,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    actor = ctx.staff()
    if errors and (values or {}).get("next", "").startswith("/work"):
        # A workbench row's one-click form: its messages go back into that row.
        from duban.cases.workbench_pages import work_page

        flat = {k: v for per_action in errors.values() for k, v in per_action.items()}
        return work_page(
            ctx,
            row_errors={case_id: flat},
            row_values={case_id: values or {}},
            status_code=status_code,
        )
    if actor.role == Role.CITIZEN:
        from duban.cases.public_pages import citizen_case_page

        flat = {k: v for per_action in (errors or {}).values() for k, v in per_action.items()}
        if "note" in flat and "rating" not in flat:
            flat["rating"] = flat.pop("note")
        return citizen_case_page(ctx, case_id, errors=flat, status=status_code)
    from duban.ledgers import items_of_case  # deferred: ledgers read cases
    from duban.photochecks import case_evidence  # deferred: photochecks read cases
    from duban.supervision import (  # deferred: supervision reads cases
        campaigns_of_case,
        decision_labels,
        decisions_of_case,
    )

    file = case_file(ctx.db, actor=actor, case_id=case_id, now=ctx.clock.now())
    evidence = case_evidence(ctx.db, actor=actor, case_id=case_id, lang=ctx.lang)
    handover = _handover(ctx, file.case, file.actions, actor.role)
    joint = [
        (meeting, decision_labels(decisions, ctx.lang))
        for meeting, decisions in decisions_of_case(ctx.db, actor=actor, case_id=case_id)
    ]
    return ctx.render(
        "cases/page.html",
        status_code=status_code,
        f=file,
        evidence=evidence,
        joint=joint,
        rework_reasons=REWORK_REASONS,
        case=file.case,
        units=_dispatch_units(ctx, file.case, actor) if Action.DISPATCH in file.actions else [],
        collectors=active_collectors(ctx.db) if Action.ASSIGN in file.actions else [],
        errors=errors or {},
        values=values or {},
        suggestion=file.suggestion,
        **handover,
        campaigns=campaigns_of_case(ctx.db, case_id),
        ledger_entries=items_of_case(ctx.db, case_id, actor=actor),
    )


def _dispatch_units(ctx: WebContext, case: Case, actor: Actor) -> list[Unit]:
    """The units the case page offers to dispatch to: a platform's own (二级派遣) for a
    case sent down to it, else those of the actor's level."""
    if case.status == CaseStatus.AT_PLATFORM:
        return active_units(ctx.db, platform=case.platform_code)
    return dispatch_units(ctx.db, actor, load_policy(ctx.db))


def _handover(
    ctx: WebContext, case: object, actions: list[Action], role: Role
) -> dict[str, object]:
    """The case's hand-overs (with the body's answer link for those who send it), the
    responsibility list's entry for its matter, and the bodies a dispatcher may choose."""
    from duban import handover  # deferred: handover reads cases

    assert isinstance(case, Case)
    secret = ctx.request.app.state.secret_key
    show_link = role in (Role.DISPATCHER, Role.SHIFT_LEAD, Role.ADMIN)
    labels = handover.STATE_LABELS
    handovers = [
        (
            t,
            f"/handover/{handover.link_token(secret, t)}"
            if show_link and t.state in ("open", "accepted")
            else "",
            labels[handover.TransferState(t.state)][1 if ctx.lang == "en" else 0],
        )
        for t in handover.transfers_of(ctx.db, case.id)
    ]
    listed = None
    if case.status in (CaseStatus.FILED, CaseStatus.RETURNED):
        listed = handover.responsibility_for(
            ctx.db, category_code=case.category_code, condition_code=case.condition_code
        )
    return {
        "handovers": handovers,
        "listed": listed,
        "bodies": handover.list_bodies(ctx.db) if Action.TRANSFER in actions else [],
    }


@router.get("/cases/{case_id}")
@pages
def case_page(ctx: Ctx, case_id: int) -> Response:
    """Everything about one case, and what the viewer can do with it."""
    return _case_page(ctx, case_id)


def action_input(
    ctx: WebContext, form: FormData, errors: forms.FieldErrors, tz: ZoneInfo
) -> ActionInput:
    """The arguments of an action as posted by its form."""
    actor = ctx.staff()
    passed = {"yes": True, "no": False}.get(forms.text(form, "passed", 5))
    photo_ids = forms.save_uploads(
        ctx.db,
        forms.uploads(form),
        actor=actor,
        clock=ctx.clock,
        store=ctx.request.app.state.photo_store,
        limits=PhotoLimits(ctx.settings.max_photo_bytes, ctx.settings.max_photo_pixels),
        tz=tz,
        errors=errors,
    )
    return ActionInput(
        note=forms.text(form, "note", 2000),
        reason=forms.text(form, "reason", 2000),
        unit=forms.text(form, "unit", 32) or None,
        helper_units=tuple(forms.texts(form, "helper_units")),
        passed=passed,
        rework_reason=forms.text(form, "rework_reason", 20) or None,
        until=forms.local_datetime(form, "until", tz, errors),
        amount=forms.number(form, "amount", errors, label=ctx.t("Extra time")),
        photo_ids=tuple(photo_ids),
        collector=forms.text(form, "collector", 64) or None,
        duplicate_of=forms.text(form, "duplicate_of", 32) or None,
        category_code=forms.text(form, "category", 32) or None,
        condition_code=forms.text(form, "condition", 40) or None,
        rating=forms.text(form, "rating", 30) or None,
        public_reply=forms.text(form, "public_reply", 2000),
        platform=forms.text(form, "platform", 32) or None,
    )


@router.post("/cases/{case_id}/act/{action}")
@pages
def act(ctx: Ctx, case_id: int, action: str, form: Form) -> Response:
    """Take one action from the case page (or a workbench row)."""
    actor = ctx.staff()
    try:
        chosen = Action(action)
    except ValueError:
        raise InvalidInput(
            Msg("unknown action '{action}'", action=action), field="action"
        ) from None
    tz = load_policy(ctx.db).tz
    errors = forms.FieldErrors(ctx.lang)
    params = action_input(ctx, form, errors, tz)
    version_text = forms.text(form, "version", 12)
    expected = int(version_text) if version_text.isdigit() else None
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    if errors:
        return _case_page(
            ctx, case_id, errors={chosen.value: errors.messages}, values=values, status_code=422
        )
    try:
        case = perform_action(
            ctx.db,
            case_id=case_id,
            action=chosen,
            actor=actor,
            clock=ctx.clock,
            params=params,
            expected_version=expected,
        )
    except InvalidInput as err:
        errors.add_error(err)
        return _case_page(
            ctx, case_id, errors={chosen.value: errors.messages}, values=values, status_code=422
        )
    except Conflict as err:
        errors.add("form", forms.translate(err.text, ctx.lang))
        if err.code == "stale_case":
            errors.messages["form"] = ctx.t(
                "Someone else changed this case in the meantime. Check the page and try again."
            )
        return _case_page(
            ctx, case_id, errors={chosen.value: errors.messages}, values=values, status_code=409
        )
    ctx.notice(f"done:{chosen.value}")
    # A collector's task ends with the verify or check: the case leaves their view.
    here = f"/cases/{case_id}" if can_see(actor, case) else HOME_OF_ROLE.get(actor.role, "/")
    return ctx.redirect(safe_next(forms.text(form, "next", 500), here))


def _kept(ctx: WebContext, token: str) -> pending.PendingForm | None:
    actor = ctx.staff()
    assert actor.user_id is not None
    return pending.load(
        ctx.request.app.state.photo_store,
        token,
        user_id=actor.user_id,
        now=int(ctx.clock.now().timestamp()),
    )


@router.get("/resume/{token}")
@pages
def resume_page(ctx: Ctx, token: str) -> Response:
    """After signing in again: the form that was kept when the sign-in expired."""
    kept = _kept(ctx, token)
    found = kept.match() if kept else None
    if kept is None or found is None:
        ctx.notice("There is no kept form to send (it was sent, discarded or is too old).")
        return ctx.redirect("/")
    case = get_case(ctx.db, actor=ctx.staff(), case_id=int(found["case_id"]))
    return ctx.render("cases/resume.html", kept=kept, case=case, action=Action(found["action"]))


@router.post("/resume/{token}")
@pages
def resume(ctx: Ctx, token: str, form: Form) -> Response:
    """Send the kept form through the page's own handler, or discard it."""
    kept = _kept(ctx, token)
    found = kept.match() if kept else None
    if kept is None or found is None:
        ctx.notice("There is no kept form to send (it was sent, discarded or is too old).")
        return ctx.redirect("/")
    store = ctx.request.app.state.photo_store
    if forms.text(form, "discard", 5) == "1":
        pending.discard(store, kept)
        ctx.notice("The kept form was discarded.")
        return ctx.redirect(f"/cases/{found['case_id']}")
    response = act(
        ctx=ctx,
        case_id=int(found["case_id"]),
        action=found["action"],
        form=pending.as_form(store, kept),
    )
    pending.discard(store, kept)  # sent, or refused with its text shown again in the page
    return response
