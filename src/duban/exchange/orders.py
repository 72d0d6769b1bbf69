"""The higher platform's supervision orders (督办单) to our unit there: take their
problems (pull), answer them here, send the answers up (push, through the same retry
table as the cases' results).

A link that carries ``staff_token`` (a bearer token of a handler account of our unit on
the higher platform's staff API, ``…/api/v1``) also:

- **pulls** the orders that have a problem of our unit there (``GET supervision-orders``,
  then each order): every such problem is kept once in ``exchange_problems`` (unique
  per link), with the case of ours it is about when that case came down the link
  (``case_code`` = the ``service_request_id`` we took); a known one takes the higher
  platform's status (so a send-back there is open again here, with its reason);
- lets our staff **answer** a problem here (:func:`answer_city_problem`: measures, done),
  which queues one push (``exchange_pushes.problem_id``);
- **pushes** the answer (``POST supervision-orders/{id}/problems/{id}/reply``) with its
  photos: each is uploaded first (``POST photos``, as the handler's own) and the
  answer names them (``photo_ids``). The push keeps which photo went up as which
  (``extra["city_photos"]``, committed after each upload), so a retry uploads none
  twice; before posting it reads the problem there, and an answer already there with
  the same measures is taken as sent, so a retry after a lost answer does not answer
  (nor attach) twice.

The credential (``staff_token``) is meant to be long-lived: the higher platform's admin
issues it to a handler account of our unit kept for this link (``duban user token
USERNAME --days 365`` there) and revokes it by signing that account out (``duban user
signout USERNAME``); no password is kept here. A 401/403 of its staff API raises
:class:`~duban.exchange.rules.ExchangeUnauthorized` (the link's last error says so, the
answers stay pending) until a new credential is set on the link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.cases import Case
from duban.evidence import Photo
from duban.exchange.models import ExchangeCase, ExchangeLink, ExchangeProblem, ExchangePush
from duban.exchange.rules import (
    PENDING,
    STAFF_CREDENTIAL_REFUSED,
    ExchangeRefused,
    ExchangeUnauthorized,
)
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import (
    Conflict,
    DubanError,
    InvalidInput,
    Msg,
    NotFound,
    PermissionDenied,
)
from duban.kernel.ports import PhotoStore
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.supervision import (
    OrderInput,
    OrderProblem,
    ReplyInput,
    clean_reply,
    create_order,
    require_own_photos,
)

#: Who answers the higher platform's orders for this platform.
ANSWERERS: Final = frozenset({Role.SUPERVISOR, Role.SHIFT_LEAD, Role.DISPATCHER, Role.ADMIN})
#: The higher platform's problem states in which it waits for our answer.
AWAITING: Final = frozenset({"open", "sent_back"})
#: Orders asked for in one page.
PAGE_SIZE: Final = 200
TIMEOUT_SECONDS: Final = 15.0
ANSWER_STATUS: Final = "answered"


def staff_root(link: ExchangeLink) -> str:
    """The higher platform's staff API (``…/api/v1``) next to its Open311 endpoint."""
    base = link.base_url.rstrip("/")
    if base.endswith("/open311/v2"):
        base = base[: -len("/open311/v2")]
    return base + "/api/v1"


def staff_client(link: ExchangeLink) -> httpx.Client:
    return httpx.Client(
        base_url=staff_root(link) + "/",
        timeout=TIMEOUT_SECONDS,
        headers={"Authorization": f"Bearer {link.staff_token or ''}"},
    )


#: Answers of a staff API that mean our credential is refused (expired or revoked).
CREDENTIAL_REFUSED: Final = frozenset({401, 403})
#: Where a push keeps which photo of ours went up as which photo there.
CITY_PHOTOS: Final = "city_photos"


