"""Issue 15 item 7, orders: the city's supervision order (督办单) to the district's unit
comes down to the district's Duban, the district answers its problem there, and the
answer goes up through the exchange's retry table; the city sees it as its district
unit's own answer, once, and its send-back comes down again.

Both instances run on this machine (see test_exchange): the city served by a real
uvicorn, the district on a second database, talking only over HTTP.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from duban.accounts.models import User
from duban.accounts.users import create_unit
from duban.cases.models import Case
from duban.cases.workflow import Action
from duban.evidence.models import Photo
from duban.exchange.models import ExchangeCase, ExchangeProblem, ExchangePush
from duban.exchange.orders import answer_city_problem
from duban.exchange.rules import PENDING, SENT, STAFF_CREDENTIAL_REFUSED
from duban.exchange.service import LinkSpec, get_link, run_exchange, save_link
from duban.kernel.errors import Conflict, InvalidInput, PermissionDenied
from duban.kernel.roles import Role
from duban.open311.apikeys import create_api_key
from duban.supervision.models import OrderProblem, SupervisionEvent, SupervisionOrder
from tests.commands import run as cli
from tests.exchange.test_exchange import DISTRICT_UNIT, run, serve_on
from tests.factories.accounts import PASSWORD, make_user
from tests.factories.cases import filed_case
from tests.factories.supervision import answer as local_answer
from tests.factories.supervision import order, review
from tests.factories.world import World
from tests.http import free_port, serving

CITY_HANDLER = "qjpt_handler"  # the city's handler account of the district's unit


@pytest.fixture
def city_order(world: World) -> SupervisionOrder:
    """On the city: the district's unit and its handler account, a case dispatched to
    it, and a supervision order about that case (addressed to the district's unit)."""
    unit = create_unit(world.session, code=DISTRICT_UNIT, name="某区数字化城管平台")
    make_user(world.session, CITY_HANDLER, Role.HANDLER, unit=unit, clock=world.clock)
    case = filed_case(world, photo_ids=[world.photo(by="operator")])
    world.act(case, Action.DISPATCH, "dispatcher", unit=DISTRICT_UNIT)
    return order(world, [case], title="关于督促整改占道堆物问题的通知")


def staff_token(base: str) -> str:
    """The city handler's bearer token, as the district's admin would get it."""
    root = base.removesuffix("/open311/v2")
    response = httpx.post(
        f"{root}/api/v1/auth/token", data={"username": CITY_HANDLER, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def link_with_staff(district: World, world: World, base: str) -> None:
    key = create_api_key(
        world.session, name="district-a", clock=world.clock, unit_code=DISTRICT_UNIT
    ).key
    save_link(
        district.session,
        spec=LinkSpec(
            name="city",
            base_url=base,
            api_key=key,
            agency=DISTRICT_UNIT,
            staff_token=staff_token(base),
        ),
        clock=district.clock,
    )


def city_problem(world: World, order_id: int) -> tuple[OrderProblem, list[SupervisionEvent]]:
    with world.session_factory() as session:
        problem = session.scalars(
            select(OrderProblem).where(OrderProblem.order_id == order_id)
        ).one()
        events = list(
            session.scalars(
                select(SupervisionEvent)
                .where(SupervisionEvent.order_id == order_id)
                .order_by(SupervisionEvent.seq)
            )
        )
        session.expunge_all()
    return problem, events


def handler_uploads(world: World) -> int:
    """The photos the city's handler account of the district's unit uploaded."""
    with world.session_factory() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Photo)
                .join(User, User.id == Photo.uploaded_by_id)
                .where(User.username == CITY_HANDLER)
            )
            or 0
        )


def answer(
    district: World,
    problem_id: int,
    measures: str,
    *,
    by: str = "supervisor",
    photo_ids: tuple[str, ...] = (),
) -> None:
    answer_city_problem(
        district.session,
        actor=district.actor(by),
        clock=district.clock,
        problem_id=problem_id,
        measures=measures,
        done=True,
        photo_ids=photo_ids,
    )


