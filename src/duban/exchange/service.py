"""The exchange with a higher platform: take its cases (pull), send our results (push).

A district's Duban runs a *link* to the city's platform, which sees the district as one
of its units (``agency``). The exchange speaks the city's Open311 endpoint only (GET
``requests.json`` with ``agency_responsible`` and ``updated_after``; POST
``servicerequestupdates.json``), so the higher platform may be another Duban or any
Open311 server with those extensions.

- **Pull** (:func:`pull_link`): the requests dispatched to our unit there, changed since
  the link's cursor, oldest change first. A new one is reported here through the one
  intake use case (:func:`duban.cases.report_case`) with its id there kept in
  ``exchange_cases`` (unique per link: a second pull, or two pulls at once, take it
  once); a known one whose status changed there gets a comment on our case.
- **Queue** (:func:`queue_results`): each result of ours on such a case (結案, 作废,
  不予受理: :data:`~duban.exchange.rules.RESULT_STATUS`) becomes one pending push
  (unique per event).
- **Push** (:func:`push_link`): due pushes are posted with our after-photos as files;
  ``update_id`` is ours, so the higher platform applies each once however often it
  arrives. A failed post is tried again with exponential backoff.

:func:`run_exchange` does all three for every active link; it is idempotent (the job the
worker runs, and ``duban exchange run``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlparse

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.cases import (
    Action,
    ActionInput,
    Case,
    CaseEvent,
    CasePhoto,
    CaseStatus,
    NewCase,
    Source,
    append_event,
    perform_action,
    report_case,
)
from duban.evidence import Photo, PhotoLimits, discard_photos, save_photo
from duban.exchange.models import ExchangeCase, ExchangeLink, ExchangeProblem, ExchangePush
from duban.exchange.orders import post_answer, pull_orders, queue_answers, staff_client
from duban.exchange.rules import (
    FAILED,
    PENDING,
    PULL_PAGE_SIZE,
    RESULT_STATUS,
    REWORK_TO,
    SENT,
    ExchangeRefused,
    ExchangeUnauthorized,
    ExchangeUnavailable,
    is_retryable,
    next_try,
)
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import DubanError, InvalidInput, Msg, NotFound
from duban.kernel.ports import PhotoStore
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.reference import load_policy

#: Before the first pull: every change since then.
EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
TIMEOUT_SECONDS: Final = 15.0
MAX_DESCRIPTION_CHARS: Final = 1900
COMMENT: Final = "comment"
#: At most this many of a request's photos are fetched.
MAX_PHOTOS: Final = 4
#: The settings' defaults (``DUBAN_MAX_PHOTO_BYTES``, ``DUBAN_MAX_PHOTO_PIXELS``).
DEFAULT_LIMITS: Final = PhotoLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000)
NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


# --------------------------------------------------------------------------- links


@dataclass(frozen=True)
class LinkSpec:
    """What an admin configures of a link (``duban exchange link set``)."""

    name: str
    base_url: str
    api_key: str
    agency: str
    jurisdiction_id: str | None = None
    service_codes: Sequence[str] = ()
    code_map: Mapping[str, str] = field(default_factory=dict)
    source: str = Source.SUPERVISION.value
    is_active: bool = True
    #: A bearer token of our unit's handler account on the higher platform's staff API:
    #: its supervision orders come down and our answers go up (None: keep; "": none).
    staff_token: str | None = None


def save_link(session: Session, *, spec: LinkSpec, clock: Clock) -> ExchangeLink:
    """Create the link ``spec.name``, or change it (its cursor and cases stay)."""
    name = spec.name.strip()
    if not (2 <= len(name) <= 64 and set(name) <= NAME_CHARS):
        raise InvalidInput(
            "a link name must be 2-64 letters, digits, '_', '.' or '-'", field="name"
        )
    url = spec.base_url.strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(
            "the base URL must start with http:// or https:// (the Open311 endpoint)",
            field="base_url",
        )
    if not spec.api_key.strip():
        raise InvalidInput("the higher platform's api_key is required", field="api_key")
    if not spec.agency.strip():
        raise InvalidInput(
            "the agency (our unit's code on the higher platform) is required", field="agency"
        )
    if spec.source not in {s.value for s in Source}:
        raise InvalidInput(
            Msg(
                "unknown source '{source}'; one of: {sources}",
                source=spec.source,
                sources=", ".join(s.value for s in Source),
            ),
            field="source",
        )
    with writing(session):
        link = session.scalars(select(ExchangeLink).where(ExchangeLink.name == name)).first()
        if link is None:
            link = ExchangeLink(name=name, created_at=clock.now(), cursor=None)
            session.add(link)
        link.base_url = url
        link.api_key = spec.api_key.strip()
        link.agency = spec.agency.strip()
        link.jurisdiction_id = (spec.jurisdiction_id or "").strip() or None
        link.service_codes = [c.strip() for c in spec.service_codes if c.strip()]
        link.code_map = {k.strip(): v.strip() for k, v in spec.code_map.items()}
        link.source = spec.source
        link.is_active = spec.is_active
        token = spec.staff_token.strip() or None if spec.staff_token is not None else None
        if spec.staff_token is not None and token != link.staff_token:
            link.staff_token = token
            if link.id is not None:
                _answers_due(session, link, clock)
    return link


def _answers_due(session: Session, link: ExchangeLink, clock: Clock) -> None:
    """A new staff credential: the answers waiting to go up are due at once (those the
    old one could not send included)."""
    for push in session.scalars(
        select(ExchangePush).where(
            ExchangePush.link_id == link.id,
            ExchangePush.problem_id.is_not(None),
            ExchangePush.state == PENDING,
        )
    ):
        push.next_try_at = clock.now()


def list_links(session: Session) -> list[ExchangeLink]:
    """Every link, oldest first."""
    return list(session.scalars(select(ExchangeLink).order_by(ExchangeLink.id)))


def get_link(session: Session, name: str) -> ExchangeLink:
    link = session.scalars(select(ExchangeLink).where(ExchangeLink.name == name)).first()
    if link is None:
        raise NotFound(Msg("there is no exchange link '{name}'", name=name))
    return link


def _client(link: ExchangeLink) -> httpx.Client:
    return httpx.Client(base_url=link.base_url + "/", timeout=TIMEOUT_SECONDS)


def _call(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    """One call to the higher platform; its JSON answer.

    Raises:
        ExchangeUnavailable: no answer, or a server error (try again later).
        ExchangeRefused: a 4xx answer (the same request will be refused again).
    """
    try:
        response = client.request(method, path, **kw)
    except httpx.HTTPError as err:
        raise ExchangeUnavailable(
            Msg("the higher platform did not answer: {reason}", reason=type(err).__name__)
        ) from err
    if response.status_code >= 400:
        reason = _reason(response)
        if is_retryable(response.status_code):
            raise ExchangeUnavailable(
                Msg(
                    "the higher platform answered {status}: {reason}",
                    status=response.status_code,
                    reason=reason,
                )
            )
        raise ExchangeRefused(
            Msg(
                "the higher platform refused it ({status}): {reason}",
                status=response.status_code,
                reason=reason,
            ),
            status=response.status_code,
        )
    try:
        return response.json()
    except ValueError as err:
        raise ExchangeUnavailable("the higher platform's answer is not JSON") from err


def _reason(response: httpx.Response) -> str:
    """The description of an Open311 error document, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(str(e.get("description", "")) for e in body)[:500]
    return str(body)[:200]


