"""The hand-overs' API: the responsibility list and its bodies, a case's hand-overs, and
the body's answer through its signed link (no account).

The hand-over itself and the dispatcher's record of an answer are case actions
(``POST /api/v1/cases/{id}/actions/transfer`` with ``unit``, ``amount`` and ``note``;
``transfer_accept``, ``transfer_refuse`` with ``reason``, ``transfer_done`` with
``photo_ids``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel, Field

from duban.api.deps import ActorDep, ClockDep, SessionDep, SettingsDep
from duban.api.limits import limit_uploads, request_lang
from duban.api.schemas import Strict
from duban.cases import get_case, is_staff
from duban.evidence import PhotoLimits, save_photo
from duban.handover.models import CaseTransfer, Responsibility
from duban.handover.rules import Answer
from duban.handover.service import (
    add_responsibility,
    answer_by_link,
    link_token,
    list_bodies,
    list_responsibilities,
    open_link,
    save_body,
    transfers_of,
)
from duban.kernel.context import SYSTEM_ACTOR, Actor
from duban.kernel.errors import InvalidInput, Msg, PermissionDenied
from duban.kernel.roles import Role
from duban.reference import load_policy

router = APIRouter(tags=["handover"])

#: Who sees a hand-over's answer link (to send it to the body again).
LINK_READERS = frozenset({Role.DISPATCHER, Role.SHIFT_LEAD, Role.ADMIN})


class BodyRead(BaseModel):
    code: str
    name: str
    phone: str | None
    email: str | None
    address: str | None
    is_active: bool


class BodyWrite(Strict):
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    phone: str = Field(default="", max_length=64)
    email: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=300)


class ResponsibilityRead(BaseModel):
    id: int
    category_code: str | None
    condition_code: str | None
    body: BodyRead
    note: str
    legal_basis: str
    at_once: bool = Field(description="handed over at filing, without a dispatcher")
    reply_days: int | None
    is_active: bool


class ResponsibilityCreate(Strict):
    body: str = Field(max_length=32, description="the body's code")
    category_code: str | None = Field(default=None, max_length=32)
    condition_code: str | None = Field(default=None, max_length=40)
    note: str = Field(default="", max_length=2000)
    legal_basis: str = Field(default="", max_length=2000)
    at_once: bool = False
    reply_days: int | None = Field(default=None, ge=1, le=60)


class TransferRead(BaseModel):
    id: int
    case_id: int
    body: BodyRead
    state: Literal["open", "accepted", "refused", "done"]
    note: str
    legal_basis: str
    reply_due_at: datetime
    created_at: datetime
    accepted_at: datetime | None
    answered_at: datetime | None
    answer_note: str
    answered_via: str | None
    is_overdue: bool
    link: str | None = Field(
        default=None, description="the body's answer link (dispatchers and shift leads only)"
    )


class LinkCase(BaseModel):
    """What the body sees through its link: the matter, the place, the deadline."""

    case_code: str
    category_code: str
    description: str
    address: str
    lat: float
    lon: float
    body: str
    note: str
    legal_basis: str
    state: str
    reply_due_at: datetime


class LinkAnswer(Strict):
    answer: Literal["accept", "refuse", "done"]
    note: str = Field(default="", max_length=2000)
    reason: str = Field(default="", max_length=2000, description="refuse: why (required)")
    photo_ids: list[str] = Field(
        default_factory=list, max_length=10, description="done: photos of the result"
    )


class LinkPhoto(BaseModel):
    id: str


def _body(unit: object) -> BodyRead:
    return BodyRead.model_validate(unit, from_attributes=True)


def _entry(row: Responsibility) -> ResponsibilityRead:
    return ResponsibilityRead(
        id=row.id,
        category_code=row.category_code,
        condition_code=row.condition_code,
        body=_body(row.unit),
        note=row.note,
        legal_basis=row.legal_basis,
        at_once=row.at_once,
        reply_days=row.reply_days,
        is_active=row.is_active,
    )


def present_transfer(
    transfer: CaseTransfer, *, now: datetime, secret: str, with_link: bool
) -> TransferRead:
    """A hand-over as the API shows it."""
    return TransferRead(
        id=transfer.id,
        case_id=transfer.case_id,
        body=_body(transfer.unit),
        state=transfer.state,
        note=transfer.note,
        legal_basis=transfer.legal_basis,
        reply_due_at=transfer.reply_due_at,
        created_at=transfer.created_at,
        accepted_at=transfer.accepted_at,
        answered_at=transfer.answered_at,
        answer_note=transfer.answer_note,
        answered_via=transfer.answered_via,
        is_overdue=transfer.overdue_marked_at is not None
        or (transfer.state in ("open", "accepted") and transfer.reply_due_at < now),
        link=f"/handover/{link_token(secret, transfer)}" if with_link else None,
    )


def _staff(actor: Actor) -> None:
    if not is_staff(actor):
        raise PermissionDenied("the responsibility list is for staff")


def _admin(role: Role) -> None:
    if role != Role.ADMIN:
        raise PermissionDenied("only an admin changes the responsibility list")


@router.get(
    "/handover/bodies", response_model=list[BodyRead], summary="Bodies outside 城管 (contacts)"
)
def bodies(session: SessionDep, actor: ActorDep) -> list[BodyRead]:
    """The bodies cases are handed over to (交警, 燃气, 电力, 通信, 公安, 供水), with contacts."""
    _staff(actor)
    return [_body(u) for u in list_bodies(session)]


@router.post(
    "/handover/bodies", status_code=201, response_model=BodyRead, summary="Add or change a body"
)
def put_body(body: BodyWrite, session: SessionDep, actor: ActorDep) -> BodyRead:
    """Add a body outside 城管, or change the name and contacts of one (admin)."""
    _admin(actor.role)
    return _body(save_body(session, **body.model_dump()))


@router.get(
    "/handover/responsibilities",
    response_model=list[ResponsibilityRead],
    summary="The responsibility list (权责清单)",
)
def responsibilities(session: SessionDep, actor: ActorDep) -> list[ResponsibilityRead]:
    """Which matters (category or filing condition) belong to which body, with the note
    and legal basis; active entries first."""
    _staff(actor)
    return [_entry(r) for r in list_responsibilities(session)]


@router.post(
    "/handover/responsibilities",
    status_code=201,
    response_model=ResponsibilityRead,
    summary="Add an entry to the responsibility list",
)
def add_entry(
    body: ResponsibilityCreate, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> ResponsibilityRead:
    """A matter → a body (admin). ``at_once``: cases of it are handed over at filing."""
    _admin(actor.role)
    entry = add_responsibility(
        session,
        body_code=body.body,
        now=clock.now(),
        category_code=body.category_code,
        condition_code=body.condition_code,
        note=body.note,
        legal_basis=body.legal_basis,
        at_once=body.at_once,
        reply_days=body.reply_days,
    )
    return _entry(entry)


@router.get(
    "/cases/{case_id}/transfers",
    response_model=list[TransferRead],
    summary="A case's hand-overs to bodies outside 城管",
)
def case_transfers(
    case_id: int, request: Request, session: SessionDep, actor: ActorDep, clock: ClockDep
) -> list[TransferRead]:
    """Every hand-over of a case the caller may see, oldest first, with the body's answer;
    dispatchers and shift leads also get the body's answer link to send again."""
    get_case(session, actor=actor, case_id=case_id)
    secret = request.app.state.secret_key
    return [
        present_transfer(t, now=clock.now(), secret=secret, with_link=actor.role in LINK_READERS)
        for t in transfers_of(session, case_id)
    ]


