"""The evaluation pages (考核): the ranked table with filters and charts, the cases behind
each number, and the archive of monthly bulletins.

Every figure comes from the evaluation's use cases (:func:`evaluate`, :func:`drill_down`),
the same as the API and the bulletin; the charts are drawn in the browser by the vendored
ECharts from the numbers the page carries.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from sqlalchemy import select

from duban.accounts import Unit
from duban.cases import STATUS_LABELS, Case
from duban.evaluation.archive import archived_file, list_bulletins, make_bulletin
from duban.evaluation.bulletin import KIND_ZH, arrow, parse_month
from duban.evaluation.definitions import OBJECTS, definitions
from duban.evaluation.service import (
    DEFAULT_SCHEME,
    SEE_ALL,
    drill_down,
    evaluate,
    indicators_of,
    schemes,
)
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.reference import load_policy
from duban.web.context import Ctx, Form, pages
from duban.web.forms import text
from duban.web.i18n import translate

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: Who opens the evaluation pages (a unit's handler uses the API for its own row).
ROLES = tuple(r for r in SEE_ALL if r != Role.SYSTEM)
#: The chart shows at most this many objects (the table shows all).
CHART_ROWS = 30
#: The drill-down lists at most this many cases (it says how many there are).
MAX_LISTED = 500
#: English names of the kinds of object (the Chinese ones are the bulletin's).
KIND_EN = {
    "district": "District",
    "street": "Street",
    "community": "Community",
    "grid": "Grid",
    "unit": "Unit",
    "collector": "Collector",
    "operator": "Operator",
    "shift_lead": "Shift lead",
    "dispatcher": "Dispatcher",
}


def kind_label(kind: str, lang: str) -> str:
    """What the page calls a kind of object."""
    return KIND_EN.get(kind, kind) if lang == "en" else KIND_ZH.get(kind, kind)


def _last_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def _value(value: float | None, kind: str) -> str:
    if kind == "count":
        return str(int(value or 0))
    return "—" if value is None else f"{value * 100:.1f}%"


@router.get("/evaluation")
@pages
def evaluation_page(ctx: Ctx) -> Response:
    """The ranked table of one kind of object over a period, with charts; each number
    links to the cases behind it."""
    actor = ctx.staff(*ROLES)
    q = ctx.request.query_params
    today = ctx.clock.now().astimezone(load_policy(ctx.db).tz).date()
    first, end = _last_month(today)
    seen = {
        "object": q.get("object") or "district",
        "from": q.get("from") or first.isoformat(),
        "to": q.get("to") or end.isoformat(),
        "scheme": q.get("scheme") or DEFAULT_SCHEME,
    }
    inds = indicators_of(definitions(), seen["object"]) if seen["object"] in OBJECTS else []
    error = None
    rows: list[Any] = []
    try:
        _, _, rows = evaluate(
            ctx.db,
            actor=actor,
            obj=seen["object"],
            start=seen["from"],
            end=seen["to"],
            scheme_code=seen["scheme"],
        )
    except InvalidInput as err:
        error = translate(err.text, ctx.lang)
    table = [
        {
            "code": r.code,
            "name": (r.name_en or r.name) if ctx.lang == "en" else r.name,
            "rank": r.rank,
            "score": r.score,
            "grade": r.grade,
            "change": r.change,
            "arrow": arrow(r.change),
            "cells": [
                {
                    "indicator": i.code,
                    "text": _value(r.indicators[i.code].value, i.kind),
                    "numerator": r.indicators[i.code].numerator,
                    "denominator": r.indicators[i.code].denominator,
                }
                for i in inds
            ],
        }
        for r in rows
    ]
    scored = [r for r in table if r["score"] is not None][:CHART_ROWS]
    chart = {
        "names": [r["name"] for r in scored],
        "scores": [round(r["score"], 2) for r in scored],
        "changes": [None if r["change"] is None else round(r["change"], 2) for r in scored],
        "score_label": ctx.t("Score"),
        "change_label": ctx.t("Change on the period before"),
    }
    return ctx.render(
        "evaluation/index.html",
        seen=seen,
        error=error,
        rows=table,
        indicators=[
            {
                "code": i.code,
                "label": i.label_en if ctx.lang == "en" else i.label_zh,
                "kind": i.kind,
            }
            for i in inds
        ],
        objects=[(o, kind_label(o, ctx.lang)) for o in OBJECTS],
        schemes=[(s.code, s.label_zh) for s in schemes().values()],
        # Inside <script type="application/json">: no "</" may close the element early.
        chart_json=json.dumps(chart, ensure_ascii=False).replace("</", "<\\/"),
    )


@router.get("/evaluation/cases")
@pages
def drill_down_page(ctx: Ctx) -> Response:
    """The cases counted in one number of the evaluation table."""
    actor = ctx.staff(*ROLES)
    q = ctx.request.query_params
    seen = {k: q.get(k) or "" for k in ("object", "code", "indicator", "part", "from", "to")}
    ind, found = drill_down(
        ctx.db,
        actor=actor,
        obj=seen["object"] or None,
        code=seen["code"] or None,
        indicator=seen["indicator"] or None,
        part=seen["part"] or None,
        start=seen["from"] or None,
        end=seen["to"] or None,
    )
    total = len(found)
    found = found[:MAX_LISTED]
    ids = [i for i, _ in found]
    cases = {c.id: c for c in ctx.db.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
    units = (
        {
            i: (name_en or name) if ctx.lang == "en" else name
            for i, name, name_en in ctx.db.execute(select(Unit.id, Unit.name, Unit.name_en))
        }
        if ids
        else {}
    )
    listed = []
    for case_id, code in found:
        case = cases.get(case_id)
        listed.append(
            {
                "id": case_id,
                "code": code,
                "status": STATUS_LABELS[case.status][0 if ctx.lang != "en" else 1]
                if case is not None
                else "",
                "address": (case.address or case.description[:40]) if case is not None else "",
                "unit": units.get(case.unit_id, "") if case is not None and case.unit_id else "",
            }
        )
    return ctx.render(
        "evaluation/cases.html",
        seen=seen,
        indicator=ind.label_en if ctx.lang == "en" else ind.label_zh,
        kind=kind_label(seen["object"], ctx.lang),
        cases=listed,
        total=total,
        back=str(
            ctx.request.url.replace(path="/evaluation").remove_query_params(
                ["code", "indicator", "part"]
            )
        ),
    )


@router.get("/evaluation/bulletins")
@pages
def bulletins_page(ctx: Ctx) -> Response:
    """Every bulletin made, with its downloads; a form makes this month's again."""
    actor = ctx.staff(*ROLES)
    today = ctx.clock.now().astimezone(load_policy(ctx.db).tz).date()
    first, _ = _last_month(today)
    return ctx.render(
        "evaluation/bulletins.html",
        bulletins=list_bulletins(ctx.db, actor=actor),
        period=first.strftime("%Y-%m"),
        objects=[(o, kind_label(o, ctx.lang)) for o in OBJECTS],
        schemes=[(s.code, s.label_zh) for s in schemes().values()],
        kind_label=lambda k: kind_label(k, ctx.lang),
    )


@router.post("/evaluation/bulletins")
@pages
def make_bulletin_form(ctx: Ctx, form: Form) -> Response:
    """Make (and archive) a month's bulletin now."""
    actor = ctx.staff(*ROLES)
    period = text(form, "period", 7)
    parse_month(ctx.db, period)  # a bad month is refused before anything is drawn
    made_id, _ = make_bulletin(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        period=period,
        obj=text(form, "object", 16) or None,
        scheme_code=text(form, "scheme", 64) or None,
        font=ctx.settings.cjk_font,
        store=ctx.request.app.state.photo_store,
    )
    return ctx.redirect(f"/evaluation/bulletins#bulletin-{made_id}")


@router.get("/evaluation/bulletins/{bulletin_id}/{fmt}")
@pages
def bulletin_download(ctx: Ctx, bulletin_id: Id, fmt: str) -> Response:
    """One file of an archived bulletin."""
    actor = ctx.staff(*ROLES)
    file = archived_file(ctx.db, actor=actor, bulletin_id=bulletin_id, fmt=fmt)
    return ctx.respond(
        Response(
            content=file.data,
            media_type=file.media_type,
            headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
        )
    )