# --------------------------------------------------------------------------- pull


@dataclass
class PullReport:
    """What one pull did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # ids there, with why


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _status_of(item: Mapping[str, Any]) -> str:
    """The request's status, as finely as the higher platform says it: a Duban's own
    status (``extensions=true``), else the FixMyStreet extended one, else v2's."""
    extended = item.get("extended_attributes")
    if isinstance(extended, Mapping):
        for name in ("duban_status", "status_extended"):
            if extended.get(name):
                return str(extended[name])
    return str(item.get("status") or "open")


@dataclass(frozen=True)
class Photos:
    """Where the problem photos of the cases we take are kept, and their limits."""

    store: PhotoStore
    limits: PhotoLimits = DEFAULT_LIMITS


def pull_link(
    session: Session,
    *,
    link: ExchangeLink,
    clock: Clock,
    client: httpx.Client | None = None,
    photos: Photos | None = None,
) -> PullReport:
    """Take the higher platform's requests for our unit there, changed since the cursor.

    With ``photos``, a new case gets the higher platform's problem photos (those its own
    endpoint serves, at most :data:`MAX_PHOTOS`) as its before-photos.
    """
    report = PullReport()
    own = client or _client(link)
    try:
        page = 1
        cursor = link.cursor or EPOCH
        newest = link.cursor
        while True:
            params: dict[str, str | int] = {
                "agency_responsible": link.agency,
                "updated_after": cursor.astimezone(UTC).isoformat(),
                "extensions": "true",
                "page": page,
                "page_size": PULL_PAGE_SIZE,
            }
            if link.jurisdiction_id:
                params["jurisdiction_id"] = link.jurisdiction_id
            items = _call(own, "GET", "requests.json", params=params)
            if isinstance(items, Mapping):  # FixMyStreet wraps its list
                items = items.get("service_requests", [])
            if not isinstance(items, list):
                raise ExchangeUnavailable("the higher platform's answer is not a list")
            for item in items:
                if isinstance(item, Mapping):
                    at = _take(session, link, item, clock, report, own, photos)
                    if at is not None and (newest is None or at > newest):
                        newest = at
            if len(items) < PULL_PAGE_SIZE:
                break
            page += 1
    finally:
        if client is None:
            own.close()
    if newest is not None and newest != link.cursor:
        with writing(session):
            link.cursor = newest
    return report


