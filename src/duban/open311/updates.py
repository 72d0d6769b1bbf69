"""Open311 service request updates: GET servicerequestupdates (status changes and client
comments) and POST servicerequestupdates (a client's update, idempotent on its id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final

from sqlalchemy import and_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.cases import (
    STATUS_LABELS,
    Action,
    ActionInput,
    Case,
    CaseEvent,
    CasePhoto,
    CaseStatus,
    append_event,
    in_territory,
    perform_action,
)
from duban.evidence import discard_photos, save_photo
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import IllegalTransition, InvalidInput, Msg, NotFound, StaleCase
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.open311.apikeys import authenticate_key
from duban.open311.config import Live, check_jurisdiction, load_config
from duban.open311.models import ApiKey, Open311Update
from duban.open311.parsing import check_description, check_media_urls, many_errors, parse_when
from duban.open311.requests import MAX_REQUESTS, Uploads, chunks, client_actor, window
from duban.open311.statuses import EXTENDED_IS_OPEN, STATUS_TABLE

COMMENT_ACTION: Final = "comment"


@dataclass(frozen=True)
class UpdateView:
    """One entry of GET servicerequestupdates: an event of a case."""

    update_id: str
    service_request_id: str
    status: str  # extended, lower case
    updated_datetime: datetime
    description: str
    photo_ids: tuple[str, ...]
    media_urls: tuple[str, ...]
    external_status_code: str  # the action, e.g. dispatch, feedback, comment


def list_updates(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    page: int = 1,
    page_size: int = MAX_REQUESTS,
    region: str | None = None,
) -> list[UpdateView]:
    """GET servicerequestupdates: status changes and client comments, oldest first
    (``region``: only the cases of the territory of the caller's api_key).

    ``update_id`` is the event's id, so it never changes. Internal steps that change no
    status (task assignment, extension requests) are staff work and are not listed.
    """
    lo, hi = window(start, end, now)
    rows = session.execute(
        select(CaseEvent, Case.code)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.occurred_at >= lo,
            CaseEvent.occurred_at <= hi,
            CaseEvent.action != Action.REPORT.value,
            or_(
                CaseEvent.action == COMMENT_ACTION,
                and_(
                    CaseEvent.from_status.is_not(None), CaseEvent.from_status != CaseEvent.to_status
                ),
            ),
            in_territory(region) if region else true(),
        )
        .order_by(CaseEvent.occurred_at, CaseEvent.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    keys = {(e.case_id, e.seq) for e, _ in rows}
    photos: dict[tuple[int, int], list[str]] = {}
    case_ids = sorted({k[0] for k in keys})
    for chunk in chunks(case_ids):
        for case_id, seq, photo_id in session.execute(
            select(CasePhoto.case_id, CasePhoto.event_seq, CasePhoto.photo_id)
            .where(CasePhoto.case_id.in_(chunk))
            .order_by(CasePhoto.id)
        ):
            if (case_id, seq) in keys:
                photos.setdefault((case_id, seq), []).append(photo_id)
    views = []
    for event, code in rows:
        status = CaseStatus(event.to_status)
        label_zh, label_en, _ = STATUS_LABELS[status]
        payload = json.loads(event.payload or "{}")
        urls = payload.get("media_urls") if isinstance(payload, dict) else None
        views.append(
            UpdateView(
                update_id=str(event.id),
                service_request_id=code,
                status=STATUS_TABLE[status].extended,
                updated_datetime=event.occurred_at,
                description=event.note or f"{label_zh} {label_en}",
                photo_ids=tuple(photos.get((event.case_id, event.seq), ())),
                media_urls=tuple(u for u in urls or () if isinstance(u, str)),
                external_status_code=event.action,
            )
        )
    return views


@dataclass(frozen=True)
class UpdateForm:
    """The arguments of POST servicerequestupdates as strings (empty ones dropped)."""

    service_request_id: str | None = None
    update_id: str | None = None
    status: str | None = None
    updated_datetime: str | None = None
    description: str | None = None
    media_urls: Sequence[str] = ()
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    account_id: str | None = None
    service_code: str | None = None
    external_status_code: str | None = None
    jurisdiction_id: str | None = None


@dataclass(frozen=True)
class UpdateAccepted:
    """The answer to POST servicerequestupdates."""

    update_id: str
    account_id: str | None
    replayed: bool


def post_update(
    session: Session,
    *,
    api_key: str | None,
    clock: Clock,
    form: UpdateForm,
    tz: tzinfo,
    uploads: Uploads | None = None,
) -> UpdateAccepted:
    """POST servicerequestupdates: a client's update, idempotent on its ``update_id``.

    The update becomes one event on the case. By default (``update_policy: note``) it is
    a ``comment`` event that changes no status. With ``update_policy: reopen``, an update
    saying the problem is still there on a *closed* case reopens it (重新打开) with the
    update's text as the reason.

    **A lower platform's update** (the key stands for a unit, ``duban apikey create NAME
    --unit CODE``) on a case dispatched to that unit is the unit's own work, through the
    same use cases as its handlers': ``fixed``/``closed`` is 签收 (if not yet accepted)
    and 处理反馈 with the uploaded photos as after-photos and the description as the
    public reply; ``internal_referral``/``not_councils_responsibility`` is 回退 with the
    description as the reason. The city then checks and closes as for any unit.
    """
    live = load_config(session)
    check_jurisdiction(live.config, form.jurisdiction_id)
    key = authenticate_key(session, api_key)
    missing = [
        name
        for name in ("service_request_id", "update_id", "status", "updated_datetime", "description")
        if not (getattr(form, name) or "").strip()
    ]
    if missing:
        raise many_errors([InvalidInput(f"Bad request: {m}", field=m) for m in missing])
    update_id = (form.update_id or "").strip()
    word = (form.status or "").strip().lower().replace(" ", "_")
    code = (form.service_request_id or "").strip()
    text = (form.description or "").strip()
    if len(update_id) > 64:
        raise InvalidInput("Bad request: update_id is longer than 64 characters", field="update_id")
    if word not in EXTENDED_IS_OPEN:
        raise InvalidInput(
            Msg("Bad request: status '{status}' is not known", status=form.status), field="status"
        )
    at = parse_when(form.updated_datetime, "updated_datetime", tz)
    check_description(form.description)
    urls = check_media_urls(form.media_urls)

    existing = _existing_update(session, key, update_id)
    if existing is not None:
        return _replayed(session, existing, form)
    case = session.scalars(select(Case).where(Case.code == code)).first()
    if case is None:
        raise NotFound(
            Msg(
                "not found: service request '{service_request_id}'",
                service_request_id=form.service_request_id,
            )
        )
    photo_ids = _save_uploads(session, key, clock, uploads)
    try:
        result = _post_update(
            session, key, case, live, clock, form, update_id, word, text, at, urls, photo_ids
        )
    except BaseException:
        if uploads is not None and photo_ids:
            discard_photos(session, uploads.store, photo_ids)
        raise
    if result.replayed and uploads is not None and photo_ids:
        # The same update arrived at once twice: the other copy's photos are the ones kept.
        discard_photos(session, uploads.store, photo_ids)
    return result


def _save_uploads(
    session: Session, key: ApiKey, clock: Clock, uploads: Uploads | None
) -> list[str]:
    """Keep the photos a lower platform sent with its update (its after-photos)."""
    if uploads is None:
        return []
    if key.unit_id is None:
        raise InvalidInput(
            "Bad request: only a lower platform's key may send photos", field="media"
        )
    saved: list[str] = []
    try:
        for data in uploads.files:
            photo = save_photo(
                session,
                actor=client_actor(key),
                clock=clock,
                store=uploads.store,
                data=data,
                limits=uploads.limits,
                tz=uploads.tz,
            )
            saved.append(photo.id)
    except BaseException:
        if saved:
            discard_photos(session, uploads.store, saved)
        raise
    return saved


def _post_update(
    session: Session,
    key: ApiKey,
    case: Case,
    live: Live,
    clock: Clock,
    form: UpdateForm,
    update_id: str,
    word: str,
    text: str,
    at: datetime | None,
    urls: list[str],
    photo_ids: list[str],
) -> UpdateAccepted:
    contact = {
        k: v.strip()[:200]
        for k, v in (
            ("email", form.email),
            ("phone", form.phone),
            ("first_name", form.first_name),
            ("last_name", form.last_name),
            ("title", form.title),
            ("account_id", form.account_id),
        )
        if v and v.strip()
    }
    payload = {
        "channel": "open311",
        "client": key.name,
        "update_id": update_id,
        "status": word,
        "updated_datetime": at.isoformat() if at else None,
        "media_urls": urls,
    }
    try:
        with writing(session, case_id=case.id):
            event: CaseEvent | None = None
            if key.unit_id is not None and case.unit_id == key.unit_id:
                event = _as_unit(session, case, key, clock, word, text, photo_ids)
            if (
                event is None
                and live.config.update_policy == "reopen"
                and case.status == CaseStatus.CLOSED
                and EXTENDED_IS_OPEN[word]
            ):
                try:
                    event = _reopen(session, case, key, clock, text)
                except IllegalTransition:
                    event = None
            if event is None:
                session.refresh(case)
                event = append_event(
                    session,
                    case,
                    action=COMMENT_ACTION,
                    from_status=case.status.value,
                    to_status=case.status.value,
                    actor=client_actor(key, Role.CITIZEN),
                    at=clock.now(),
                    note=text,
                    payload=payload,
                )
                case.updated_at = clock.now()
            _remember(session, key, update_id, case, event, word, contact, clock)
    except IntegrityError as err:
        # The same update_id arrived twice at once: the other copy won; answer as it did.
        existing = _existing_update(session, key, update_id)
        if existing is None:
            raise StaleCase(case.id) from err
        return _replayed(session, existing, form)
    return UpdateAccepted(update_id=str(event.id), account_id=form.account_id, replayed=False)


#: A lower platform's statuses that are its unit's work on the case (see post_update).
RESULT_WORDS: Final = frozenset({"fixed", "closed"})
RETURN_WORDS: Final = frozenset({"internal_referral", "not_councils_responsibility"})


def _as_unit(
    session: Session,
    case: Case,
    key: ApiKey,
    clock: Clock,
    word: str,
    text: str,
    photo_ids: Sequence[str],
) -> CaseEvent | None:
    """A lower platform's update as its unit's action; None when it is only a comment."""
    actor = Actor(
        user_id=None,
        username=f"open311:{key.name}",
        role=Role.HANDLER,
        unit_id=key.unit_id,
        uploads=frozenset(photo_ids),
    )
    note = f"[{key.name}] {text}"[:2000]
    if word in RESULT_WORDS and case.status in (CaseStatus.DISPATCHED, CaseStatus.HANDLING):
        if case.status == CaseStatus.DISPATCHED:
            perform_action(
                session,
                case_id=case.id,
                action=Action.ACCEPT,
                actor=actor,
                clock=clock,
                params=ActionInput(note=note),
            )
        perform_action(
            session,
            case_id=case.id,
            action=Action.FEEDBACK,
            actor=actor,
            clock=clock,
            params=ActionInput(note=note, public_reply=text[:2000], photo_ids=tuple(photo_ids)),
        )
    elif word in RETURN_WORDS and case.status in (CaseStatus.DISPATCHED, CaseStatus.HANDLING):
        perform_action(
            session,
            case_id=case.id,
            action=Action.RETURN,
            actor=actor,
            clock=clock,
            params=ActionInput(reason=note),
        )
    else:
        return None
    return _last_event(session, case)


def _last_event(session: Session, case: Case) -> CaseEvent:
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).first()
    assert event is not None
    return event


def _reopen(session: Session, case: Case, key: ApiKey, clock: Clock, text: str) -> CaseEvent:
    """Reopen a closed case on a client's word, as the policy delegates it."""
    actor = Actor(user_id=None, username=f"open311:{key.name}", role=Role.SHIFT_LEAD)
    perform_action(
        session,
        case_id=case.id,
        action=Action.REOPEN,
        actor=actor,
        clock=clock,
        params=ActionInput(reason=f"[Open311 {key.name}] {text}"[:2000]),
    )
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).first()
    assert event is not None
    return event


