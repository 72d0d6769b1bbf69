"""The public view's emails go through the notifications outbox: the confirmation in the
subscription's own transaction, the alerts of new reports from the worker's
``public_alerts`` job — once per subscriber and report, however often it runs — and both
delivered to a real local SMTP server. And the exchange as a worker job."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.adapters.senders import SmtpSender
from duban.cases.workflow import CaseStatus
from duban.jobs.models import JobRun
from duban.jobs.worker import Worker, WorkerConfig
from duban.kernel.ports import Sender
from duban.kernel.unitofwork import writing
from duban.notify.models import Notification
from duban.notify.rules import Channel, DeliveryStatus, Kind
from duban.publicview.models import PublicSubscription
from duban.publicview.rules import parse_area
from duban.publicview.subscriptions import confirm_subscription, confirm_token, subscribe
from tests.factories.campaigns import EAST, WEST, make_regions, place
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.notify.servers import smtp_server

SECRET = "test-secret-for-links-0123456789"
BASE = "https://duban.example.cn"


class Boom(Exception):
    pass


def _rows(factory: sessionmaker[Session], kind: str | None = None) -> list[Notification]:
    """The outbox as another connection (a worker) sees it."""
    with factory() as session:
        query = select(Notification).order_by(Notification.id)
        if kind is not None:
            query = query.where(Notification.kind == kind)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def _subscribe(world: World, email: str, spec: str, lang: str = "zh") -> PublicSubscription:
    subscribe(
        world.session,
        clock=world.clock,
        email=email,
        area=parse_area(spec),
        lang=lang,
        secret=SECRET,
        base_url=BASE,
    )
    return world.session.scalars(
        select(PublicSubscription).where(PublicSubscription.email == email)
    ).one()


def _confirmed(world: World, email: str, spec: str, lang: str = "zh") -> PublicSubscription:
    sub = _subscribe(world, email, spec, lang)
    confirm_subscription(
        world.session, clock=world.clock, secret=SECRET, token=confirm_token(SECRET, sub)
    )
    return sub


def _worker(world: World, senders: dict[str, Sender] | None = None) -> Worker:
    return Worker(
        world.session_factory,
        clock=world.clock,
        config=WorkerConfig(senders=senders or {}, base_url=BASE, secret=SECRET, store=world.store),
    )


def test_subscribing_queues_the_confirmation_in_the_same_transaction(world: World) -> None:
    with writing(world.session):
        message = subscribe(
            world.session,
            clock=world.clock,
            email="li.si@example.cn",
            area=parse_area(f"point:{LAT},{LON},800"),
            lang="en",
            secret=SECRET,
            base_url=BASE,
        )
        # Written, not committed: a worker (another connection) sees nothing to send.
        assert _rows(world.session_factory) == []
        assert world.session.scalars(select(Notification)).all() != []
    (row,) = _rows(world.session_factory)
    assert row.kind == Kind.AREA_CONFIRMATION
    assert row.channel == Channel.EMAIL
    assert row.status == DeliveryStatus.PENDING
    assert row.address == "li.si@example.cn"
    assert row.locale == "en"
    assert row.params["subject"] == message.subject
    assert row.params["body"] == message.body
    assert row.dedupe_key is None  # asked again, the email goes again


def test_a_rolled_back_subscription_queues_no_email(world: World) -> None:
    def subscribe_then_fail() -> None:
        with writing(world.session):
            _subscribe(world, "li.si@example.cn", f"point:{LAT},{LON},800")
            raise Boom

    with pytest.raises(Boom):
        subscribe_then_fail()
    assert _rows(world.session_factory) == []
    assert world.session.scalars(select(PublicSubscription)).all() == []


def test_a_new_report_emails_each_subscriber_once_with_the_unsubscribe_link(
    world: World,
) -> None:
    make_regions(world.session)
    zh = _confirmed(world, "li.si@example.cn", f"region:{EAST}")
    en = _confirmed(world, "reader@example.org", f"point:{LAT},{LON},5000", lang="en")
    _subscribe(world, "pending@example.org", f"region:{EAST}")  # never confirmed
    elsewhere = _confirmed(world, "west@example.org", f"region:{WEST}")
    case = place(world.session, world.case_in(CaseStatus.REPORTED), EAST)

    with smtp_server() as (port, inbox):
        worker = _worker(
            world, {"email": SmtpSender("127.0.0.1", port, sender="duban@example.org")}
        )
        first = worker.run_job("public_alerts", force=True)
        second = worker.run_job("public_alerts", force=True)  # sees the case again
        assert first is not None
        assert "2 emails queued" in first
        assert second is not None
        assert "0 emails queued" in second
        alerts = _rows(world.session_factory, Kind.AREA_ALERT)
        assert sorted(r.address for r in alerts) == ["li.si@example.cn", "reader@example.org"]
        assert {r.dedupe_key for r in alerts} == {
            f"area:{zh.id}:{case.id}",
            f"area:{en.id}:{case.id}",
        }
        assert all(r.case_id == case.id for r in alerts)

        delivered = worker.run_job("deliver", force=True)
        assert delivered is not None
        assert "6 sent" in delivered  # 4 confirmations and 2 alerts
    mails = {(m["To"], m["Subject"]): m for m in inbox}
    assert len(mails) == 6
    alert_mails = [m for m in inbox if m["List-Unsubscribe"]]
    assert sorted(m["To"] for m in alert_mails) == ["li.si@example.cn", "reader@example.org"]
    for mail in alert_mails:
        body = mail.get_content()
        unsubscribe = mail["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith(f"{BASE}/public/unsubscribe/")
        assert unsubscribe in body
        assert f"{BASE}/public/{case.code}" in body
    zh_mail = next(m for m in alert_mails if m["To"] == "li.si@example.cn")
    assert zh_mail["Subject"].startswith("东大街街道有新上报问题：")
    en_mail = next(m for m in alert_mails if m["To"] == "reader@example.org")
    assert en_mail["Subject"].startswith("New report in ")
    assert elsewhere.email not in {m["To"] for m in alert_mails}
    # The text sent is kept with the row, as for every message.
    (sent,) = [r for r in _rows(world.session_factory, Kind.AREA_ALERT) if r.address == en.email]
    assert sent.status == DeliveryStatus.SENT
    assert sent.body == en_mail.get_content().replace("\r\n", "\n").strip()


def test_the_job_looks_only_at_reports_since_its_last_run(world: World) -> None:
    make_regions(world.session)
    _confirmed(world, "li.si@example.cn", f"region:{EAST}")
    before = place(world.session, world.case_in(CaseStatus.REPORTED), EAST)
    world.clock.advance(hours=1)  # the job's first run: news is what is new from now on
    worker = _worker(world)
    assert "0 new reports" in (worker.run_job("public_alerts", force=True) or "")
    world.clock.advance(hours=1)
    after = place(world.session, world.case_in(CaseStatus.REPORTED), EAST)
    summary = worker.run_job("public_alerts", force=True) or ""
    assert "1 new reports" in summary
    assert "1 emails queued" in summary
    assert [r.case_id for r in _rows(world.session_factory, Kind.AREA_ALERT)] == [after.id]
    assert before.id != after.id


def test_the_exchange_runs_as_a_worker_job_and_does_nothing_without_a_link(
    world: World,
) -> None:
    worker = _worker(world)
    assert worker.run_job("exchange", force=True) == "no active exchange link"
    with world.session_factory() as session:
        run = session.scalars(select(JobRun).where(JobRun.job == "exchange")).one()
        assert run.ok is True
    # Due again only after its interval (data/notify.yaml: 120 s).
    assert worker.every["exchange"].total_seconds() == 120
    assert worker.run_job("exchange") is None
