"""The ledgers' API: template, import, tree, progress, export, rectification and sign-off.

Contracts other tools rely on are listed in the README ("Ledgers").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from duban.api.deps import ActorDep, ClockDep, SessionDep
from duban.api.limits import request_lang
from duban.cases import NewCase, Source
from duban.kernel.errors import InvalidInput, NotFound
from duban.ledgers import queries, raising, rectify
from duban.ledgers.exports import export_workbook, progress_workbook
from duban.ledgers.imports import import_ledger
from duban.ledgers.models import LedgerEvidence, LedgerSignoff
from duban.ledgers.policy import ledger_policy
from duban.ledgers.reports import DOCX_TYPE, progress_report, public_notice
from duban.ledgers.schemas import (
    CaseItemRead,
    CaseLink,
    CaseRaise,
    CaseRaised,
    EventRead,
    EvidenceRead,
    LedgerCreated,
    LedgerProgress,
    LedgerSummary,
    LedgerTree,
    MilestonesPut,
    MilestonesRead,
    NodeRead,
    NoteCreate,
    NoteFileRead,
    NoteRead,
    RefusalCreate,
    SignoffRead,
    SnapshotRead,
    StatusChange,
)
from duban.ledgers.workbook import template_workbook

router = APIRouter(tags=["ledgers"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {XLSX: {}}, "description": "An .xlsx workbook"}
}


_DOCX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {DOCX_TYPE: {}}, "description": "A .docx document"}
}


def _docx(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=DOCX_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


@router.get(
    "/ledgers/template.xlsx",
    summary="The ledger import template",
    response_class=Response,
    responses=_XLSX_RESPONSE,
)
def template() -> Response:
    """The template (one row per measure) with the header and an example row."""
    return _xlsx(template_workbook(), "ledger-template.xlsx")


@router.post("/ledgers", status_code=201, response_model=LedgerCreated, summary="Import a ledger")
def create(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="an .xlsx in the template")],
    title: Annotated[str, Form(max_length=200)],
) -> LedgerCreated:
    """Import a ledger from an .xlsx in the template. A bad file is refused whole (422,
    ``detail.rows`` naming every bad row and cell) and nothing is written."""
    limit = ledger_policy().limits.max_file_bytes
    data = file.file.read(limit + 1)
    done = import_ledger(
        session, actor=actor, clock=clock, title=title, data=data, lang=request_lang(request)
    )
    return LedgerCreated.model_validate({"id": done.ledger.id, "counts": done.counts})


@router.get("/ledgers", response_model=list[LedgerSummary], summary="Ledgers")
def index(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Every ledger, newest first, with its measures done."""
    return queries.list_ledgers(session, actor=actor)


