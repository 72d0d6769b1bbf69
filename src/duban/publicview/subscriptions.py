"""Subscriptions to an area by email: subscribe, confirm (double opt-in), unsubscribe, and
the messages to send.

Nothing here sends anything itself. :func:`confirmation_message` and :func:`subscriber_messages`
produce the payloads (recipient, subject, body from the catalogue, links);
:func:`queue_email` writes one to the notifications outbox (``duban.notify``) in the
caller's transaction, and the worker delivers it after commit. :func:`subscribe` queues
the confirmation with the subscription; :func:`alert_subscribers` — "notify the
subscribers of the case's area about this case", run for new reports by the worker's
``public_alerts`` job — queues the alerts, once per subscription and case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from duban import notify
from duban.cases import STATUS_LABELS, Case
from duban.kernel.context import Clock
from duban.kernel.errors import InvalidInput, NotFound
from duban.kernel.unitofwork import writing
from duban.places import Region
from duban.publicview.listing import public_condition
from duban.publicview.messages import text
from duban.publicview.models import PublicSubscription
from duban.publicview.policy import PublicPolicy, public_policy
from duban.publicview.rules import (
    Area,
    AreaKind,
    BadLink,
    LinkPurpose,
    OutgoingEmail,
    normalize_email,
    parse_area,
    read_link,
    sign_link,
)
from duban.reference import Category, load_policy

LANGS = ("zh", "en")


def area_name(session: Session, area: Area, lang: str) -> str:
    """What an area is called in an email or a feed title."""
    if area.kind == AreaKind.REGION:
        row = session.execute(
            select(Region.name, Region.name_en).where(
                Region.code == area.region_code, Region.valid_to.is_(None)
            )
        ).first()
        if row is None:
            return area.region_code or ""
        return str((row.name_en if lang == "en" else None) or row.name)
    if area.kind == AreaKind.POINT:
        return text("within {radius} m of the place you chose", lang, radius=area.radius_m)
    return text("the area you chose on the map", lang)


def _expires(subscription: PublicSubscription, policy: PublicPolicy) -> int:
    return int((subscription.created_at + timedelta(days=policy.confirm_valid_days)).timestamp())


def confirm_token(secret: str, subscription: PublicSubscription) -> str:
    """The token of the subscription's confirmation link (it expires)."""
    return sign_link(
        secret, LinkPurpose.CONFIRM, subscription.id, _expires(subscription, public_policy())
    )


def unsubscribe_token(secret: str, subscription: PublicSubscription) -> str:
    """The token of the subscription's unsubscribe link (it does not expire)."""
    return sign_link(secret, LinkPurpose.UNSUBSCRIBE, subscription.id)


def subscribe(
    session: Session,
    *,
    clock: Clock,
    email: str,
    area: Area,
    lang: str,
    secret: str,
    base_url: str,
) -> OutgoingEmail:
    """Ask to follow ``area``: a pending subscription, and its confirmation email queued
    in the outbox in the same transaction (returned too).

    Asked again for the same address and area, the same subscription answers (and the
    email goes again); the page says the same either way, so it tells nobody whether an
    address is subscribed.
    """
    address = normalize_email(email)
    if not address:
        raise InvalidInput("Please give an email address.", field="email")
    with writing(session):
        found = session.scalars(
            select(PublicSubscription).where(
                PublicSubscription.email == address,
                PublicSubscription.area == area.spec,
                PublicSubscription.unsubscribed_at.is_(None),
            )
        ).first()
        if found is None:
            box = area.box()
            found = PublicSubscription(
                email=address,
                area=area.spec,
                region_code=area.region_code or None,
                south=box[0] if box else None,
                west=box[1] if box else None,
                north=box[2] if box else None,
                east=box[3] if box else None,
                lang=lang if lang in LANGS else "zh",
                created_at=clock.now(),
            )
            session.add(found)
        session.flush()
        message = confirmation_message(session, found, secret=secret, base_url=base_url)
        queue_email(session, message, kind=notify.Kind.AREA_CONFIRMATION, at=clock.now())
    return message