def test_an_order_comes_down_and_the_district_answer_goes_up_once(
    app: FastAPI, world: World, district: World, city_order: SupervisionOrder
) -> None:
    port = free_port()
    with serve_on(app, port) as base:
        link_with_staff(district, world, base)

        # Pull: the case and the order's problem come down, the problem once.
        assert "order problems 1 new" in run(district, push=False)
        assert "order problems 0 new" in run(district, push=False)
        kept = district.session.scalars(select(ExchangeProblem)).one()
        local_case = district.session.scalars(select(ExchangeCase)).one()
        assert kept.case_id == local_case.case_id  # the problem is about our own case
        assert (kept.order_number, kept.external_status) == (city_order.number, "open")
        assert kept.due_at is not None

        # Only the centre answers; the answer goes up, as the district unit's own.
        with pytest.raises(PermissionDenied):
            answer(district, kept.id, "x", by="handler")
        answer(district, kept.id, "已清理占道堆物，安排专人每日巡查")
        with pytest.raises(Conflict):  # one answer waits to go up: not a second one
            answer(district, kept.id, "again")
        assert "pushed 1" in run(district)
        problem, events = city_problem(world, city_order.id)
        assert problem.status == "answered"
        assert problem.measures == "已清理占道堆物，安排专人每日巡查"
        assert problem.done is True
        handler_id = world.session.scalar(select(User.id).where(User.username == CITY_HANDLER))
        assert problem.answered_by_id == handler_id
        assert [e.action for e in events].count("answer") == 1
        assert events[-1].actor_role == "handler"

        # Sending the same answer again (a lost reply) answers nothing twice.
        push = district.session.scalars(select(ExchangePush)).one()
        assert (push.state, push.case_id, push.problem_id) == (SENT, None, kept.id)
        push.state = PENDING
        district.session.commit()
        assert "pushed 1" in run(district)
        _, again = city_problem(world, city_order.id)
        assert [e.action for e in again].count("answer") == 1

        # The city sends it back: the send-back comes down, open to answer again.
        world.session.expire_all()
        review(world, city_order.id, problem.id, accept=False, reason="现场仍有堆物")
        run(district, push=False)
        district.session.expire_all()
        kept = district.session.scalars(select(ExchangeProblem)).one()
        assert (kept.external_status, kept.send_back_reason) == ("sent_back", "现场仍有堆物")
        answer(district, kept.id, "已彻底清除并设置隔离设施")

    # The city is down: the answer waits in the retry table, then goes through.
    assert "retry 1" in run(district)
    waiting = district.session.scalars(
        select(ExchangePush).where(ExchangePush.state == PENDING)
    ).one()
    assert waiting.attempts == 1
    assert waiting.last_error
    with serve_on(app, port):
        district.clock.advance(minutes=2)
        assert "pushed 1" in run(district)
    problem, events = city_problem(world, city_order.id)
    assert (problem.status, problem.measures) == ("answered", "已彻底清除并设置隔离设施")
    assert [e.action for e in events].count("answer") == 2
    with district.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeProblem)) == 1
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_link_without_a_staff_token_takes_no_orders(
    app: FastAPI, world: World, district: World, city_order: SupervisionOrder
) -> None:
    port = free_port()
    with serve_on(app, port) as base:
        key = create_api_key(
            world.session, name="district-a", clock=world.clock, unit_code=DISTRICT_UNIT
        ).key
        save_link(
            district.session,
            spec=LinkSpec(name="city", base_url=base, api_key=key, agency=DISTRICT_UNIT),
            clock=district.clock,
        )
        assert "order problems 0 new" in run(district)
    assert district.session.scalar(select(func.count()).select_from(ExchangeProblem)) == 0


