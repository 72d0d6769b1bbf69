"""Writing the outbox: the messages a change causes, in the change's own transaction.

The event writers of ``cases`` call :func:`case_changed` for every event they write (and
:func:`cases_reported` for new cases), the deadline sweep :func:`warn_deadline`. Each
adds :class:`~duban.notify.models.Notification` rows to the session; they commit — or
roll back — with the change, and the worker sends them after commit. A commit that wrote
messages wakes the worker at once (:func:`duban.notify.delivery.wake`).

Replayed history (``duban import history``) runs :func:`silenced`: its events are not
news, so they queue nothing — no citizen, staff, body or webhook message — though a new
case's contacts are still kept, for what happens to it live afterwards.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.kernel.db.prepared import Prepared, insert_all
from duban.kernel.roles import Role
from duban.kernel.unitofwork import after_commit
from duban.notify.models import CaseContact, Notification, NotifyPreference, WebhookSubscription
from duban.notify.rules import (
    CITIZEN_KINDS,
    ORDER_NOTICE_ACTIONS,
    Channel,
    DeliveryStatus,
    Kind,
    staff_kind,
)

_WAKE_HOOKED: Final = "duban.notify.wake_hooked"
_SUBSCRIPTIONS: Final = "duban.notify.subscriptions"
_SILENT: Final = "duban.notify.silent"


@contextmanager
def silenced(session: Session) -> Iterator[None]:
    """Within the block, the case events ``session`` writes queue no message (replayed
    history: an old case's report, dispatch or closing is not news to anyone)."""
    before = session.info.get(_SILENT, False)
    session.info[_SILENT] = True
    try:
        yield
    finally:
        session.info[_SILENT] = before


@dataclass(frozen=True)
class CaseChange:
    """What the outbox needs to know of a case and the event just written on it."""

    case_id: int
    code: str
    action: str
    to_status: str
    at: datetime
    category_code: str = ""
    address: str = ""
    unit_id: int | None = None
    assignee_id: int | None = None
    reporter_id: int | None = None
    reporter_phone: str | None = None
    due_at: datetime | None = None
    note: str = ""
    payload: Mapping[str, Any] | None = None

    @classmethod
    def of(
        cls,
        case: Any,
        *,
        action: str,
        to_status: str,
        at: datetime,
        note: str = "",
        payload: Mapping[str, Any] | None = None,
    ) -> CaseChange:
        """The change of ``case`` (a Case, or a mapping of its column values)."""

        def get(name: str) -> Any:
            if isinstance(case, Mapping):
                return case.get(name)
            return getattr(case, name, None)

        return cls(
            case_id=int(get("id")),
            code=str(get("code") or ""),
            action=action,
            to_status=to_status,
            at=at,
            category_code=str(get("category_code") or ""),
            address=str(get("address") or ""),
            unit_id=get("unit_id"),
            assignee_id=get("assignee_id"),
            reporter_id=get("reporter_id"),
            reporter_phone=get("reporter_phone"),
            due_at=get("due_at"),
            note=note,
            payload=payload,
        )

    def params(self) -> dict[str, Any]:
        """The message parameters this change fills in (JSON values)."""
        return {
            "code": self.code,
            "category_code": self.category_code,
            "address": self.address,
            "unit_id": self.unit_id,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "note": self.note,
            "action": self.action,
            "to_status": self.to_status,
        }


def _wake_after_commit(session: Session) -> None:
    """Wake the worker once this transaction commits (one hook per transaction; a
    rolled-back one drops its hook, and the next transaction registers its own)."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_WAKE_HOOKED) is transaction:
        return
    session.info[_WAKE_HOOKED] = transaction

    def wake() -> None:
        from duban.notify.delivery import wake as wake_worker

        wake_worker()

    after_commit(session, wake)


def enqueue(
    session: Session,
    *,
    kind: str,
    channel: Channel,
    address: str,
    at: datetime,
    params: Mapping[str, Any],
    locale: str = "zh-CN",
    user_id: int | None = None,
    case_id: int | None = None,
    subscription_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Add one message to the outbox (in the caller's transaction)."""
    row = Notification(
        **_notification_row(
            kind=kind, channel=channel, address=address, at=at, params=params, locale=locale,
            user_id=user_id, case_id=case_id, subscription_id=subscription_id,
            dedupe_key=dedupe_key,
        )
    )  # fmt: skip
    session.add(row)
    _wake_after_commit(session)
    return row


# --------------------------------------------------------------------------- addresses


def _addresses(pref: NotifyPreference, user: User) -> Iterable[tuple[Channel, str]]:
    for name in pref.channels:
        if name == Channel.EMAIL and pref.email:
            yield Channel.EMAIL, pref.email
        elif name == Channel.SMS and (pref.phone or user.phone):
            yield Channel.SMS, str(pref.phone or user.phone)
        elif name == Channel.WECHAT and pref.wechat_openid:
            yield Channel.WECHAT, pref.wechat_openid


def _people(session: Session, users: list[User]) -> list[tuple[User, NotifyPreference]]:
    if not users:
        return []
    prefs = {
        p.user_id: p
        for p in session.scalars(
            select(NotifyPreference).where(NotifyPreference.user_id.in_([u.id for u in users]))
        )
    }
    return [(u, prefs[u.id]) for u in users if u.id in prefs]


def _unit_staff(session: Session, unit_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User).where(
                User.unit_id == unit_id,
                User.role == Role.HANDLER,
                User.is_active.is_(True),
            )
        )
    )


