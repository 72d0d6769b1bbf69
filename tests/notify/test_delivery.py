"""Notifications end to end against real servers: an email received by a local SMTP
server, webhooks and gateway messages by a local HTTP server — only after commit, never
for a rolled-back change — retries with a record of each attempt."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban import notify
from duban.adapters.senders import GatewaySender, SmtpSender, WebhookSender, signature
from duban.cases.actions import NewCase
from duban.cases.public import report_as_citizen
from duban.cases.workflow import Action, Source
from duban.handover.policy import shipped_data
from duban.handover.service import answer_by_link, load_list, transfers_of
from duban.kernel.ports import Sender
from duban.kernel.unitofwork import writing
from duban.notify.models import Notification, NotificationAttempt
from duban.notify.policy import notify_policy
from duban.notify.rules import DeliveryStatus, Retry
from tests.factories.cases import LAT, LON, dispatched_case, filed_case
from tests.factories.supervision import order
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.notify.servers import http_server, smtp_server


class Boom(Exception):
    pass


def _deliver(
    factory: sessionmaker[Session], clock: FixedClock, senders: dict[str, Sender], **kw: object
) -> notify.DeliveryReport:
    with factory() as session:
        return notify.deliver_due(
            session, senders=senders, clock=clock, base_url="https://duban.example", **kw
        )


def _email_for(world: World, name: str, address: str) -> None:
    notify.set_preferences(
        world.session,
        actor=world.actor(name),
        channels=["email"],
        email=address,
        now=world.clock.now(),
    )


def _rows(factory: sessionmaker[Session]) -> list[Notification]:
    with factory() as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
        session.expunge_all()
        return rows


def test_a_dispatch_emails_the_unit_only_after_commit(world: World) -> None:
    _email_for(world, "handler", "handler@szgc.example")
    case = filed_case(world)
    with smtp_server() as (port, inbox):
        smtp = {"email": SmtpSender("127.0.0.1", port, sender="duban@example.org")}
        with writing(world.session):
            world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
            # Written, not committed: a worker (another connection) sees nothing to send.
            assert _rows(world.session_factory) == []
            assert world.session.scalars(select(Notification)).all() != []
        assert inbox == []
        report = _deliver(world.session_factory, world.clock, smtp)
        assert report.sent == 1
        assert len(inbox) == 1
    mail = inbox[0]
    assert mail["To"] == "handler@szgc.example"
    assert case.code in mail["Subject"]
    assert "新任务" in mail["Subject"]
    assert f"https://duban.example/cases/{case.id}" in mail.get_content()
    (row,) = _rows(world.session_factory)
    assert row.status == DeliveryStatus.SENT
    assert row.attempts == 1
    assert row.body == mail.get_content().strip()


def test_a_rolled_back_change_sends_nothing(world: World) -> None:
    _email_for(world, "handler", "handler@szgc.example")
    case = filed_case(world)
    with smtp_server() as (port, inbox), http_server() as hook:
        notify.add_subscription(
            world.session, name="12345", url=hook.url, events=["case.*"], now=world.clock.now()
        )
        senders: dict[str, Sender] = {
            "email": SmtpSender("127.0.0.1", port, sender="duban@example.org"),
            "webhook": WebhookSender(),
        }

        def dispatch_then_fail() -> None:
            with writing(world.session):
                world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
                raise Boom

        with pytest.raises(Boom):
            dispatch_then_fail()
        assert _rows(world.session_factory) == []
        assert _deliver(world.session_factory, world.clock, senders).sent == 0
        assert inbox == []
        assert hook.requests == []


def test_a_signed_webhook_arrives_after_commit(world: World) -> None:
    with http_server() as hook:
        _, secret = notify.add_subscription(
            world.session,
            name="12345",
            url=hook.url,
            events=["case.dispatch"],
            now=world.clock.now(),
        )
        case = dispatched_case(world)
        assert hook.requests == []  # nothing is sent by the change itself
        report = _deliver(world.session_factory, world.clock, {"webhook": WebhookSender()})
        assert report.sent == 1  # only the dispatch matches the subscription
    (got,) = hook.requests
    assert got.headers["x-duban-event"] == "case.dispatch"
    stamp = int(got.headers["x-duban-timestamp"])
    expected = hmac.new(
        secret.encode(), f"{stamp}.".encode() + got.body, hashlib.sha256
    ).hexdigest()
    assert got.headers["x-duban-signature"] == f"sha256={expected}"
    assert got.headers["x-duban-signature"] == signature(secret, stamp, got.body)
    assert got.json()["case"] == case.code
    assert got.json()["status"] == "dispatched"


def test_a_failing_endpoint_is_retried_with_backoff_and_each_attempt_recorded(
    world: World, clock: FixedClock
) -> None:
    with http_server() as hook:
        notify.add_subscription(
            world.session, name="x", url=hook.url, events=["case.dispatch"], now=clock.now()
        )
        dispatched_case(world)
        hook.statuses = [500, 503]
        senders: dict[str, Sender] = {"webhook": WebhookSender()}
        assert _deliver(world.session_factory, clock, senders).failed == 1
        # Not due again before its backoff (30 s after the first failure).
        clock.advance(seconds=29)
        assert _deliver(world.session_factory, clock, senders).failed == 0
        clock.advance(seconds=1)
        assert _deliver(world.session_factory, clock, senders).failed == 1
        clock.advance(seconds=59)  # the second wait is twice the first
        assert _deliver(world.session_factory, clock, senders).sent == 0
        clock.advance(seconds=1)
        assert _deliver(world.session_factory, clock, senders).sent == 1
        assert len(hook.requests) == 3
    with world.session_factory() as session:
        attempts = session.scalars(
            select(NotificationAttempt).order_by(NotificationAttempt.number)
        ).all()
        assert [(a.number, a.ok, a.error_code) for a in attempts] == [
            (1, False, "http_500"),
            (2, False, "http_503"),
            (3, True, None),
        ]
        assert attempts[1].attempted_at - attempts[0].attempted_at == timedelta(seconds=30)


def test_out_of_attempts_a_message_is_given_up(world: World, clock: FixedClock) -> None:
    policy = notify_policy()
    short = type(policy)(
        retry=Retry(max_attempts=2, first_retry=timedelta(seconds=1)),
        lease=policy.lease,
        batch=policy.batch,
    )
    with http_server() as hook:
        notify.add_subscription(
            world.session, name="x", url=hook.url, events=["case.dispatch"], now=clock.now()
        )
        dispatched_case(world)
        hook.statuses = [500, 500, 500]
        senders: dict[str, Sender] = {"webhook": WebhookSender()}
        assert _deliver(world.session_factory, clock, senders, policy=short).failed == 1
        clock.advance(seconds=1)
        assert _deliver(world.session_factory, clock, senders, policy=short).dead == 1
        clock.advance(hours=1)
        assert _deliver(world.session_factory, clock, senders, policy=short).dead == 0
    (row,) = _rows(world.session_factory)
    assert row.status == DeliveryStatus.DEAD
    assert row.attempts == 2
    assert row.last_error == "http_500"


def test_a_citizen_who_left_a_phone_hears_received_dispatched_fixed(world: World) -> None:
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN,
            category_code="E0102",
            lat=LAT,
            lon=LON,
            description="门口垃圾",
            reporter_phone="13812345678",
        ),
    )
    code = receipt.tracking_code
    with http_server() as gateway:
        senders: dict[str, Sender] = {"sms": GatewaySender(gateway.url, token="t0k")}
        assert _deliver(world.session_factory, world.clock, senders).sent == 1
        case = receipt.case
        world.act(case, Action.ASSIGN, "operator", collector="collector")
        world.act(case, Action.VERIFY, "collector")
        world.act(case, Action.FILE, "shift_lead")
        world.act(case, Action.DISPATCH, "dispatcher", unit="SZGC")
        assert _deliver(world.session_factory, world.clock, senders).sent == 1
        world.act(case, Action.ACCEPT, "handler")
        world.act(case, Action.FEEDBACK, "handler", photo_ids=[world.photo()])
        world.act(case, Action.ASSIGN, "operator", collector="collector")
        world.act(case, Action.CHECK, "collector", passed=True)
        world.act(case, Action.CLOSE, "shift_lead")
        assert _deliver(world.session_factory, world.clock, senders).sent == 1
    first, second, third = (r.json() for r in gateway.requests)
    assert third["template"] == "fixed"
    assert "请评价" in third["text"]
    assert f"https://duban.example/track/{code}" in third["text"]
    assert gateway.requests[0].headers["authorization"] == "Bearer t0k"
    assert first["channel"] == "sms"
    assert first["to"] == "13812345678"
    assert first["template"] == "received"
    assert f"https://duban.example/track/{code}" in first["text"]
    assert first["params"]["code"] == receipt.case.code
    assert second["template"] == "dispatched"
    assert f"/track/{code}" in second["params"]["link"]
    assert second["params"]["unit"] == world.unit.name


def test_an_unconfigured_channel_is_recorded_not_retried(world: World) -> None:
    _email_for(world, "handler", "handler@szgc.example")
    dispatched_case(world)
    report = _deliver(world.session_factory, world.clock, {})
    assert report.dead == 1
    assert report.errors == {"channel_not_configured": 1}


def test_a_hand_over_sends_the_body_its_signed_answer_link(
    world: World, session: Session, clock: FixedClock
) -> None:
    load_list(session, shipped_data(), now=clock.now())
    case = filed_case(
        world, category="E0505", condition_code="E050502", description="人行道上停满了汽车"
    )
    world.act(case, Action.TRANSFER, "dispatcher", note="请交警处理")
    secret = "handover-test-secret-0123456789abcdef"
    with smtp_server() as (port, inbox), http_server() as gateway:
        senders: dict[str, Sender] = {
            "email": SmtpSender("127.0.0.1", port, sender="duban@example.org"),
            "sms": GatewaySender(gateway.url),
        }
        report = _deliver(world.session_factory, clock, senders, secret=secret)
        assert report.sent == 2
    (mail,) = inbox
    assert mail["To"] == "jjzd@example.gov.cn"
    assert "移交" in mail["Subject"]
    (sms,) = (r.json() for r in gateway.requests)
    assert sms["to"] == "0374-2961122"
    assert sms["template"] == "handover"
    link = sms["params"]["link"]
    assert link in mail.get_content()
    token = link.rsplit("/handover/", 1)[1]
    answer_by_link(session, secret=secret, token=token, answer="accept", clock=clock)  # type: ignore[arg-type]
    assert transfers_of(session, case.id)[0].state == "accepted"


def test_a_supervision_order_emails_its_units_handlers(world: World) -> None:
    _email_for(world, "handler", "handler@szgc.example")
    made = order(world, [dispatched_case(world)])
    with world.session_factory() as other:
        kinds = other.scalars(select(Notification.kind).order_by(Notification.id)).all()
    assert kinds == ["new_task", "supervision_order"]
    with smtp_server() as (port, inbox):
        smtp = {"email": SmtpSender("127.0.0.1", port, sender="duban@example.org")}
        assert _deliver(world.session_factory, world.clock, smtp).sent == 2
    mail = inbox[1]
    assert made.number in mail["Subject"]
    assert f"https://duban.example/supervision/{made.id}" in mail.get_content()