def _by_link(
    session: Session, *, secret: str, purpose: LinkPurpose, token: str, now: datetime
) -> PublicSubscription:
    try:
        subscription_id = read_link(secret, purpose, token, int(now.timestamp()))
    except BadLink as err:
        raise NotFound("This link is not valid or has expired.") from err
    found = session.get(PublicSubscription, subscription_id)
    if found is None:
        raise NotFound("This link is not valid or has expired.")
    return found


def check_link(
    session: Session, *, secret: str, purpose: LinkPurpose, token: str, now: datetime
) -> PublicSubscription:
    """The subscription a link names (for the page that asks "confirm?"); NotFound if
    the link is forged or expired."""
    return _by_link(session, secret=secret, purpose=purpose, token=token, now=now)


def confirm_subscription(
    session: Session, *, clock: Clock, secret: str, token: str
) -> PublicSubscription:
    """The link in the confirmation email was opened: the subscription is active (again
    opened: nothing changes)."""
    with writing(session):
        found = _by_link(
            session, secret=secret, purpose=LinkPurpose.CONFIRM, token=token, now=clock.now()
        )
        if found.unsubscribed_at is not None:
            raise NotFound("This link is not valid or has expired.")
        if found.confirmed_at is None:
            found.confirmed_at = clock.now()
    return found


def unsubscribe(session: Session, *, clock: Clock, secret: str, token: str) -> PublicSubscription:
    """Stop the emails of one subscription (the link of every alert; once is enough)."""
    with writing(session):
        found = _by_link(
            session, secret=secret, purpose=LinkPurpose.UNSUBSCRIBE, token=token, now=clock.now()
        )
        if found.unsubscribed_at is None:
            found.unsubscribed_at = clock.now()
    return found


def confirmation_message(
    session: Session, subscription: PublicSubscription, *, secret: str, base_url: str
) -> OutgoingEmail:
    """The confirmation email of a pending subscription."""
    lang = subscription.lang
    area = parse_area(subscription.area)
    name = area_name(session, area, lang)
    url = f"{base_url.rstrip('/')}/public/confirm/{confirm_token(secret, subscription)}"
    return OutgoingEmail(
        recipient=subscription.email,
        subject=text("Confirm your subscription: reports in {area}", lang, area=name),
        body=text(
            "Hello,\n\nsomeone (we hope you) asked to be told by email about new reports of "
            "problems in {area}.\n\nTo confirm, open this link within {days} days:\n"
            "{confirm_url}\n\nIf it was not you, ignore this email: nothing will be sent."
            "\n\n— Duban, city-management supervision",
            lang,
            area=name,
            days=public_policy().confirm_valid_days,
            confirm_url=url,
        ),
        links={"confirm": url},
        subscription_id=subscription.id,
        lang=lang,
    )


def subscribers_of(session: Session, case: Case) -> list[PublicSubscription]:
    """The active subscriptions whose area holds ``case`` (an index lookup by the case's
    region codes, and by the boxes around the place; the exact area is checked after)."""
    codes = [case.district_code, case.street_code, case.community_code, case.grid_code]
    known = [c for c in codes if c]
    near = and_(
        PublicSubscription.south <= case.lat,
        PublicSubscription.north >= case.lat,
        PublicSubscription.west <= case.lon,
        PublicSubscription.east >= case.lon,
    )
    candidates = session.scalars(
        select(PublicSubscription)
        .where(
            PublicSubscription.confirmed_at.is_not(None),
            PublicSubscription.unsubscribed_at.is_(None),
            or_(PublicSubscription.region_code.in_(known), near) if known else near,
        )
        .order_by(PublicSubscription.id)
    ).all()
    return [
        s
        for s in candidates
        if parse_area(s.area).covers(lat=case.lat, lon=case.lon, region_codes=codes)
    ]