def _staff_call(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    """One call to the staff API (:func:`duban.exchange.service._call`, the one way of
    calling the higher platform), a refused credential told apart.

    Raises:
        ExchangeUnauthorized: 401/403 (expired or revoked credential).
        ExchangeUnavailable, ExchangeRefused: as :func:`duban.exchange.service._call`.
    """
    from duban.exchange.service import _call

    try:
        return _call(client, method, path, **kw)
    except ExchangeRefused as err:
        if err.detail.get("status") in CREDENTIAL_REFUSED:
            raise ExchangeUnauthorized(
                STAFF_CREDENTIAL_REFUSED, status=err.detail["status"]
            ) from err
        raise


def _get(client: httpx.Client, path: str, **kw: Any) -> Any:
    return _staff_call(client, "GET", path, **kw)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def pull_orders(
    session: Session, *, link: ExchangeLink, clock: Clock, client: httpx.Client | None = None
) -> int:
    """Keep every problem of our unit there of the higher platform's orders; the number
    new. Nothing without a staff token.

    Raises:
        ExchangeUnavailable, ExchangeRefused: as :func:`duban.exchange.service._call`.
    """
    if not link.staff_token:
        return 0
    own = client or staff_client(link)
    created = 0
    try:
        page = 1
        while True:
            listing = _get(own, "supervision-orders", params={"page": page, "page_size": PAGE_SIZE})
            items = listing.get("items", []) if isinstance(listing, Mapping) else []
            for summary in items:
                if not isinstance(summary, Mapping) or "id" not in summary:
                    continue
                if summary.get("status") == "closed":
                    continue  # every problem accepted there: nothing left for us
                order = _get(own, f"supervision-orders/{int(summary['id'])}")
                if isinstance(order, Mapping):
                    created += _keep_order(session, link, order, clock)
            total = int(listing.get("total", 0)) if isinstance(listing, Mapping) else 0
            if not items or page * PAGE_SIZE >= total:
                break
            page += 1
    finally:
        if client is None:
            own.close()
    relay_locally(session, link=link, clock=clock)
    return created


def _exchange_actor(link: ExchangeLink, role: Role) -> Actor:
    return Actor(user_id=None, username=f"exchange:{link.name}", role=role)


def relay_locally(session: Session, *, link: ExchangeLink, clock: Clock) -> int:
    """An order of ours for every awaiting problem about a case of ours that has a unit
    here: our unit answers it and our supervisor reviews it as any order; the number
    issued. A problem whose case has no unit yet waits for a later pull (or is answered
    by hand)."""
    issued = 0
    rows = session.scalars(
        select(ExchangeProblem).where(
            ExchangeProblem.link_id == link.id,
            ExchangeProblem.local_order_id.is_(None),
            ExchangeProblem.case_id.is_not(None),
            ExchangeProblem.external_status.in_(sorted(AWAITING)),
        )
    ).all()
    for problem in rows:
        case = session.get(Case, problem.case_id)
        if case is None or case.unit_id is None:
            continue
        body = problem.description
        if problem.send_back_reason:
            body = f"{body}\n退回重办 sent back: {problem.send_back_reason}"
        try:
            with writing(session):
                # The row locked and checked again: two runs at once relay it once.
                session.refresh(problem, with_for_update=True)
                if problem.local_order_id is not None:
                    continue
                order = create_order(
                    session,
                    actor=_exchange_actor(link, Role.SUPERVISOR),
                    clock=clock,
                    data=OrderInput(
                        title=f"{problem.order_number} {problem.order_title}"[:200],
                        case_ids=[case.id],
                        body=f"[{link.name}] {body}"[:4000],
                    ),
                )
                problem.local_order_id = order.id
                problem.local_problem_id = order.problems[0].id
                problem.updated_at = clock.now()
        except DubanError:
            continue  # answered by hand instead
        issued += 1
    return issued


def queue_answers(session: Session, *, link: ExchangeLink, clock: Clock) -> int:
    """Our answer up for every relayed problem whose answer our supervisor accepted."""
    rows = session.execute(
        select(ExchangeProblem, OrderProblem)
        .join(OrderProblem, OrderProblem.id == ExchangeProblem.local_problem_id)
        .where(
            ExchangeProblem.link_id == link.id,
            ExchangeProblem.external_status.in_(sorted(AWAITING)),
            OrderProblem.status == "accepted",
        )
    ).all()
    queued = 0
    for problem, local in rows:
        try:
            answer_city_problem(
                session,
                actor=_exchange_actor(link, Role.SUPERVISOR),
                clock=clock,
                problem_id=problem.id,
                measures=local.measures or "",
                done=bool(local.done),
                photo_ids=list(local.reply_photo_ids or []),
            )
        except (Conflict, InvalidInput):
            continue  # one is waiting to go up already
        queued += 1
    return queued


def _keep_order(
    session: Session, link: ExchangeLink, order: Mapping[str, Any], clock: Clock
) -> int:
    created = 0
    for problem in order.get("problems") or []:
        if not isinstance(problem, Mapping):
            continue
        unit = problem.get("unit")
        if not isinstance(unit, Mapping) or unit.get("code") != link.agency:
            continue
        external_id = int(problem["id"])
        status = str(problem.get("status") or "open")
        known = session.scalars(
            select(ExchangeProblem).where(
                ExchangeProblem.link_id == link.id,
                ExchangeProblem.external_problem_id == external_id,
            )
        ).first()
        code = problem.get("case_code")
        case_id = (
            session.scalar(
                select(ExchangeCase.case_id).where(
                    ExchangeCase.link_id == link.id, ExchangeCase.external_id == str(code)
                )
            )
            if code
            else None
        )
        if known is not None:
            if known.external_status != status or (known.case_id is None and case_id):
                with writing(session):
                    if status == "sent_back" and known.external_status != status:
                        # 退回重办 there: a new order of ours to our unit (the next relay)
                        known.local_order_id = None
                        known.local_problem_id = None
                    known.external_status = status
                    known.send_back_reason = problem.get("send_back_reason")
                    known.case_id = known.case_id or case_id
                    known.updated_at = clock.now()
            continue
        try:
            with writing(session):
                session.add(
                    ExchangeProblem(
                        link_id=link.id,
                        external_order_id=int(order["id"]),
                        order_number=str(order.get("number") or "")[:100],
                        order_title=str(order.get("title") or "")[:200],
                        external_problem_id=external_id,
                        case_id=case_id,
                        description=str(problem.get("description") or ""),
                        external_status=status,
                        send_back_reason=problem.get("send_back_reason"),
                        due_at=_when(order.get("due_at")),
                        answer_count=0,
                        created_at=clock.now(),
                        updated_at=clock.now(),
                    )
                )
        except IntegrityError:
            continue  # another pull kept it first
        created += 1
    return created


def answer_city_problem(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    problem_id: int,
    measures: str,
    done: bool,
    photo_ids: Sequence[str] = (),
) -> ExchangeProblem:
    """Our answer to a higher platform's problem, with photos (ids of photos here: the
    answerer's own uploads, or those of our unit's accepted answer when relayed): kept
    here and queued to go up."""
    if actor.role not in ANSWERERS:
        raise PermissionDenied("only the supervision centre answers the higher platform")
    text, photos = clean_reply(ReplyInput(measures=measures, done=done, photo_ids=photo_ids))
    with writing(session):
        if actor.user_id is not None:
            require_own_photos(session, actor, photos)
        elif photos:
            found = set(session.scalars(select(Photo.id).where(Photo.id.in_(photos))))
            if set(photos) - found:
                raise InvalidInput(
                    Msg(
                        "unknown photo id(s): {choices}",
                        choices=", ".join(sorted(set(photos) - found)),
                    ),
                    field="photo_ids",
                )
        problem = session.get(ExchangeProblem, problem_id, with_for_update=True)
        if problem is None:
            raise NotFound(Msg("there is no problem {id} of the higher platform", id=problem_id))
        waiting = session.scalar(
            select(ExchangePush.id).where(
                ExchangePush.problem_id == problem.id, ExchangePush.state == PENDING
            )
        )
        if problem.external_status not in AWAITING or waiting is not None:
            raise Conflict(
                "this problem is not waiting for an answer", status=problem.external_status
            )
        now = clock.now()
        problem.measures = text
        problem.done = bool(done)
        problem.answered_at = now
        problem.answered_by_id = actor.user_id
        problem.answer_count += 1
        problem.updated_at = now
        link = session.get(ExchangeLink, problem.link_id)
        assert link is not None
        session.add(
            ExchangePush(
                link_id=problem.link_id,
                case_id=None,
                event_id=None,
                problem_id=problem.id,
                update_id=f"duban-{link.name}-p{problem.id}-{problem.answer_count}"[:64],
                state=PENDING,
                status=ANSWER_STATUS,
                description=text,
                photo_ids=photos,
                attempts=0,
                next_try_at=now,
                created_at=now,
                extra={"done": bool(done)},
            )
        )
    return problem


def post_answer(
    session: Session, push: ExchangePush, client: httpx.Client, store: PhotoStore
) -> str | None:
    """Send one answer up with its photos; the problem's id there. Nothing is posted
    when the higher platform already has this answer (a retry after a lost reply).

    Raises:
        ExchangeUnauthorized, ExchangeUnavailable, ExchangeRefused: as :func:`_staff_call`.
    """
    problem = session.get(ExchangeProblem, push.problem_id)
    assert problem is not None
    path = f"supervision-orders/{problem.external_order_id}"
    order = _staff_call(client, "GET", path)
    there = next(
        (
            p
            for p in (order.get("problems") or [] if isinstance(order, Mapping) else [])
            if isinstance(p, Mapping) and p.get("id") == problem.external_problem_id
        ),
        None,
    )
    if there is None:
        raise ExchangeRefused(
            Msg(
                "the higher platform no longer shows problem {id} to us",
                id=problem.external_problem_id,
            )
        )
    if there.get("status") not in AWAITING and there.get("measures") == push.description:
        return str(problem.external_problem_id)  # already there
    _staff_call(
        client,
        "POST",
        f"{path}/problems/{problem.external_problem_id}/reply",
        json={
            "measures": push.description,
            "done": bool(push.extra.get("done")),
            "photo_ids": _upload_photos(session, push, client, store),
        },
    )
    return str(problem.external_problem_id)


def _upload_photos(
    session: Session, push: ExchangePush, client: httpx.Client, store: PhotoStore
) -> list[str]:
    """The ids there of the push's photos, uploading those not yet up. Each upload is
    kept at once, so a retry (after any failure later on) uploads none twice. A photo
    whose file is gone here goes without."""
    rows = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(push.photo_ids)))}
    sent: dict[str, str] = dict(push.extra.get(CITY_PHOTOS) or {})
    for photo_id in push.photo_ids:
        photo = rows.get(photo_id)
        if photo_id in sent or photo is None:
            continue
        try:
            data = store.get(photo.storage_key)
        except FileNotFoundError:
            continue
        uploaded = _staff_call(
            client, "POST", "photos", files={"file": (f"{photo.id}.jpg", data, photo.content_type)}
        )
        if not isinstance(uploaded, Mapping) or not uploaded.get("id"):
            raise ExchangeRefused(Msg("the higher platform did not take photo {id}", id=photo_id))
        sent[photo_id] = str(uploaded["id"])
        with writing(session):
            push.extra = {**push.extra, CITY_PHOTOS: dict(sent)}
    return [sent[p] for p in push.photo_ids if p in sent]


def city_problems(session: Session, link: ExchangeLink) -> list[ExchangeProblem]:
    """The link's problems, newest first."""
    return list(
        session.scalars(
            select(ExchangeProblem)
            .where(ExchangeProblem.link_id == link.id)
            .order_by(ExchangeProblem.id.desc())
        )
    )
