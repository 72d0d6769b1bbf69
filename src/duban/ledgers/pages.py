"""The ledger pages: the list and a ledger's tree, each level with its progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from duban.cases import NewCase, Source
from duban.kernel.errors import InvalidInput, NotFound
from duban.kernel.roles import Role
from duban.ledgers import rectify
from duban.ledgers.access import MANAGERS, READERS
from duban.ledgers.exports import export_workbook, progress_workbook
from duban.ledgers.policy import ledger_policy
from duban.ledgers.queries import (
    evidence_file,
    ledger_signoffs,
    ledger_tree,
    list_ledgers,
    node_view,
    note_file,
    progress,
    raised_cases,
)
from duban.ledgers.raising import raise_case
from duban.ledgers.reports import DOCX_TYPE, progress_report, public_notice
from duban.ledgers.rules import (
    DONE,
    STATUS_LABELS_EN,
    LedgerStatus,
    done_percent,
    milestone_lines,
    milestone_text,
)
from duban.ledgers.workbook import template_workbook
from duban.web.context import Ctx, Form, pages

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]

_ROLES = tuple(r for r in Role if r in READERS and r != Role.SYSTEM)


def _count(node: dict[str, Any]) -> tuple[int, int, int]:
    """(measures, done, overdue) under ``node``; each node gets its own figures."""
    if node["kind"] == "measure":
        status = node.get("status") or ""
        figures = (1, int(status in DONE), int(status == LedgerStatus.OVERDUE.value))
    else:
        figures = (0, 0, 0)
        for child in node.get("children", []):
            sub = _count(child)
            figures = (figures[0] + sub[0], figures[1] + sub[1], figures[2] + sub[2])
    node["measures"], node["done"], node["overdue"] = figures
    node["percent"] = done_percent(figures[1], figures[0])
    return figures


@router.get("/ledgers")
@pages
def ledgers_page(ctx: Ctx) -> Response:
    """Every ledger with its share of measures done."""
    actor = ctx.staff(*_ROLES)
    return ctx.render("ledgers/index.html", ledgers=list_ledgers(ctx.db, actor=actor))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@router.get("/ledgers/template.xlsx")
@pages
def template_download(ctx: Ctx) -> Response:
    """The import template."""
    ctx.staff(*_ROLES)
    return _xlsx(template_workbook(), "ledger-template.xlsx")


@router.get("/ledgers/{ledger_id}/export.xlsx")
@pages
def export_download(ctx: Ctx, ledger_id: int) -> Response:
    """The ledger in the import template."""
    actor = ctx.staff(*_ROLES)
    data = export_workbook(ctx.db, actor=actor, ledger_id=ledger_id)
    return _xlsx(data, f"ledger-{ledger_id}.xlsx")


@router.get("/ledgers/{ledger_id}/progress.xlsx")
@pages
def progress_download(ctx: Ctx, ledger_id: int) -> Response:
    """The progress report."""
    actor = ctx.staff(*_ROLES)
    figures = progress(ctx.db, actor=actor, clock=ctx.clock, ledger_id=ledger_id)
    return _xlsx(progress_workbook(figures), f"ledger-{ledger_id}-progress.xlsx")


def _docx(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=DOCX_TYPE,
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@router.get("/ledgers/{ledger_id}/progress.docx")
@pages
def progress_docx_download(ctx: Ctx, ledger_id: int) -> Response:
    """The progress report as a document."""
    actor = ctx.staff(*_ROLES)
    data = progress_report(ctx.db, actor=actor, clock=ctx.clock, ledger_id=ledger_id)
    return _docx(data, f"ledger-{ledger_id}-progress.docx")


@router.get("/ledgers/{ledger_id}/notice.docx")
@pages
def notice_download(ctx: Ctx, ledger_id: int) -> Response:
    """The public notice (整改情况通报)."""
    actor = ctx.staff(*_ROLES)
    data = public_notice(ctx.db, actor=actor, clock=ctx.clock, ledger_id=ledger_id)
    return _docx(data, f"ledger-{ledger_id}-notice.docx")


@router.get("/ledgers/{ledger_id}")
@pages
def ledger_page(ctx: Ctx, ledger_id: int) -> Response:
    """The tree 方面 → 类别 → 问题 → 具体表现 → 整改措施 with progress bars, and the
    progress by unit and by leader."""
    actor = ctx.staff(*_ROLES)
    tree = ledger_tree(ctx.db, actor=actor, ledger_id=ledger_id)
    for aspect in tree["aspects"]:
        _count(aspect)
    figures = progress(ctx.db, actor=actor, clock=ctx.clock, ledger_id=ledger_id)
    labels = {s.value: (s.value if ctx.lang != "en" else STATUS_LABELS_EN[s]) for s in LedgerStatus}
    reviewer = actor.role in MANAGERS
    queue = ledger_signoffs(ctx.db, actor=actor, ledger_id=ledger_id, state="pending")
    measures = {m["id"]: m for m in _measures(tree["aspects"])}
    return ctx.render(
        "ledgers/tree.html",
        tree=tree,
        figures=figures,
        status_label=labels,
        may_request=_may_request(actor.role, actor.unit_id),
        may_edit=_may_edit(actor.role, actor.unit_id),
        queue=[(s, files, measures.get(s.node_id)) for s, files in queue] if reviewer else [],
        reviewer=reviewer,
    )


def _measures(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        if node["kind"] == "measure":
            yield node
        else:
            yield from _measures(node.get("children", []))


def _may_request(role: Role, unit_id: int | None) -> Any:
    """Whether the viewer may ask to sign a measure off (the use case decides again)."""

    def check(measure: dict[str, Any]) -> bool:
        if measure.get("status") in DONE:
            return False
        if (measure.get("signoff") or {}).get("state") == "pending":
            return False
        if role in MANAGERS:
            return True
        own = unit_id is not None and measure.get("lead_unit_id") == unit_id
        return role == Role.HANDLER and own

    return check


def _may_edit(role: Role, unit_id: int | None) -> Any:
    """Whether the viewer may write notes and milestones of an entry (the use case decides
    again): managers any, a unit's handler its own."""

    def check(node: dict[str, Any]) -> bool:
        if role in MANAGERS:
            return True
        own = unit_id is not None and node.get("lead_unit_id") == unit_id
        return role == Role.HANDLER and own

    return check