def _take(
    session: Session,
    link: ExchangeLink,
    item: Mapping[str, Any],
    clock: Clock,
    report: PullReport,
    client: httpx.Client,
    photos: Photos | None,
) -> datetime | None:
    """One request of the higher platform: new here, changed there, or nothing new."""
    external_id = str(item.get("service_request_id") or "").strip()
    at = _when(item.get("updated_datetime"))
    if not external_id or at is None:
        report.skipped.append(f"{external_id or '?'}: no service_request_id or updated_datetime")
        return None
    code = str(item.get("service_code") or "")
    if link.service_codes and code not in link.service_codes:
        report.skipped.append(f"{external_id}: service {code} is not taken by this link")
        return at
    status = _status_of(item)
    known = session.scalars(
        select(ExchangeCase).where(
            ExchangeCase.link_id == link.id, ExchangeCase.external_id == external_id
        )
    ).first()
    if known is None:
        try:
            _create(session, link, item, external_id, code, status, at, clock, client, photos)
        except IntegrityError:
            report.unchanged += 1  # another pull took it first
            return at
        except DubanError as err:
            report.skipped.append(f"{external_id}: {err.message}")
            return at
        report.created += 1
        return at
    if known.external_status == status or at < known.external_updated_at:
        report.unchanged += 1
        return at
    _note_change(session, link, known, status, at, item, clock)
    report.updated += 1
    return at