@router.get(
    "/handover/link/{token}",
    response_model=LinkCase,
    summary="What a body sees through its answer link (no account)",
)
def link_case(token: str, request: Request, session: SessionDep, clock: ClockDep) -> LinkCase:
    """The hand-over the link opens. 403 ``link_forged`` or ``link_expired``; 409
    ``link_used`` once it was refused or done."""
    transfer = open_link(session, secret=request.app.state.secret_key, token=token, now=clock.now())
    case = get_case(session, actor=SYSTEM_ACTOR, case_id=transfer.case_id)
    return LinkCase(
        case_code=case.code,
        category_code=case.category_code,
        description=case.description,
        address=case.address,
        lat=case.lat,
        lon=case.lon,
        body=transfer.unit.name,
        note=transfer.note,
        legal_basis=transfer.legal_basis,
        state=transfer.state,
        reply_due_at=transfer.reply_due_at,
    )


@router.post(
    "/handover/link/{token}/photos",
    status_code=201,
    response_model=LinkPhoto,
    summary="A body uploads a photo of the result through its link",
)
async def link_photo(
    token: str,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    file: UploadFile = File(description="JPEG, PNG, WebP or HEIC"),
) -> LinkPhoto:
    """One photo (multipart ``file``) under the photo limits; answer ``done`` with its id."""
    from starlette.concurrency import run_in_threadpool

    limit_uploads(request, user_id=None, lang=request_lang(request))
    data = await file.read(settings.max_photo_bytes + 1)
    if len(data) > settings.max_photo_bytes:
        raise InvalidInput(
            Msg(
                "the photo is larger than the limit of {max_photo_bytes} bytes",
                max_photo_bytes=settings.max_photo_bytes,
            ),
            field="file",
        )

    def _save() -> str:
        transfer = open_link(
            session, secret=request.app.state.secret_key, token=token, now=clock.now()
        )
        photo = save_photo(
            session,
            actor=SYSTEM_ACTOR,
            clock=clock,
            store=request.app.state.photo_store,
            data=data,
            limits=PhotoLimits(settings.max_photo_bytes, settings.max_photo_pixels),
            tz=load_policy(session).tz,
        )
        del transfer
        return photo.id

    return LinkPhoto(id=await run_in_threadpool(_save))


@router.post(
    "/handover/link/{token}/answer",
    response_model=TransferRead,
    summary="A body answers a hand-over through its link (no account)",
)
def link_answer(
    token: str, body: LinkAnswer, request: Request, session: SessionDep, clock: ClockDep
) -> TransferRead:
    """``accept``, ``refuse`` with a ``reason`` (back to the dispatcher), or ``done`` with
    ``photo_ids`` (to be checked on site). Each answer is one event on the case."""
    secret = request.app.state.secret_key
    transfer = answer_by_link(
        session,
        secret=secret,
        token=token,
        answer=Answer(body.answer),
        clock=clock,
        note=body.note,
        reason=body.reason,
        photo_ids=body.photo_ids,
    )
    return present_transfer(transfer, now=clock.now(), secret=secret, with_link=False)