def _field(form: Form, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/ledgers/{ledger_id}/measures/{node_id}/signoff")
@pages
def signoff_form(ctx: Ctx, ledger_id: Id, node_id: Id, form: Form) -> Response:
    """A unit (or a supervisor) asks for a measure to be signed off, with evidence files."""
    actor = ctx.staff(*_ROLES)
    limit = ledger_policy().evidence_max_bytes
    files = [
        rectify.EvidenceFile(filename=f.filename or "evidence", data=f.file.read(limit + 1))
        for f in form.getlist("files")
        if isinstance(f, UploadFile) and f.filename
    ]
    rectify.request_signoff(  # a refusal is shown in the page's language (ctx.error_page)
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        store=ctx.request.app.state.photo_store,
        node_id=node_id,
        files=files,
        note=_field(form, "note"),
        long_term=_field(form, "long_term") == "1",
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/ledgers/{ledger_id}")


@router.post("/ledgers/{ledger_id}/signoffs/{signoff_id}/review")
@pages
def review_form(ctx: Ctx, ledger_id: Id, signoff_id: Id, form: Form) -> Response:
    """A reviewer approves (销号) or refuses a sign-off request with a reason."""
    actor = ctx.staff(*_ROLES)
    rectify.decide_signoff(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        signoff_id=signoff_id,
        approve=_field(form, "decision") == "approve",
        reason=_field(form, "reason"),
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/ledgers/{ledger_id}")


@router.get("/ledgers/{ledger_id}/nodes/{node_id}")
@pages
def node_page(ctx: Ctx, ledger_id: Id, node_id: Id) -> Response:
    """An item or a measure: its milestones and progress notes, and their forms."""
    actor = ctx.staff(*_ROLES)
    node, notes = node_view(ctx.db, actor=actor, node_id=node_id)
    if node.ledger_id != ledger_id:
        raise NotFound("This file is missing.")
    status = LedgerStatus(node.status or LedgerStatus.NOT_STARTED.value)
    return ctx.render(
        "ledgers/node.html",
        ledger_id=ledger_id,
        node=node,
        notes=notes,
        raised=raised_cases(ctx.db, [node.id]).get(node.id, []),
        may_raise=actor.role in MANAGERS,
        editable=_may_edit(actor.role, actor.unit_id)({"lead_unit_id": node.lead_unit_id}),
        status_label=status.value if ctx.lang != "en" else STATUS_LABELS_EN[status],
        milestone_text=milestone_text,
    )


@router.post("/ledgers/{ledger_id}/measures/{node_id}/note")
@pages
def note_form(ctx: Ctx, ledger_id: Id, node_id: Id, form: Form) -> Response:
    """A progress note on a measure, with files if any."""
    actor = ctx.staff(*_ROLES)
    limit = ledger_policy().evidence_max_bytes
    files = [
        rectify.EvidenceFile(filename=f.filename or "file", data=f.file.read(limit + 1))
        for f in form.getlist("files")
        if isinstance(f, UploadFile) and f.filename
    ]
    rectify.write_note(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        node_id=node_id,
        note=_field(form, "text"),
        files=files,
        store=ctx.request.app.state.photo_store,
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/ledgers/{ledger_id}/nodes/{node_id}")


@router.post("/ledgers/{ledger_id}/nodes/{node_id}/cases")
@pages
def raise_case_form(ctx: Ctx, ledger_id: Id, node_id: Id, form: Form) -> Response:
    """A supervisor raises a case from a measure or an item (the one intake of cases)."""
    actor = ctx.staff(*_ROLES)
    try:
        lat, lon = float(_field(form, "lat")), float(_field(form, "lon"))
    except ValueError as err:
        raise InvalidInput("Latitude and longitude must be numbers.", field="lat") from err
    case = raise_case(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        node_id=node_id,
        data=NewCase(
            source=Source.SUPERVISION if actor.role != Role.LEADER else Source.ROAD_OFFICE,
            category_code=_field(form, "category").strip(),
            lat=lat,
            lon=lon,
            address=_field(form, "address"),
            description=_field(form, "description"),
        ),
    )
    ctx.notice("The case is raised.")
    return ctx.redirect(f"/cases/{case.id}")


@router.post("/ledgers/{ledger_id}/nodes/{node_id}/milestones")
@pages
def milestones_form(ctx: Ctx, ledger_id: Id, node_id: Id, form: Form) -> Response:
    """The milestones of an item or a measure, one a line: ``[x] 2026-12-31 text``."""
    actor = ctx.staff(*_ROLES)
    rectify.set_milestones(
        ctx.db,
        actor=actor,
        clock=ctx.clock,
        node_id=node_id,
        milestones=milestone_lines(_field(form, "milestones")),
    )
    ctx.notice("Saved.")
    return ctx.redirect(f"/ledgers/{ledger_id}/nodes/{node_id}")


def _stored_download(ctx: Ctx, storage_key: str, content_type: str) -> Response:
    """A stored file (a note's or a sign-off's) as an attachment, never cached or sniffed."""
    try:
        data = ctx.request.app.state.photo_store.get(storage_key)
    except FileNotFoundError as err:
        raise NotFound("This file is missing.") from err
    return Response(
        content=data,
        media_type=content_type,
        headers={
            "Content-Disposition": "attachment",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/ledgers/note-files/{file_id}")
@pages
def note_file_download(ctx: Ctx, file_id: str) -> Response:
    """A file of a progress note, for a signed-in reader."""
    actor = ctx.staff(*_ROLES)
    found = note_file(ctx.db, actor=actor, file_id=file_id)
    return _stored_download(ctx, found.storage_key, found.content_type)


@router.get("/ledgers/evidence/{evidence_id}")
@pages
def evidence_download(ctx: Ctx, evidence_id: str) -> Response:
    """An evidence file of a sign-off request, for a signed-in reader."""
    actor = ctx.staff(*_ROLES)
    found = evidence_file(ctx.db, actor=actor, evidence_id=evidence_id)
    return _stored_download(ctx, found.storage_key, found.content_type)
