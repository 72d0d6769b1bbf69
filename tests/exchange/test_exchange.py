"""Issue 15 item 7: a district's Duban takes a case from the city's Duban and sends the
result back; the city sees it as its district unit's own work.

Both instances run on this machine: the city is the test's app on its database, served
by a real uvicorn on a free port; the district is a second database with its own people.
The district talks to the city only over HTTP (Open311 GET requests, POST
servicerequestupdates), as it would across the network. The last test runs the exchange
as the district worker's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.accounts.users import create_unit
from duban.cases.models import Case, CaseEvent, CasePhoto
from duban.cases.workflow import Action, CaseStatus
from duban.exchange.models import ExchangeCase, ExchangePush
from duban.exchange.rules import PENDING, SENT, next_try, retry_after
from duban.exchange.service import LinkSpec, get_link, run_exchange, save_link
from duban.jobs.models import JobRun
from duban.jobs.worker import Worker, WorkerConfig
from duban.kernel.db.session import make_session_factory
from duban.kernel.errors import InvalidInput
from duban.notify.models import Notification
from duban.notify.rules import Kind
from duban.open311.apikeys import create_api_key
from duban.publicview.models import PublicSubscription
from duban.publicview.rules import parse_area
from duban.publicview.subscriptions import confirm_subscription, confirm_token, subscribe
from tests.factories.cases import filed_case
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import FixedClock
from tests.http import free_port

DISTRICT_UNIT = "QJPT"  # the city's unit that stands for the district's platform
SECRET = "test-secret-for-links-0123456789"  # the district's key for its public links


@contextmanager
def serve_on(app: FastAPI, port: int) -> Iterator[str]:
    """``app`` on a real uvicorn at 127.0.0.1:``port`` (so it can come back on the same one)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn failed to start"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/open311/v2"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def city_case(world: World) -> Case:
    """On the city: the district's platform as a unit, a key for it, and a case filed
    and dispatched to it."""
    create_unit(world.session, code=DISTRICT_UNIT, name="某区数字化城管平台")
    case = filed_case(world, photo_ids=[world.photo(by="operator")])
    return world.act(case, Action.DISPATCH, "dispatcher", unit=DISTRICT_UNIT)


@pytest.fixture
def city_key(world: World, city_case: Case) -> str:
    return create_api_key(
        world.session, name="district-a", clock=world.clock, unit_code=DISTRICT_UNIT
    ).key


def link_to(district: World, base_url: str, key: str) -> None:
    save_link(
        district.session,
        spec=LinkSpec(name="city", base_url=base_url, api_key=key, agency=DISTRICT_UNIT),
        clock=district.clock,
    )


def run(district: World, **kw: object) -> str:
    assert district.store is not None
    report = run_exchange(district.session, clock=district.clock, store=district.store, **kw)  # type: ignore[arg-type]
    return report.summary()


def handle_locally(district: World, case_id: int, reply: str) -> Case:
    """The district files, dispatches to its own unit, fixes, checks and closes."""
    district.act(case_id, Action.FILE, "shift_lead")
    district.act(case_id, Action.DISPATCH, "dispatcher", unit="SZGC")
    district.act(case_id, Action.ACCEPT, "handler")
    district.act(
        case_id, Action.FEEDBACK, "handler", photo_ids=[district.photo()], public_reply=reply
    )
    district.act(case_id, Action.ASSIGN, "operator", collector="collector")
    district.act(case_id, Action.CHECK, "collector", passed=True, reason="现场核查已整改")
    return district.act(case_id, Action.CLOSE, "shift_lead")


def city_view(world: World, code: str) -> tuple[Case, list[CaseEvent], int]:
    with world.session_factory() as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        )
        after = session.scalar(
            select(func.count())
            .select_from(CasePhoto)
            .where(CasePhoto.case_id == case.id, CasePhoto.stage == "after")
        )
        session.expunge_all()
    return case, events, int(after or 0)


def local_cases(session: Session) -> list[ExchangeCase]:
    return list(session.scalars(select(ExchangeCase)))