def _create(
    session: Session,
    link: ExchangeLink,
    item: Mapping[str, Any],
    external_id: str,
    code: str,
    status: str,
    at: datetime,
    clock: Clock,
    client: httpx.Client,
    photos: Photos | None,
) -> None:
    lat, lon = item.get("lat"), item.get("long")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        raise InvalidInput(Msg("request {id} has no location", id=external_id), field="lat")
    urls = item.get("media_urls") or ([item["media_url"]] if item.get("media_url") else [])
    urls = [str(u) for u in urls if isinstance(u, str)]
    description = str(item.get("description") or item.get("service_name") or code)
    text = f"[{link.name} {external_id}] {description}"
    if urls:
        text += " 照片 Photos: " + " ".join(urls)
    actor = Actor(user_id=None, username=f"exchange:{link.name}", role=Role.SHIFT_LEAD)
    photo_ids = _fetch_photos(session, link, urls, actor, clock, client, photos)
    try:
        _report(
            session, link, item, external_id, (float(lat), float(lon)), code, status, at,
            clock, actor, text, photo_ids,
        )  # fmt: skip
    except BaseException:
        if photos is not None and photo_ids:
            discard_photos(session, photos.store, photo_ids)
        raise


def _fetch_photos(
    session: Session,
    link: ExchangeLink,
    urls: Sequence[str],
    actor: Actor,
    clock: Clock,
    client: httpx.Client,
    photos: Photos | None,
) -> list[str]:
    """The higher platform's problem photos, kept here (only those its own Open311
    endpoint serves: we fetch nothing from anywhere else). A photo that cannot be had is
    left out; its link stays in the description."""
    if photos is None:
        return []
    prefix = link.base_url + "/media/"
    tz = load_policy(session).tz
    saved: list[str] = []
    for url in [u for u in urls if u.startswith(prefix)][:MAX_PHOTOS]:
        try:
            response = client.get(url)
        except httpx.HTTPError:
            continue
        if response.status_code != 200 or len(response.content) > photos.limits.max_bytes:
            continue
        try:
            photo = save_photo(
                session,
                actor=actor,
                clock=clock,
                store=photos.store,
                data=response.content,
                limits=photos.limits,
                tz=tz,
            )
        except DubanError:
            continue
        saved.append(photo.id)
    return saved


def _report(
    session: Session,
    link: ExchangeLink,
    item: Mapping[str, Any],
    external_id: str,
    point: tuple[float, float],
    code: str,
    status: str,
    at: datetime,
    clock: Clock,
    actor: Actor,
    text: str,
    photo_ids: Sequence[str],
) -> None:
    with writing(session):
        case, _ = report_case(
            session,
            actor=replace(actor, uploads=frozenset(photo_ids)),
            clock=clock,
            data=NewCase(
                source=Source(link.source),
                category_code=link.code_map.get(code, code),
                lat=point[0],
                lon=point[1],
                address=str(item.get("address") or "")[:300],
                description=text[:MAX_DESCRIPTION_CHARS],
                photo_ids=tuple(photo_ids),
            ),
        )
        session.add(
            ExchangeCase(
                link_id=link.id,
                external_id=external_id,
                case_id=case.id,
                external_status=status,
                external_updated_at=at,
                created_at=clock.now(),
            )
        )


def _note_change(
    session: Session,
    link: ExchangeLink,
    known: ExchangeCase,
    status: str,
    at: datetime,
    item: Mapping[str, Any],
    clock: Clock,
) -> None:
    """The higher platform changed its case: a comment on ours, and the new state kept."""
    actor = Actor(user_id=None, username=f"exchange:{link.name}", role=Role.SYSTEM)
    with writing(session, case_id=known.case_id):
        case = session.get(Case, known.case_id)
        assert case is not None
        notes = str(item.get("status_notes") or "")
        append_event(
            session,
            case,
            action=COMMENT,
            from_status=case.status.value,
            to_status=case.status.value,
            actor=actor,
            at=clock.now(),
            note=f"[{link.name}] {known.external_status} → {status} {notes}".strip()[:2000],
            payload={
                "channel": "exchange",
                "link": link.name,
                "external_id": known.external_id,
                "status": status,
                "updated_datetime": at.isoformat(),
            },
        )
        case.updated_at = clock.now()
        rework = status in REWORK_TO and _fix_sent_before(session, case.id, at)
        known.external_status = status
        known.external_updated_at = at
        if rework and case.status == CaseStatus.CLOSED:
            # 返工 upstream: the fix we sent failed the higher platform's check, so our
            # case opens again (same unit, a new clock); its next close is pushed anew.
            perform_action(
                session,
                case_id=case.id,
                action=Action.REOPEN,
                actor=Actor(user_id=None, username=f"exchange:{link.name}", role=Role.SHIFT_LEAD),
                clock=clock,
                params=ActionInput(
                    reason=f"[{link.name}] 上级平台核查未通过，返工 — failed the higher "
                    f"platform's check: {notes}".strip()[:2000]
                ),
            )