def _existing_update(session: Session, key: ApiKey, update_id: str) -> Open311Update | None:
    return session.scalars(
        select(Open311Update).where(
            Open311Update.api_key_id == key.id, Open311Update.update_id == update_id
        )
    ).first()


def _replayed(session: Session, row: Open311Update, form: UpdateForm) -> UpdateAccepted:
    code = session.scalar(select(Case.code).where(Case.id == row.case_id))
    if form.service_request_id and code != form.service_request_id.strip():
        raise InvalidInput(
            Msg(
                "Bad request: update_id '{update_id}' already exists for another request",
                update_id=row.update_id,
            ),
            field="update_id",
        )
    return UpdateAccepted(update_id=str(row.event_id), account_id=form.account_id, replayed=True)


def _remember(
    session: Session,
    key: ApiKey,
    update_id: str,
    case: Case,
    event: CaseEvent,
    status: str,
    contact: Mapping[str, Any],
    clock: Clock,
) -> None:
    """Keep the client's ``update_id`` with the event it became (in the update's unit of
    work: a second copy of the same update fails on its unique key)."""
    session.flush()
    session.add(
        Open311Update(
            api_key_id=key.id,
            update_id=update_id,
            case_id=case.id,
            event_id=event.id,
            status=status,
            contact=dict(contact),
            created_at=clock.now(),
        )
    )