def notify_users(
    session: Session,
    users: list[User],
    *,
    kind: Kind,
    at: datetime,
    params: Mapping[str, Any],
    case_id: int | None = None,
    dedupe: str | None = None,
) -> int:
    """Queue ``kind`` to each of ``users`` on each channel they chose; the count queued."""
    count = 0
    for user, pref in _people(session, users):
        for channel, address in _addresses(pref, user):
            key = f"{dedupe}:{user.id}:{channel.value}" if dedupe else None
            enqueue(
                session,
                kind=kind,
                channel=channel,
                address=address,
                at=at,
                params=params,
                locale=pref.locale,
                user_id=user.id,
                case_id=case_id,
                dedupe_key=key,
            )
            count += 1
    return count


# --------------------------------------------------------------------------- case events


def _subscriptions(session: Session) -> list[tuple[int, str, list[str]]]:
    """The active webhook subscriptions, read once per unit of work."""
    cached = session.info.get(_SUBSCRIPTIONS)
    if cached is not None and cached[0] is session.get_transaction():
        return list(cached[1])
    subs = [
        (s.id, s.url, list(s.events))
        for s in session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.is_active.is_(True))
        )
    ]
    session.info[_SUBSCRIPTIONS] = (session.get_transaction(), subs)
    return subs


def _webhooks(session: Session, change: CaseChange) -> None:
    rows = _webhook_rows(session, change)
    if rows:
        _INSERT_NOTIFICATIONS.run_many(session, rows)
        _wake_after_commit(session)


def _citizen(session: Session, change: CaseChange, kind: Kind) -> None:
    contacts = session.scalars(
        select(CaseContact).where(CaseContact.case_id == change.case_id)
    ).all()
    for contact in contacts:
        enqueue(
            session,
            kind=kind,
            channel=contact.channel,
            address=contact.address,
            at=change.at,
            params=change.params(),
            locale=contact.locale,
            user_id=contact.user_id,
            case_id=change.case_id,
        )


_CONTACTS = cast(Table, CaseContact.__table__)
_NOTIFICATIONS = cast(Table, Notification.__table__)
# The new cases' rows go in set-based, compiled once (every column given, NULL or not).
_INSERT_CONTACTS = Prepared(insert_all(_CONTACTS, but=("id",)))
_INSERT_NOTIFICATIONS = Prepared(insert_all(_NOTIFICATIONS, but=("id",)))