def test_a_case_goes_down_to_the_district_and_its_result_comes_back_up(
    app: FastAPI, world: World, district: World, city_case: Case, city_key: str
) -> None:
    port = free_port()
    with serve_on(app, port) as base:
        link_to(district, base, city_key)

        # Pull: the city's case is now a case of the district, once however often pulled.
        run(district, push=False)
        run(district, push=False)
        taken = local_cases(district.session)
        assert [t.external_id for t in taken] == [city_case.code]
        local = district.session.get(Case, taken[0].case_id)
        assert local is not None
        assert local.status == CaseStatus.VERIFIED  # 督查组 source: ready to file
        assert city_case.code in local.description
        before = district.session.scalars(
            select(CasePhoto).where(CasePhoto.case_id == local.id, CasePhoto.stage == "before")
        ).all()
        assert len(before) == 1  # the city's problem photo, fetched from its endpoint
        assert district.session.scalar(select(func.count()).select_from(Case)) == 1

        # The district handles it and closes it; the push takes the result up.
        district.clock.advance(hours=2)
        handle_locally(district, local.id, "已清运完毕")
        assert "pushed 1" in run(district)

        case, events, after_photos = city_view(world, city_case.code)
        assert case.status == CaseStatus.AWAITING_CHECK  # the city checks as for any unit
        actions = [e.action for e in events]
        assert actions[-2:] == ["accept", "feedback"]
        assert events[-1].actor_role == "handler"  # as the district unit's own handler
        assert events[-1].note.startswith("[district-a]")
        assert "已清运完毕" in (events[-1].payload or "")  # the public reply
        assert after_photos == 1  # the district's after-photo, kept by the city

        # Running again sends nothing twice; re-sending the same update applies it once.
        run(district)
        push = district.session.scalars(select(ExchangePush)).one()
        assert push.state == SENT
        push.state = PENDING
        district.session.commit()
        run(district)
        _, again, photos_again = city_view(world, city_case.code)
        assert [e.action for e in again].count("feedback") == 1
        assert photos_again == 1

        # The city's later steps reach the district as comments on its case.
        world.session.expire_all()  # what the city's server wrote
        world.act(case.id, Action.ASSIGN, "operator", collector="collector")
        world.act(case.id, Action.CHECK, "collector", passed=True, reason="现场核查已整改")
        world.act(case.id, Action.CLOSE, "shift_lead")
        district.clock.advance(minutes=5)
        run(district)
        with district.session_factory() as session:
            notes = [
                e.note
                for e in session.scalars(
                    select(CaseEvent).where(
                        CaseEvent.case_id == local.id, CaseEvent.action == "comment"
                    )
                )
            ]
            assert any(n.startswith("[city] awaiting_check → closed") for n in notes)
            assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_fix_the_city_sends_back_reopens_the_district_case_and_goes_up_again(
    app: FastAPI, world: World, district: World, city_case: Case, city_key: str
) -> None:
    """返工 across platforms: the city's failed check reopens the district's case; its
    second close is pushed as a new update and is the city's second feedback."""
    port = free_port()
    with serve_on(app, port) as base:
        link_to(district, base, city_key)
        run(district, push=False)
        local_id = local_cases(district.session)[0].case_id
        district.clock.advance(hours=1)
        handle_locally(district, local_id, "已清运")
        run(district)
        district.clock.advance(hours=1)
        world.session.expire_all()
        world.act(city_case.id, Action.ASSIGN, "operator", collector="collector")
        world.act(
            city_case.id, Action.CHECK, "collector", passed=False, note="垃圾仍在",
            rework_reason="not_fixed",
        )  # fmt: skip
        district.clock.advance(minutes=5)
        run(district)
        district.session.expire_all()
        local = district.session.get(Case, local_id)
        assert local is not None
        assert local.status == CaseStatus.DISPATCHED  # reopened to the same unit
        district.act(local_id, Action.ACCEPT, "handler")
        district.act(
            local_id, Action.FEEDBACK, "handler", photo_ids=[district.photo()],
            public_reply="已彻底清运",
        )  # fmt: skip
        district.act(local_id, Action.ASSIGN, "operator", collector="collector")
        district.act(local_id, Action.CHECK, "collector", passed=True, reason="现场核查已整改")
        district.act(local_id, Action.CLOSE, "shift_lead")
        assert "pushed 1" in run(district)
    case, events, _ = city_view(world, city_case.code)
    assert case.status == CaseStatus.AWAITING_CHECK
    assert [e.action for e in events].count("feedback") == 2
    assert "已彻底清运" in events[-1].payload