def _fix_sent_before(session: Session, case_id: int, at: datetime) -> bool:
    """Whether we sent up a fix of this case, closed before ``at`` (so a higher platform
    that has the case back with its unit after ``at`` sent that fix back)."""
    return (
        session.scalar(
            select(ExchangePush.id)
            .join(CaseEvent, CaseEvent.id == ExchangePush.event_id)
            .where(
                ExchangePush.case_id == case_id,
                ExchangePush.state == SENT,
                ExchangePush.status == RESULT_STATUS["close"],
                CaseEvent.occurred_at <= at,
            )
            .limit(1)
        )
        is not None
    )


# --------------------------------------------------------------------------- queue


def queue_results(session: Session, *, link: ExchangeLink, clock: Clock) -> int:
    """A pending push for every result of ours on the link's cases not yet queued."""
    rows = session.execute(
        select(CaseEvent, ExchangeCase.external_id)
        .join(ExchangeCase, ExchangeCase.case_id == CaseEvent.case_id)
        .outerjoin(ExchangePush, ExchangePush.event_id == CaseEvent.id)
        .where(
            ExchangeCase.link_id == link.id,
            CaseEvent.action.in_(list(RESULT_STATUS)),
            ExchangePush.id.is_(None),
        )
        .order_by(CaseEvent.id)
    ).all()
    queued = 0
    for event, _external_id in rows:
        description, photo_ids = _result_of(session, event)
        try:
            with writing(session):
                session.add(
                    ExchangePush(
                        link_id=link.id,
                        case_id=event.case_id,
                        event_id=event.id,
                        update_id=f"duban-{link.name}-{event.id}"[:64],
                        state=PENDING,
                        status=RESULT_STATUS[event.action],
                        description=description,
                        photo_ids=photo_ids,
                        attempts=0,
                        next_try_at=clock.now(),
                        created_at=clock.now(),
                        extra={},
                    )
                )
        except IntegrityError:
            continue  # another run queued it first
        queued += 1
    return queued


def _result_of(session: Session, event: CaseEvent) -> tuple[str, list[str]]:
    """What a result says upstream: the public reply and after-photos of the last fix
    (结案), or the reason (作废, 不予受理)."""
    if event.action != "close":
        return (event.note or event.action), []
    feedback = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == event.case_id, CaseEvent.action == "feedback")
        .order_by(CaseEvent.seq.desc())
    ).first()
    if feedback is None:
        return (event.note or "已结案 closed"), []
    payload = json.loads(feedback.payload or "{}")
    reply = payload.get("public_reply") if isinstance(payload, dict) else None
    photos = list(
        session.scalars(
            select(CasePhoto.photo_id)
            .where(
                CasePhoto.case_id == event.case_id,
                CasePhoto.event_seq == feedback.seq,
                CasePhoto.stage == "after",
            )
            .order_by(CasePhoto.id)
        )
    )
    return (reply or feedback.note or event.note or "已处置 fixed"), photos


# --------------------------------------------------------------------------- push