def _citizen_people(
    session: Session, reporter_ids: Iterable[int]
) -> dict[int, tuple[User, NotifyPreference]]:
    """The citizens among ``reporter_ids`` with their preferences, in one query."""
    ids = sorted(set(reporter_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(User, NotifyPreference)
        .join(NotifyPreference, NotifyPreference.user_id == User.id)
        .where(User.id.in_(ids), User.role == Role.CITIZEN)
    ).all()
    return {user.id: (user, pref) for user, pref in rows}


def _contact_rows(
    change: CaseChange, people: Mapping[int, tuple[User, NotifyPreference]]
) -> list[dict[str, Any]]:
    """A new case's citizen contacts: the channels a citizen's account chose and the
    phone they left (SMS), each address once."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Channel, str]] = set()
    found = people.get(change.reporter_id) if change.reporter_id is not None else None
    if found is not None:
        user, pref = found
        for channel, address in _addresses(pref, user):
            seen.add((channel, address))
            rows.append(
                {"channel": channel, "address": address, "user_id": user.id, "locale": pref.locale}
            )
    phone = (change.reporter_phone or "").strip()
    if phone and (Channel.SMS, phone) not in seen:
        rows.append({"channel": Channel.SMS, "address": phone, "user_id": None, "locale": "zh-CN"})
    for row in rows:
        row.update(case_id=change.case_id, link=None)
    return rows


def _notification_row(
    *,
    kind: str,
    channel: Channel,
    address: str,
    at: datetime,
    params: Mapping[str, Any],
    locale: str = "zh-CN",
    user_id: int | None = None,
    case_id: int | None = None,
    subscription_id: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """The outbox row :func:`enqueue` adds, as column values (for a set-based insert)."""
    return {
        "kind": kind,
        "channel": channel,
        "address": address,
        "locale": locale,
        "user_id": user_id,
        "case_id": case_id,
        "subscription_id": subscription_id,
        "params": dict(params),
        "dedupe_key": dedupe_key,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "locked_until": None,
        "subject": "",
        "body": "",
        "last_error": None,
        "created_at": at,
        "sent_at": None,
    }


def _webhook_rows(session: Session, change: CaseChange) -> list[dict[str, Any]]:
    """The outbox rows of the webhook subscriptions ``change`` matches."""
    event = f"case.{change.action}"
    return [
        _notification_row(
            kind=Kind.WEBHOOK,
            channel=Channel.WEBHOOK,
            address=url,
            at=change.at,
            params={
                "event": event,
                "case": change.code,
                "action": change.action,
                "status": change.to_status,
                "occurred_at": change.at.isoformat(),
                "unit_id": change.unit_id,
            },
            case_id=change.case_id,
            subscription_id=sub_id,
        )
        for sub_id, url, patterns in _subscriptions(session)
        if any(fnmatch.fnmatchcase(event, p) for p in patterns or ["*"])
    ]


def case_changed(session: Session, change: CaseChange) -> None:
    """Queue what one case event tells people: the citizen who left a contact, the staff
    it gives work to, the outside body a hand-over goes to, and webhook subscribers."""
    if change.action == "report":
        cases_reported(session, [change])
        return
    if session.info.get(_SILENT):
        return
    kind = CITIZEN_KINDS.get(change.action)
    if kind is not None:
        _citizen(session, change, kind)
    staff = staff_kind(change.action)
    if staff is not None:
        users: list[User] = []
        if change.action == "assign" and change.assignee_id is not None:
            assignee = session.get(User, change.assignee_id)
            users = [assignee] if assignee is not None else []
        elif change.unit_id is not None:
            users = _unit_staff(session, change.unit_id)
        notify_users(
            session, users, kind=staff, at=change.at, params=change.params(), case_id=change.case_id
        )
    if change.action == "transfer" and change.payload:
        _handover(session, change)
    _webhooks(session, change)


def cases_reported(session: Session, changes: Iterable[CaseChange]) -> None:
    """What new cases (``report`` events written together: intake, imports) tell people,
    set-based: their citizen contacts kept, the receipt to each contact and the webhooks
    queued, one INSERT per table for the lot (built from the rows in hand, never read
    back), one query for the citizens' preferences."""
    changes = list(changes)
    silent = bool(session.info.get(_SILENT))
    people = _citizen_people(session, (c.reporter_id for c in changes if c.reporter_id))
    contacts: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for change in changes:
        mine = _contact_rows(change, people)
        contacts += mine
        if silent:  # replayed history: the contacts are kept, nothing is news
            continue
        kind = CITIZEN_KINDS.get(change.action)
        if kind is not None:
            params = change.params()
            messages += [
                _notification_row(
                    kind=kind,
                    channel=c["channel"],
                    address=c["address"],
                    at=change.at,
                    params=params,
                    locale=c["locale"],
                    user_id=c["user_id"],
                    case_id=change.case_id,
                )
                for c in mine
            ]
        messages += _webhook_rows(session, change)
    _INSERT_CONTACTS.run_many(session, contacts)
    if messages:
        _INSERT_NOTIFICATIONS.run_many(session, messages)
        _wake_after_commit(session)


def remember_tracking_link(session: Session, *, case_id: int, link: str) -> None:
    """Keep the tracking link a citizen got with their report, for later messages."""
    for contact in session.scalars(select(CaseContact).where(CaseContact.case_id == case_id)):
        contact.link = link


def _handover(session: Session, change: CaseChange) -> None:
    payload = change.payload or {}
    body = session.scalars(select(Unit).where(Unit.code == str(payload.get("body")))).first()
    if body is None:
        return
    params = {
        **change.params(),
        "unit_id": body.id,
        "due_at": payload.get("reply_due_at"),
        "transfer_case_id": change.case_id,
    }
    for channel, address in ((Channel.EMAIL, body.email), (Channel.SMS, body.phone)):
        if address:
            enqueue(
                session,
                kind=Kind.HANDOVER,
                channel=channel,
                address=address,
                at=change.at,
                params=params,
                case_id=change.case_id,
            )


# --------------------------------------------------------------------------- warnings


def warn_deadline(session: Session, change: CaseChange) -> int:
    """Queue the yellow-light warning of a case to its unit's staff, once per case and
    deadline (the dedupe key holds the deadline: an extension warns again)."""
    if change.unit_id is None or change.due_at is None:
        return 0
    dedupe = f"warn:{change.case_id}:{change.due_at.isoformat()}"
    return notify_users(
        session,
        _unit_staff(session, change.unit_id),
        kind=Kind.DEADLINE_WARNING,
        at=change.at,
        params=change.params(),
        case_id=change.case_id,
        dedupe=dedupe,
    )


# --------------------------------------------------------------------------- 督办单


def order_notice(
    session: Session,
    *,
    order_id: int,
    number: str,
    title: str,
    unit_ids: list[int],
    action: str,
    note: str,
    due_at: datetime | None,
    at: datetime,
) -> int:
    """Queue the notice of a supervision order's event (its issue, a ladder step) to the
    handlers of its units; the count queued. Other events tell nobody."""
    if action not in ORDER_NOTICE_ACTIONS:
        return 0
    params = {
        "code": number,
        "title": title,
        # The ladder step's label (催办提醒 …); an issue needs none (its note is the number).
        "note": "" if action == "issue" else note,
        "action": action,
        "due_at": due_at.isoformat() if due_at else None,
        "path": f"/supervision/{order_id}",
    }
    users = [u for unit_id in unit_ids for u in _unit_staff(session, unit_id)]
    return notify_users(session, users, kind=Kind.SUPERVISION_ORDER, at=at, params=params)