def test_the_command_line_takes_orders_and_answers_them(
    app: FastAPI,
    world: World,
    district_engine: Engine,
    city_order: SupervisionOrder,
    tmp_path: Path,
) -> None:
    key = create_api_key(
        world.session, name="district-a", clock=world.clock, unit_code=DISTRICT_UNIT
    ).key
    url = district_engine.url.render_as_string(hide_password=False)
    with serving(app) as root:
        base = f"{root}/open311/v2"
        result = cli(
            url, tmp_path, "exchange", "link", "set", "city", "--url", base,
            "--api-key", key, "--agency", DISTRICT_UNIT, "--staff-token", staff_token(base),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "orders yes" in cli(url, tmp_path, "exchange", "link", "list").output
        pulled = cli(url, tmp_path, "exchange", "pull")
        assert "order problems 1 new" in pulled.output, pulled.output
        listed = cli(url, tmp_path, "exchange", "problems", "city")
        assert city_order.number in listed.output
        local_id = listed.output.split()[0]
        answered = cli(
            url, tmp_path, "exchange", "answer", local_id, "--measures", "已整改", "--done"
        )
        assert answered.exit_code == 0, answered.output
        pushed = cli(url, tmp_path, "exchange", "push")
        assert "pushed 1" in pushed.output, pushed.output
    problem, _ = city_problem(world, city_order.id)
    assert (problem.status, problem.measures) == ("answered", "已整改")


def test_the_district_relays_the_order_to_its_own_unit_and_its_accepted_answer_goes_up(
    app: FastAPI, world: World, district: World, city_order: SupervisionOrder
) -> None:
    """The ideal path: the city's problem becomes an order of the district's own to the
    unit handling the case; that unit answers, the district's supervisor accepts, and
    the accepted answer is the city's answer. A send-back there is a new order here."""
    port = free_port()
    with serve_on(app, port) as base:
        link_with_staff(district, world, base)
        run(district, push=False)  # the case has no unit here yet: no order of ours
        kept = district.session.scalars(select(ExchangeProblem)).one()
        assert kept.case_id is not None
        assert kept.local_order_id is None
        district.act(kept.case_id, Action.FILE, "shift_lead")
        district.act(kept.case_id, Action.DISPATCH, "dispatcher", unit="SZGC")
        run(district, push=False)
        run(district, push=False)  # relayed once
        district.session.expire_all()
        kept = district.session.scalars(select(ExchangeProblem)).one()
        ours = district.session.get(SupervisionOrder, kept.local_order_id)
        assert ours is not None
        assert district.session.scalar(select(func.count()).select_from(SupervisionOrder)) == 1
        assert [a.unit.code for a in ours.addressees] == ["SZGC"]
        assert city_order.number in ours.title
        assert ours.problems[0].case_id == kept.case_id

        # Our unit answers, our supervisor accepts: the answer goes up, once.
        photo = district.photo(by="handler")
        local_answer(
            district, ours.id, ours.problems[0].id, measures="已组织清运", photo_ids=[photo]
        )
        assert "pushed 0" in run(district)  # not yet reviewed here
        review(district, ours.id, ours.problems[0].id, accept=True)
        assert "pushed 1" in run(district)
        assert "pushed 0" in run(district)
        problem, events = city_problem(world, city_order.id)
        assert (problem.status, problem.measures) == ("answered", "已组织清运")
        assert len(problem.reply_photo_ids or []) == 1  # the unit's photo goes up with it
        assert [e.action for e in events].count("answer") == 1

        # The city sends it back: a second order of ours, whose accepted answer goes up.
        world.session.expire_all()
        review(world, city_order.id, problem.id, accept=False, reason="仍未清理干净")
        run(district, push=False)
        district.session.expire_all()
        kept = district.session.scalars(select(ExchangeProblem)).one()
        again = district.session.get(SupervisionOrder, kept.local_order_id)
        assert again is not None
        assert again.id != ours.id
        assert "仍未清理干净" in again.body
        local_answer(district, again.id, again.problems[0].id, measures="已全部清理")
        review(district, again.id, again.problems[0].id, accept=True)
        assert "pushed 1" in run(district)
    problem, events = city_problem(world, city_order.id)
    assert (problem.status, problem.measures) == ("answered", "已全部清理")
    assert [e.action for e in events].count("answer") == 2


def test_runs_at_once_relay_a_problem_once(
    app: FastAPI, world: World, district: World, city_order: SupervisionOrder
) -> None:
    port = free_port()
    factory = district.session_factory
    with serve_on(app, port) as base:
        link_with_staff(district, world, base)
        run(district, push=False)
        case_id = district.session.scalars(select(ExchangeProblem)).one().case_id
        assert case_id is not None
        district.act(case_id, Action.FILE, "shift_lead")
        district.act(case_id, Action.DISPATCH, "dispatcher", unit="SZGC")
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
        assert session.scalar(select(func.count()).select_from(SupervisionOrder)) == 1
        assert session.scalar(select(func.count()).select_from(ExchangeProblem)) == 1


def test_an_answer_goes_up_with_its_photos_and_a_retry_attaches_none_twice(
    app: FastAPI, world: World, district: World, city_order: SupervisionOrder
) -> None:
    """Issue 15 item 7: the city sees the district's answer as its own, photos included:
    uploaded as the handler's, named in the reply, the same bytes; a retry after a lost
    response (the district never learnt it went) uploads and attaches nothing again."""
    assert district.store is not None
    assert world.store is not None
    ours = [district.photo(by="supervisor"), district.photo(by="supervisor")]
    with serve_on(app, free_port()) as base:
        link_with_staff(district, world, base)
        run(district, push=False)
        kept = district.session.scalars(select(ExchangeProblem)).one()
        with pytest.raises(InvalidInput):  # only one's own uploads
            answer(district, kept.id, "已清理", photo_ids=(district.photo(by="operator"),))
        answer(district, kept.id, "已清理并拍照留证", photo_ids=tuple(ours))
        assert "pushed 1" in run(district)
        problem, events = city_problem(world, city_order.id)
        handler_id = world.session.scalar(select(User.id).where(User.username == CITY_HANDLER))
        assert len(problem.reply_photo_ids or []) == 2
        with world.session_factory() as session:
            there = [session.get(Photo, pid) for pid in problem.reply_photo_ids or []]
            here = [district.session.get(Photo, pid) for pid in ours]
            for city_photo, photo in zip(there, here, strict=True):
                assert city_photo is not None
                assert photo is not None
                assert city_photo.uploaded_by_id == handler_id  # the handler's own upload
                assert city_photo.sha256 == photo.sha256
                assert world.store.get(city_photo.storage_key) == district.store.get(
                    photo.storage_key
                )
        assert handler_uploads(world) == 2

        # The reply's response is lost: the answer is still pending here. The retry
        # finds it there and neither uploads nor attaches a photo again.
        push = district.session.scalars(select(ExchangePush)).one()
        assert sorted(push.extra["city_photos"]) == sorted(ours)
        push.state = PENDING
        district.session.commit()
        assert "pushed 1" in run(district)
        again, events = city_problem(world, city_order.id)
        assert again.reply_photo_ids == problem.reply_photo_ids
        assert [e.action for e in events].count("answer") == 1
        # Lost after the uploads, before the reply went: a new try reuses them.
        world.session.expire_all()
        review(world, city_order.id, problem.id, accept=False, reason="照片不清")
        run(district, push=False)
        district.session.expire_all()
        answer(district, kept.id, "已重新整改", photo_ids=tuple(ours))
        second = district.session.scalars(
            select(ExchangePush).where(ExchangePush.state == PENDING)
        ).one()
        second.extra = {**second.extra, "city_photos": dict(push.extra["city_photos"])}
        district.session.commit()
        assert "pushed 1" in run(district)
        last, events = city_problem(world, city_order.id)
        assert (last.measures, last.reply_photo_ids) == ("已重新整改", problem.reply_photo_ids)
        assert [e.action for e in events].count("answer") == 2
        assert handler_uploads(world) == 2


def test_a_refused_credential_shows_and_the_answers_resume_with_a_new_one(
    app: FastAPI,
    world: World,
    district: World,
    city_order: SupervisionOrder,
    tmp_path: Path,
) -> None:
    """The sign-in token expires after 12 h: the link says so (a catalogue message, on
    the page and in the worker's summary) and the answer waits, its tries uncounted. The
    city's admin issues a long-lived token (``duban user token``); set on the link, the
    answer goes at once. Revoked (``duban user signout``), the link says so again."""
    city_url = world.session.get_bind().url.render_as_string(hide_password=False)
    secret = {"DUBAN_SECRET_KEY": app.state.secret_key}
    with serve_on(app, free_port()) as base:
        link_with_staff(district, world, base)  # a sign-in token: 12 hours
        run(district, push=False)
        kept = district.session.scalars(select(ExchangeProblem)).one()
        answer(district, kept.id, "已清理")
        district.clock.advance(hours=13)
        summary = run(district)
        assert STAFF_CREDENTIAL_REFUSED in summary, summary
        district.session.expire_all()
        link = get_link(district.session, "city")
        assert link.last_error == STAFF_CREDENTIAL_REFUSED
        push = district.session.scalars(select(ExchangePush)).one()
        assert (push.state, push.attempts) == (PENDING, 0)

        issued = cli(city_url, tmp_path, "user", "token", CITY_HANDLER, "--days", "365", **secret)
        assert issued.exit_code == 0, issued.output
        long_lived = issued.output.strip()
        district.clock.advance(days=30)
        link = get_link(district.session, "city")
        spec = LinkSpec(link.name, link.base_url, link.api_key, link.agency, staff_token=long_lived)
        save_link(district.session, spec=spec, clock=district.clock)
        summary = run(district)
        assert "pushed 1" in summary, summary
        assert "error" not in summary, summary
        district.session.expire_all()
        assert get_link(district.session, "city").last_error is None
        problem, _ = city_problem(world, city_order.id)
        assert (problem.status, problem.measures) == ("answered", "已清理")

        revoked = cli(city_url, tmp_path, "user", "signout", CITY_HANDLER)
        assert revoked.exit_code == 0, revoked.output
        assert STAFF_CREDENTIAL_REFUSED in run(district)