@dataclass
class PushReport:
    """What one push did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: The staff API refused our credential: the answers wait for a new one.
    unauthorized: bool = False


def push_link(
    session: Session,
    *,
    link: ExchangeLink,
    clock: Clock,
    store: PhotoStore,
    client: httpx.Client | None = None,
) -> PushReport:
    """Post every due push of the link; a failure is kept with its next try."""
    report = PushReport()
    now = clock.now()
    due = list(
        session.scalars(
            select(ExchangePush)
            .where(
                ExchangePush.link_id == link.id,
                ExchangePush.state == PENDING,
                ExchangePush.next_try_at <= now,
            )
            .order_by(ExchangePush.id)
        )
    )
    if not due:
        return report
    own = client or _client(link)
    try:
        for push in due:
            if push.problem_id is not None and report.unauthorized:
                continue  # the staff credential is refused: the answers wait for a new one
            _push_one(session, link, push, clock, store, own, report)
    finally:
        if client is None:
            own.close()
    return report


def _push_one(
    session: Session,
    link: ExchangeLink,
    push: ExchangePush,
    clock: Clock,
    store: PhotoStore,
    client: httpx.Client,
    report: PushReport,
) -> None:
    if push.problem_id is not None:
        _push_answer(session, link, push, clock, store, report)
        return
    external_id = session.scalar(
        select(ExchangeCase.external_id).where(ExchangeCase.case_id == push.case_id)
    )
    event_at = session.scalar(select(CaseEvent.occurred_at).where(CaseEvent.id == push.event_id))
    data: dict[str, str] = {
        "api_key": link.api_key,
        "service_request_id": str(external_id),
        "update_id": push.update_id,
        "status": push.status.upper(),
        "updated_datetime": (event_at or push.created_at).astimezone(UTC).isoformat(),
        "description": push.description,
    }
    if link.jurisdiction_id:
        data["jurisdiction_id"] = link.jurisdiction_id
    files = []
    for photo in session.scalars(select(Photo).where(Photo.id.in_(push.photo_ids))):
        try:
            files.append(
                ("media", (f"{photo.id}.jpg", store.get(photo.storage_key), photo.content_type))
            )
        except FileNotFoundError:
            continue  # the file is gone: the update goes without it
    try:
        answer = _call(client, "POST", "servicerequestupdates.json", data=data, files=files or None)
    except (ExchangeUnavailable, ExchangeRefused) as err:
        _failed(session, push, clock, report, err)
        return
    remote = None
    if isinstance(answer, list) and answer and isinstance(answer[0], Mapping):
        remote = str(answer[0].get("update_id") or "") or None
    _sent(session, push, clock, report, remote)


def _push_answer(
    session: Session,
    link: ExchangeLink,
    push: ExchangePush,
    clock: Clock,
    store: PhotoStore,
    report: PushReport,
) -> None:
    """An answer to one of the higher platform's order problems, over its staff API."""
    client = staff_client(link)
    try:
        remote = post_answer(session, push, client, store)
    except ExchangeUnauthorized as err:
        # Not the answer's fault: it waits, its tries uncounted, until a new credential
        # is set on the link (which makes it due at once).
        report.unauthorized = True
        report.errors.append(f"{push.update_id}: {err.message}")
        return
    except (ExchangeUnavailable, ExchangeRefused) as err:
        _failed(session, push, clock, report, err)
        return
    finally:
        client.close()
    _sent(session, push, clock, report, remote)
    problem = session.get(ExchangeProblem, push.problem_id)
    if problem is not None:
        with writing(session):
            problem.external_status = "answered"
            problem.updated_at = clock.now()


def _failed(
    session: Session,
    push: ExchangePush,
    clock: Clock,
    report: PushReport,
    err: ExchangeUnavailable | ExchangeRefused,
) -> None:
    """A failed send: tried again later (backoff), or failed for good (refused)."""
    with writing(session):
        push.attempts += 1
        push.last_error = err.message[:2000]
        later = (
            next_try(clock.now(), push.attempts) if isinstance(err, ExchangeUnavailable) else None
        )
        if later is None:
            push.state = FAILED
            report.failed += 1
        else:
            push.next_try_at = later
            report.retry += 1
    report.errors.append(f"{push.update_id}: {err.message}")