def subscriber_messages(
    session: Session, *, case_id: int, secret: str, base_url: str
) -> list[OutgoingEmail]:
    """Notify the subscribers of the case's area about the case: one email each, in the
    subscriber's language, with the case's public page, the area's page and the
    unsubscribe link. None when the public may not see the case.

    What :func:`alert_subscribers` queues for a new report (see README, "The public
    view").
    """
    policy = public_policy()
    case = session.scalars(select(Case).where(Case.id == case_id, public_condition(policy))).first()
    if case is None:
        return []
    category = session.get(Category, case.category_code)
    tz = load_policy(session).tz
    base = base_url.rstrip("/")
    out: list[OutgoingEmail] = []
    for sub in subscribers_of(session, case):
        lang = sub.lang
        area = parse_area(sub.area)
        name = area_name(session, area, lang)
        labels = STATUS_LABELS[case.status]
        category_name = (
            (category.name if lang != "en" else (category.name_en or category.name))
            if category
            else case.category_code
        )
        links = {
            "case": f"{base}/public/{case.code}",
            "area": f"{base}/public?{area.query}",
            "unsubscribe": f"{base}/public/unsubscribe/{unsubscribe_token(secret, sub)}",
        }
        out.append(
            OutgoingEmail(
                recipient=sub.email,
                subject=text(
                    "New report in {area}: {category}", lang, area=name, category=category_name
                ),
                body=text(
                    "A new problem was reported in {area}.\n\n{category} · {status}\n{address}\n"
                    "Reported at {time}\n\nFollow it: {case_url}\nAll reports of the area: "
                    "{area_url}\n\nStop these emails: {unsubscribe_url}\n\n"
                    "— Duban, city-management supervision",
                    lang,
                    area=name,
                    category=category_name,
                    status=labels[1] if lang == "en" else labels[0],
                    address=case.address,
                    time=case.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    case_url=links["case"],
                    area_url=links["area"],
                    unsubscribe_url=links["unsubscribe"],
                ),
                links=links,
                subscription_id=sub.id,
                lang=lang,
            )
        )
    return out


def queue_email(
    session: Session,
    message: OutgoingEmail,
    *,
    kind: notify.Kind,
    at: datetime,
    case_id: int | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Write ``message`` to the notifications outbox (in the caller's transaction): the
    worker sends it as written (a pre-rendered kind of ``data/notify.yaml``)."""
    notify.enqueue(
        session,
        kind=kind,
        channel=notify.Channel.EMAIL,
        address=message.recipient,
        at=at,
        params={
            "subject": message.subject,
            "body": message.body,
            "link": message.links.get("case") or message.links.get("confirm") or "",
            "unsubscribe": message.links.get("unsubscribe", ""),
            "public_subscription_id": message.subscription_id,
        },
        locale="en" if message.lang == "en" else "zh-CN",
        case_id=case_id,
        dedupe_key=dedupe_key,
    )


def alert_key(subscription_id: int, case_id: int) -> str:
    """The outbox's dedupe key of one alert: one email per subscription and case."""
    return f"area:{subscription_id}:{case_id}"


def alert_subscribers(
    session: Session, *, case_id: int, secret: str, base_url: str, at: datetime
) -> int:
    """Queue the alerts of a new report to the subscribers of its area; the count queued.

    Idempotent: an alert already in the outbox (any state) is not queued again, and the
    outbox's unique dedupe key stops two runs racing each other. A case nobody follows
    costs two reads and no write.
    """
    messages = subscriber_messages(session, case_id=case_id, secret=secret, base_url=base_url)
    keys = {alert_key(m.subscription_id, case_id): m for m in messages}
    if not keys:
        return 0
    with writing(session):
        done = set(
            session.scalars(
                select(notify.Notification.dedupe_key).where(
                    notify.Notification.dedupe_key.in_(list(keys))
                )
            )
        )
        queued = 0
        for key, message in keys.items():
            if key in done:
                continue
            queue_email(
                session,
                message,
                kind=notify.Kind.AREA_ALERT,
                at=at,
                case_id=case_id,
                dedupe_key=key,
            )
            queued += 1
    return queued