def test_a_push_waits_while_the_city_is_down_and_goes_through_later(
    app: FastAPI, world: World, district: World, city_case: Case, city_key: str
) -> None:
    port = free_port()
    with serve_on(app, port) as base:
        link_to(district, base, city_key)
        run(district, push=False)
    local_id = local_cases(district.session)[0].case_id
    handle_locally(district, local_id, "已修复")

    # The city is down: the push is kept with its error and the time of its next try.
    summary = run(district)
    assert "retry 1" in summary
    push = district.session.scalars(select(ExchangePush)).one()
    assert (push.state, push.attempts) == (PENDING, 1)
    assert push.last_error
    assert "did not answer" in push.last_error
    assert push.next_try_at == district.clock.now() + retry_after(1)
    assert get_link(district.session, "city").last_error

    with serve_on(app, port):
        run(district)  # not yet due: nothing is sent
        assert district.session.scalars(select(ExchangePush)).one().state == PENDING
        district.clock.advance(minutes=2)
        run(district)
    push = district.session.scalars(select(ExchangePush)).one()
    assert (push.state, push.attempts, push.last_error) == (SENT, 2, None)
    case, events, _ = city_view(world, city_case.code)
    assert case.status == CaseStatus.AWAITING_CHECK
    assert [e.action for e in events].count("feedback") == 1


def test_two_pulls_at_once_take_the_case_once(
    app: FastAPI, world: World, district: World, city_case: Case, city_key: str
) -> None:
    port = free_port()
    factory = district.session_factory
    with serve_on(app, port) as base:
        link_to(district, base, city_key)
        errors: list[BaseException] = []

        def pull() -> None:
            try:
                with factory() as session:
                    assert district.store is not None
                    run_exchange(session, clock=district.clock, store=district.store, push=False)
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=pull) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        assert session.scalar(select(func.count()).select_from(ExchangeCase)) == 1


def test_a_city_key_that_stands_for_no_unit_only_comments(
    app: FastAPI, world: World, district: World, city_case: Case
) -> None:
    """A plain Open311 client cannot act as a unit: its update stays a comment."""
    plain = create_api_key(world.session, name="plain", clock=world.clock).key
    port = free_port()
    with serve_on(app, port) as base:
        link_to(district, base, plain)
        run(district, push=False)  # reading needs no key: the case comes down
        handle_locally(district, local_cases(district.session)[0].case_id, "done")
        summary = run(district)
    assert "pushed 0" in summary
    assert "failed 1" in summary
    case, events, _ = city_view(world, city_case.code)
    assert case.status == CaseStatus.DISPATCHED
    assert "feedback" not in [e.action for e in events]


def test_retry_times_double_up_to_six_hours() -> None:
    assert [retry_after(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert retry_after(20).total_seconds() == 6 * 3600
    assert next_try(FixedClock().now(), 10) is None


def test_a_link_needs_an_http_endpoint_and_a_known_source(district: World) -> None:
    with pytest.raises(InvalidInput, match="http"):
        save_link(
            district.session,
            spec=LinkSpec(name="city", base_url="ftp://x", api_key="k", agency="A"),
            clock=district.clock,
        )
    with pytest.raises(InvalidInput, match="source"):
        save_link(
            district.session,
            spec=LinkSpec(
                name="city", base_url="http://x", api_key="k", agency="A", source="nowhere"
            ),
            clock=district.clock,
        )


def test_the_same_session_factory_reads_both_databases_apart(
    world: World, district: World, city_case: Case
) -> None:
    """The two instances really are two databases."""
    with make_session_factory(district.session.get_bind())() as session:  # type: ignore[arg-type]
        assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert world.session.scalar(select(func.count()).select_from(Case)) == 1


def test_the_districts_worker_pulls_the_citys_case_and_alerts_its_subscribers(
    app: FastAPI, world: World, district: World, city_case: Case, city_key: str
) -> None:
    subscribe(
        district.session,
        clock=district.clock,
        email="resident@example.cn",
        area=parse_area(f"point:{LAT},{LON},5000"),
        lang="zh",
        secret=SECRET,
        base_url="https://district.example",
    )
    sub = district.session.scalars(select(PublicSubscription)).one()
    confirm_subscription(
        district.session, clock=district.clock, secret=SECRET, token=confirm_token(SECRET, sub)
    )
    worker = Worker(
        district.session_factory,
        clock=district.clock,
        config=WorkerConfig(
            senders={}, base_url="https://district.example", secret=SECRET, store=district.store
        ),
    )
    port = free_port()
    with serve_on(app, port) as base:
        link_to(district, base, city_key)
        summary = worker.run_job("exchange", force=True)
    assert summary is not None
    assert summary.startswith("city: pulled 1 new")
    (taken,) = local_cases(district.session)
    assert taken.external_id == city_case.code

    assert "1 emails queued" in (worker.run_job("public_alerts", force=True) or "")
    with district.session_factory() as session:
        (alert,) = session.scalars(
            select(Notification).where(Notification.kind == Kind.AREA_ALERT)
        ).all()
        assert alert.case_id == taken.case_id
        assert alert.address == "resident@example.cn"
        runs = session.scalars(select(JobRun.ok).where(JobRun.job == "exchange")).all()
        assert runs == [True]