def _sent(
    session: Session, push: ExchangePush, clock: Clock, report: PushReport, remote: str | None
) -> None:
    with writing(session):
        push.attempts += 1
        push.state = SENT
        push.sent_at = clock.now()
        push.remote_id = remote
        push.last_error = None
    report.sent += 1


def retry_failed(session: Session, *, link: ExchangeLink, clock: Clock) -> int:
    """Put the link's failed pushes back in the queue, due now (after a fix upstream)."""
    with writing(session):
        rows = list(
            session.scalars(
                select(ExchangePush).where(
                    ExchangePush.link_id == link.id, ExchangePush.state == FAILED
                )
            )
        )
        for push in rows:
            push.state = PENDING
            push.attempts = 0
            push.next_try_at = clock.now()
    return len(rows)


# --------------------------------------------------------------------------- run


@dataclass
class LinkRun:
    """One link's part of a run."""

    name: str
    pulled: PullReport | None = None
    problems: int = 0
    queued: int = 0
    pushed: PushReport | None = None
    error: str | None = None


@dataclass
class ExchangeReport:
    """What :func:`run_exchange` did, link by link."""

    links: list[LinkRun] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        for run in self.links:
            pulled = run.pulled or PullReport()
            pushed = run.pushed or PushReport()
            parts.append(
                f"{run.name}: pulled {pulled.created} new, {pulled.updated} changed; "
                f"order problems {run.problems} new; "
                f"queued {run.queued}; pushed {pushed.sent}, retry {pushed.retry}, "
                f"failed {pushed.failed}" + (f"; error: {run.error}" if run.error else "")
            )
        return "\n".join(parts) or "no active exchange link"


def run_exchange(
    session: Session,
    *,
    clock: Clock,
    store: PhotoStore,
    pull: bool = True,
    push: bool = True,
    link_name: str | None = None,
    client: httpx.Client | None = None,
    limits: PhotoLimits = DEFAULT_LIMITS,
) -> ExchangeReport:
    """Pull, queue and push for every active link (or ``link_name``): the job.

    Idempotent: a case is taken once, a result queued once and applied upstream once,
    however often it runs (also two runs at once). A higher platform that does not
    answer is noted on the link (``last_error``) and the other links go on.
    """
    links = (
        [get_link(session, link_name)]
        if link_name
        else [link for link in list_links(session) if link.is_active]
    )
    report = ExchangeReport()
    for link in links:
        run = LinkRun(name=link.name)
        report.links.append(run)
        error: str | None = None
        try:
            if pull:
                run.pulled = pull_link(
                    session,
                    link=link,
                    clock=clock,
                    client=client,
                    photos=Photos(store=store, limits=limits),
                )
                run.problems = pull_orders(session, link=link, clock=clock)
        except (ExchangeUnavailable, ExchangeRefused) as err:
            error = err.message
        if push:
            run.queued = queue_results(session, link=link, clock=clock)
            run.queued += queue_answers(session, link=link, clock=clock)
            run.pushed = push_link(session, link=link, clock=clock, store=store, client=client)
            if run.pushed.errors and error is None:
                error = run.pushed.errors[-1]
        run.error = error
        with writing(session):
            link.last_run_at = clock.now()
            link.last_error = error
    return report


def pending_pushes(session: Session, link: ExchangeLink) -> list[ExchangePush]:
    """The link's pushes not yet sent (pending or failed), oldest first."""
    return list(
        session.scalars(
            select(ExchangePush)
            .where(ExchangePush.link_id == link.id, ExchangePush.state != SENT)
            .order_by(ExchangePush.id)
        )
    )