@router.get(
    "/ledgers/evidence/{evidence_id}",
    summary="Download an evidence file",
    response_class=Response,
)
def evidence(evidence_id: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The bytes of an evidence file of a sign-off request."""
    found = queries.evidence_file(session, actor=actor, evidence_id=evidence_id)
    return _stored(request, found.storage_key, found.content_type)


def _stored(
    request: Request, storage_key: str, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    """A file of the store (evidence, a note's file) as the response; 404 if it is gone."""
    try:
        data = request.app.state.photo_store.get(storage_key)
    except FileNotFoundError as err:
        raise NotFound("the file is missing from the store") from err
    return Response(content=data, media_type=content_type, headers=headers)


@router.get("/ledgers/{ledger_id}", response_model=LedgerTree, summary="A ledger's tree")
def tree(ledger_id: int, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """The tree 方面 → 类别 → 问题 → 具体表现 → 整改措施."""
    return queries.ledger_tree(session, actor=actor, ledger_id=ledger_id)


@router.get(
    "/ledgers/{ledger_id}/progress", response_model=LedgerProgress, summary="A ledger's progress"
)
def progress(
    ledger_id: int, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> dict[str, Any]:
    """Counts, % done and overdue of the measures, overall, by lead unit and by leader."""
    return queries.progress(session, actor=actor, clock=clock, ledger_id=ledger_id)


@router.get(
    "/ledgers/{ledger_id}/progress.xlsx",
    summary="A ledger's progress as a workbook",
    response_class=Response,
    responses=_XLSX_RESPONSE,
)
def progress_xlsx(
    ledger_id: int, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> Response:
    """The progress report: overall, by unit, by leader (three sheets)."""
    figures = queries.progress(session, actor=actor, clock=clock, ledger_id=ledger_id)
    return _xlsx(progress_workbook(figures), f"ledger-{ledger_id}-progress.xlsx")


@router.get(
    "/ledgers/{ledger_id}/progress.docx",
    summary="A ledger's progress report as a document",
    response_class=Response,
    responses=_DOCX_RESPONSE,
)
def progress_docx(
    ledger_id: int, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> Response:
    """The progress report (GB/T 9704 layout): counts, % done, overdue, by unit, by leader."""
    data = progress_report(session, actor=actor, clock=clock, ledger_id=ledger_id)
    return _docx(data, f"ledger-{ledger_id}-progress.docx")


@router.get(
    "/ledgers/{ledger_id}/notice.docx",
    summary="A ledger's public notice (整改情况通报)",
    response_class=Response,
    responses=_DOCX_RESPONSE,
)
def notice_docx(ledger_id: int, session: SessionDep, actor: ActorDep, clock: ClockDep) -> Response:
    """The public notice in the shape of seed 003: the summary counts, a table by 方面 and
    类别, then each problem with its 落实情况 and measures."""
    data = public_notice(session, actor=actor, clock=clock, ledger_id=ledger_id)
    return _docx(data, f"ledger-{ledger_id}-notice.docx")


@router.get(
    "/ledgers/{ledger_id}/export.xlsx",
    summary="Export a ledger in the template",
    response_class=Response,
    responses=_XLSX_RESPONSE,
)
def export(ledger_id: int, session: SessionDep, actor: ActorDep) -> Response:
    """The ledger in the import template: importing it gives the same tree."""
    return _xlsx(
        export_workbook(session, actor=actor, ledger_id=ledger_id), f"ledger-{ledger_id}.xlsx"
    )


@router.get(
    "/ledgers/{ledger_id}/events", response_model=list[EventRead], summary="A ledger's events"
)
def events(
    ledger_id: int,
    session: SessionDep,
    actor: ActorDep,
    node_id: Annotated[int | None, Query(description="only this entry's")] = None,
) -> list[EventRead]:
    """Every change of the ledger, oldest first."""
    return [
        EventRead(
            id=e.id, node_id=e.node_id, kind=e.kind, actor=e.actor_name, at=e.at, payload=e.payload
        )
        for e in queries.ledger_events(session, actor=actor, ledger_id=ledger_id, node_id=node_id)
    ]


def _signoff(signoff: LedgerSignoff, files: list[LedgerEvidence]) -> SignoffRead:
    return SignoffRead(
        id=signoff.id,
        node_id=signoff.node_id,
        state=signoff.state,
        long_term=signoff.long_term,
        note=signoff.note,
        reason=signoff.reason,
        requested_at=signoff.requested_at,
        reviewed_at=signoff.reviewed_at,
        evidence=[
            EvidenceRead(
                id=f.id,
                filename=f.filename,
                content_type=f.content_type,
                size_bytes=f.size_bytes,
                url=f"/api/v1/ledgers/evidence/{f.id}",
            )
            for f in files
        ],
    )


@router.get(
    "/ledgers/{ledger_id}/signoffs", response_model=list[SignoffRead], summary="Sign-off requests"
)
def signoffs(
    ledger_id: int,
    session: SessionDep,
    actor: ActorDep,
    state: Annotated[str | None, Query(pattern="^(pending|approved|refused)$")] = None,
) -> list[SignoffRead]:
    """The ledger's sign-off requests; ``state=pending`` is the review queue."""
    found = queries.ledger_signoffs(session, actor=actor, ledger_id=ledger_id, state=state)
    return [_signoff(s, files) for s, files in found]


@router.post(
    "/ledgers/{ledger_id}/snapshots",
    status_code=201,
    response_model=SnapshotRead,
    summary="Take this week's progress snapshot",
)
def snapshot(ledger_id: int, session: SessionDep, actor: ActorDep, clock: ClockDep) -> SnapshotRead:
    """The week's progress, kept unchanged; 409 if this week's is already taken."""
    taken = rectify.take_snapshot(session, actor=actor, clock=clock, ledger_id=ledger_id)
    return SnapshotRead.model_validate(taken, from_attributes=True)


@router.get(
    "/ledgers/{ledger_id}/snapshots", response_model=list[SnapshotRead], summary="Weekly snapshots"
)
def snapshot_list(ledger_id: int, session: SessionDep, actor: ActorDep) -> list[SnapshotRead]:
    """The ledger's weekly snapshots, oldest first."""
    return [
        SnapshotRead.model_validate(s, from_attributes=True)
        for s in queries.snapshots(session, actor=actor, ledger_id=ledger_id)
    ]


def _node(node: Any) -> NodeRead:
    return NodeRead(id=node.id, kind=node.kind, status=node.status, case_id=node.case_id)


@router.post(
    "/ledgers/measures/{node_id}/status", response_model=NodeRead, summary="Set a measure's status"
)
def status(
    node_id: int, body: StatusChange, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> NodeRead:
    """未开始 or 推进中; done only through a sign-off, 逾期 only by the sweep."""
    return _node(
        rectify.set_status(session, actor=actor, clock=clock, node_id=node_id, status=body.status)
    )


@router.post(
    "/ledgers/measures/{node_id}/notes",
    status_code=201,
    response_model=NodeRead,
    summary="Add a progress note",
)
def note(
    node_id: int, body: NoteCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> NodeRead:
    """A progress note (进展情况) on a measure."""
    return _node(
        rectify.add_note(session, actor=actor, clock=clock, node_id=node_id, note=body.text)
    )


@router.post(
    "/ledgers/measures/{node_id}/notes-with-files",
    status_code=201,
    response_model=NoteRead,
    summary="Add a progress note with files",
)
def note_with_files(
    node_id: int,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    files: Annotated[
        list[UploadFile] | None, File(description="photos, PDF, DOCX, XLSX (as evidence)")
    ] = None,
) -> NoteRead:
    """A progress note (进展情况) with files, checked by content and size as evidence is."""
    limit = ledger_policy().evidence_max_bytes
    uploads = [
        rectify.EvidenceFile(filename=f.filename or "file", data=f.file.read(limit + 1))
        for f in files or []
    ]
    _, event = rectify.write_note(
        session,
        actor=actor,
        clock=clock,
        node_id=node_id,
        note=text,
        files=uploads,
        store=request.app.state.photo_store,
    )
    return NoteRead(
        event_id=event.id,
        node_id=node_id,
        text=event.payload["text"],
        files=[
            NoteFileRead(**f, url=f"/api/v1/ledgers/note-files/{f['id']}")
            for f in event.payload.get("files", [])
        ],
    )


@router.get(
    "/ledgers/note-files/{file_id}",
    summary="Download a progress note's file",
    response_class=Response,
)
def note_file(file_id: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The bytes of a file sent with a progress note."""
    found = queries.note_file(session, actor=actor, file_id=file_id)
    return _stored(
        request,
        found.storage_key,
        found.content_type,
        {"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )


@router.put(
    "/ledgers/nodes/{node_id}/milestones",
    response_model=MilestonesRead,
    summary="Set the milestones of an item or a measure",
)
def milestones(
    node_id: int, body: MilestonesPut, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> MilestonesRead:
    """Replace the milestones (时间节点: date, text, done) of an item or a measure; they are
    kept in date order. Not part of the xlsx template (its columns are fixed)."""
    node = rectify.set_milestones(
        session,
        actor=actor,
        clock=clock,
        node_id=node_id,
        milestones=[(m.date, m.text, m.done) for m in body.milestones],
    )
    return MilestonesRead.model_validate(
        {"id": node.id, "kind": node.kind, "milestones": node.milestones}
    )


@router.post(
    "/ledgers/measures/{node_id}/signoffs",
    status_code=201,
    response_model=SignoffRead,
    summary="Request a sign-off (销号申请)",
)
def request_signoff(
    node_id: int,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    clock: ClockDep,
    files: Annotated[list[UploadFile], File(description="evidence: photos, PDF, DOCX, XLSX")],
    note: Annotated[str, Form(max_length=4000)] = "",
    long_term: Annotated[bool, Form(description="已整改需长期坚持 when approved")] = False,
) -> SignoffRead:
    """Ask for the measure to be signed off, with at least one evidence file."""
    limit = ledger_policy().evidence_max_bytes
    uploads = [
        rectify.EvidenceFile(filename=f.filename or "evidence", data=f.file.read(limit + 1))
        for f in files
    ]
    made = rectify.request_signoff(
        session,
        actor=actor,
        clock=clock,
        store=request.app.state.photo_store,
        node_id=node_id,
        files=uploads,
        note=note,
        long_term=long_term,
    )
    found = queries.ledger_signoffs_of(session, signoff_id=made.id)
    return _signoff(*found)


@router.post(
    "/ledgers/signoffs/{signoff_id}/approve",
    response_model=SignoffRead,
    summary="Approve and sign off",
)
def approve(signoff_id: int, session: SessionDep, actor: ActorDep, clock: ClockDep) -> SignoffRead:
    """Sign the measure off: 已整改 (or 已整改需长期坚持)."""
    rectify.approve_signoff(session, actor=actor, clock=clock, signoff_id=signoff_id)
    return _signoff(*queries.ledger_signoffs_of(session, signoff_id=signoff_id))


@router.post(
    "/ledgers/signoffs/{signoff_id}/refuse", response_model=SignoffRead, summary="Refuse (不予销号)"
)
def refuse(
    signoff_id: int, body: RefusalCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> SignoffRead:
    """Refuse the sign-off with a reason; the request is kept."""
    rectify.refuse_signoff(
        session, actor=actor, clock=clock, signoff_id=signoff_id, reason=body.reason
    )
    return _signoff(*queries.ledger_signoffs_of(session, signoff_id=signoff_id))


@router.put(
    "/ledgers/items/{node_id}/case", response_model=NodeRead, summary="Link an item to a case"
)
def link(
    node_id: int, body: CaseLink, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> NodeRead:
    """An item (具体表现) belongs to a case (``case_id`` null: to none)."""
    return _node(
        rectify.link_case(session, actor=actor, clock=clock, node_id=node_id, case_id=body.case_id)
    )


@router.get(
    "/cases/{case_id}/ledger-items",
    response_model=list[CaseItemRead],
    summary="A case's ledger items",
)
def case_items(case_id: int, session: SessionDep, actor: ActorDep) -> list[CaseItemRead]:
    """The ledger items that belong to the case."""
    return [
        CaseItemRead(id=n.id, ledger_id=n.ledger_id, kind=n.kind, text=n.text, status=n.status)
        for n in queries.items_of_case(session, case_id, actor=actor)
    ]


@router.post(
    "/ledgers/nodes/{node_id}/cases",
    status_code=201,
    response_model=CaseRaised,
    summary="Raise a case from a measure or an item",
)
def raise_case(
    node_id: int, body: CaseRaise, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> CaseRaised:
    """Report a case (through the one intake of cases) linked to the measure or item; the
    tree lists it under ``cases`` and ``GET /cases/{id}/ledger-items`` lists the entry."""
    try:
        source = Source(body.source)
    except ValueError as err:
        raise InvalidInput("no such report source", field="source") from err
    case = raising.raise_case(
        session,
        actor=actor,
        clock=clock,
        node_id=node_id,
        data=NewCase(
            source=source,
            category_code=body.category_code,
            condition_code=body.condition_code,
            lat=body.lat,
            lon=body.lon,
            address=body.address,
            description=body.description,
            photo_ids=body.photo_ids,
            crs=body.crs,
        ),
    )
    return CaseRaised(id=case.id, code=case.code, node_id=node_id)
