"""History import of the later actions (issue 15): two-level dispatch (下派, the platform's
own dispatch, 退回上级), hand-overs to outside bodies and their answers, the hotline's
ticket and return call, on-the-spot fixes — replayed from CSV and XLSX through the use
cases as if live, refused with their line when the API would refuse them, and silent:
no message to anyone, no public alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases.audit import verify_chain
from duban.cases.models import Case, ImportedCase
from duban.cases.workflow import Action, CaseStatus
from duban.handover.policy import shipped_data
from duban.handover.service import load_list, transfers_of
from duban.jobs.worker import Worker, WorkerConfig
from duban.notify.models import Notification
from duban.notify.preferences import add_subscription, set_preferences
from duban.places.index import forget_places_index
from duban.publicview.models import PublicSubscription
from duban.publicview.rules import parse_area
from duban.publicview.subscriptions import confirm_subscription, confirm_token, subscribe
from tests.commands import run
from tests.factories.cases import events
from tests.factories.history import history_csv, history_xlsx, import_file, imported_case
from tests.factories.places import LAT, LON
from tests.factories.platforms import EAST, WEST, two_level_city
from tests.factories.reference import CATEGORY
from tests.factories.world import World
from tests.fakes import local

COLUMNS = (
    "case",
    "at",
    "action",
    "user",
    "source",
    "category_code",
    "condition_code",
    "lon",
    "lat",
    "description",
    "reporter_phone",
    "hotline_ticket",
    "fixed_on_site",
    "collector",
    "unit",
    "platform",
    "amount",
    "passed",
    "reason",
    "note",
    "score",
)
SECRET = "history-test-secret-0123456789abcdef"
BASE = "https://duban.example.cn"
#: Payload keys that differ between a replayed row and the live action by design: the
#: replay's mark, and the after-photos (and their checks) old platforms did not keep.
REPLAY_ONLY = {"imported", "photos", "verdict"}


@pytest.fixture(autouse=True)
def _fresh_places() -> Iterator[None]:
    forget_places_index()  # PostgreSQL tests reuse one URL; the index is keyed by it
    yield
    forget_places_index()


@pytest.fixture
def city(world: World) -> World:
    return two_level_city(world)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return local(2025, 3, day, hour, minute)


def _row(case: str, at: datetime, action: str, by: str, **fields: Any) -> dict[str, Any]:
    return {"case": case, "at": at.isoformat(), "action": action, "user": by, **fields}


def _report(case: str, at: datetime, by: str = "operator", **fields: Any) -> dict[str, Any]:
    return _row(
        case,
        at,
        "report",
        by,
        **{
            "source": "hotline",
            "category_code": CATEGORY,
            "lon": LON,
            "lat": LAT,
            "description": f"旧系统案件 {case}",
            **fields,
        },
    )


def _filed(case: str, times: Sequence[datetime], **report: Any) -> list[dict[str, Any]]:
    """report → assign → verify → file, at the four ``times``."""
    reported, assigned, verified, filed = times
    return [
        _report(case, reported, **report),
        _row(case, assigned, "assign", "operator", collector="collector"),
        _row(case, verified, "verify", "collector"),
        _row(case, filed, "file", "shift_lead"),
    ]


def _filed_on(case: str, day: int, **report: Any) -> list[dict[str, Any]]:
    """:func:`_filed` on ``day``: reported at 9:00, filed at 10:00."""
    return _filed(case, [_at(day, 9), _at(day, 9, 10), _at(day, 9, 40), _at(day, 10)], **report)


def _two_level(case: str, day: int, *, platform: str = WEST) -> list[dict[str, Any]]:
    """report → verify → file → 下派 → the street dispatches → the unit returns it → 退回上级
    → 下派 again → dispatched → handled → checked → closed → 回访."""
    return [
        *_filed_on(case, day, hotline_ticket=f"12345-{case}", reporter_phone="13800001111"),
        _row(case, _at(day, 10, 5), "dispatch_to_platform", "dispatcher", platform=platform),
        _row(case, _at(day, 10, 20), "dispatch", "west_dispatcher", unit="JD001"),
        _row(case, _at(day, 11), "accept", "west_handler"),
        _row(case, _at(day, 11, 30), "return", "west_handler", reason="不属本中队辖区"),
        _row(case, _at(day, 13), "platform_return", "west_dispatcher", reason="请市级重新派遣"),
        _row(case, _at(day, 14), "dispatch_to_platform", "dispatcher", platform=platform),
        _row(case, _at(day + 1, 9), "dispatch", "west_dispatcher", unit="JD001"),
        _row(case, _at(day + 1, 9, 30), "accept", "west_handler"),
        _row(case, _at(day + 1, 15), "feedback", "west_handler", note="已清理"),
        _row(case, _at(day + 1, 15, 10), "assign", "operator", collector="collector"),
        _row(case, _at(day + 1, 16), "check", "collector", passed="true"),
        _row(case, _at(day + 1, 17), "close", "shift_lead"),
        _row(case, _at(day + 2, 10), "callback", "operator", score="4", note="基本解决"),
    ]


def _csv(tmp_path: Path, rows: Sequence[dict[str, Any]], name: str = "history.csv") -> Path:
    return history_csv(tmp_path, rows, COLUMNS, name)


def _xlsx(tmp_path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    return history_xlsx(tmp_path, rows, COLUMNS)


def _live(world: World, rows: Sequence[dict[str, Any]]) -> Case:
    """The same rows taken live, through the API's use cases at each row's time (feedback
    with a photo, as a live unit must)."""
    first, *rest = rows
    world.clock.set(datetime.fromisoformat(first["at"]))
    case = world.report(
        by=first["user"],
        hotline_ticket=first.get("hotline_ticket"),
        reporter_phone=first.get("reporter_phone"),
        description=first["description"],
    )
    for row in rest:
        world.clock.set(datetime.fromisoformat(row["at"]))
        params: dict[str, Any] = {
            k: row[k] for k in ("collector", "unit", "platform", "reason", "note") if k in row
        }
        if "passed" in row:
            params["passed"] = row["passed"] == "true"
        if "score" in row:
            params["rating"] = "satisfied"
        if row["action"] == "feedback":
            params["photo_ids"] = (world.photo(by=row["user"]),)
        case = world.act(case, row["action"], row["user"], **params)
    return case


def _trail(world: World, case_id: int) -> list[tuple[Any, ...]]:
    out = []
    for e in events(world.session_factory, case_id):
        payload = {k: v for k, v in json.loads(e.payload).items() if k not in REPLAY_ONLY}
        out.append((e.action, e.from_status, e.to_status, e.occurred_at, e.actor_id, payload))
    return out


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_two_level_case_is_replayed_as_if_it_had_been_live(
    city: World, session: Session, tmp_path: Path, kind: str
) -> None:
    rows = _two_level("PL-1", 3)
    path = _csv(tmp_path, rows) if kind == "csv" else _xlsx(tmp_path, rows)
    report = import_file(session, path)
    assert report.refused == []
    assert (report.imported, report.events) == (1, len(rows))

    replayed = imported_case(session, "PL-1")
    assert (replayed.status, replayed.platform_code, replayed.unit.code) == (
        CaseStatus.CLOSED,
        WEST,
        "JD001",
    )
    assert replayed.hotline_ticket == "12345-PL-1"
    assert replayed.dispatched_at == _at(4, 9)
    trail = _trail(city, replayed.id)
    assert [t[0] for t in trail] == [r["action"] for r in rows]
    assert [t[3] for t in trail] == [datetime.fromisoformat(r["at"]) for r in rows]
    by_action = {t[0]: t for t in trail}
    assert by_action["platform_return"][5] == {
        "level": "platform",
        "platform": WEST,
        "reason": "请市级重新派遣",
    }
    assert by_action["callback"][5] == {"rating": "satisfied"}

    # The same actions taken live at the same times leave the same events and clocks.
    live = _live(city, rows)
    assert _trail(city, live.id) == trail
    for column in ("status", "due_at", "step", "step_due_at", "dispatched_at", "closed_at"):
        assert getattr(live, column) == getattr(replayed, column), column
    assert verify_chain(session).ok


def test_a_platform_that_is_none_or_not_the_cases_is_refused_with_its_line(
    city: World, session: Session, tmp_path: Path
) -> None:
    good = _two_level("OK-1", 3)
    nowhere = _two_level("BAD-1", 5, platform="999999")
    elsewhere = _two_level("BAD-2", 10, platform=EAST)
    # The street's dispatcher may not act on the city's case (another level).
    wrong_level = [
        *_two_level("BAD-3", 12)[:4],
        _row("BAD-3", _at(12, 10), "dispatch", "west_dispatcher", unit="JD001"),
    ]
    rows = [*good, *nowhere, *elsewhere, *wrong_level]
    line = {id(r): n for n, r in enumerate(rows, start=2)}

    report = import_file(session, _csv(tmp_path, rows))

    assert report.imported == 1
    by_case = {r.case: r for r in report.refused}
    assert set(by_case) == {"BAD-1", "BAD-2", "BAD-3"}
    assert by_case["BAD-1"].line == line[id(nowhere[4])]
    assert "'999999' runs no platform" in by_case["BAD-1"].reason
    assert by_case["BAD-2"].line == line[id(elsewhere[4])]
    assert "lies outside 411002002" in by_case["BAD-2"].reason
    assert by_case["BAD-3"].line == line[id(wrong_level[4])]
    assert "is with the city" in by_case["BAD-3"].reason
    assert session.scalars(select(ImportedCase.ref)).all() == ["OK-1"]
    assert verify_chain(session).ok


def test_hand_overs_answers_on_site_fixes_and_the_sweeps_marks_are_replayed(
    world: World, session: Session, tmp_path: Path
) -> None:
    load_list(session, shipped_data(), now=world.clock.now())
    parking = {"category_code": "E0505", "condition_code": "E050502"}
    done = [
        *_filed_on("T-1", 3, **parking),
        _row("T-1", _at(3, 10, 30), "transfer", "dispatcher", unit="JJDD", amount="2"),
        _row("T-1", _at(3, 14), "transfer_accept", "dispatcher", note="交警已受理"),
        _row("T-1", _at(4, 9), "transfer_done", "dispatcher", note="已拖离"),
        _row("T-1", _at(4, 9, 10), "assign", "operator", collector="collector"),
        _row("T-1", _at(4, 10), "check", "collector", passed="true"),
        _row("T-1", _at(4, 11), "close", "shift_lead"),
    ]
    refused = [
        *_filed_on("T-2", 10, **parking),
        _row("T-2", _at(10, 10, 30), "transfer", "dispatcher"),
        _row("T-2", _at(14, 9), "transfer_overdue", "system"),
        _row("T-2", _at(14, 10), "transfer_refuse", "dispatcher", reason="非本单位职责"),
    ]
    on_site = [_report("S-1", _at(5, 9), by="collector", source="patrol", fixed_on_site="是")]
    rows = [*done, *refused, *on_site]

    report = import_file(session, _csv(tmp_path, rows))

    assert report.refused == []
    one = imported_case(session, "T-1")
    assert one.status == CaseStatus.CLOSED
    (transfer,) = transfers_of(session, one.id)
    assert (transfer.unit.code, transfer.state) == ("JJDD", "done")
    # 2 working days from Monday 10:30.
    assert transfer.reply_due_at == _at(5, 10, 30)
    two = imported_case(session, "T-2")
    assert two.status == CaseStatus.RETURNED
    trail = events(world.session_factory, two.id)
    assert [(e.action, e.actor_role) for e in trail][-3:] == [
        ("transfer", "dispatcher"),
        ("transfer_overdue", "system"),
        ("transfer_refuse", "dispatcher"),
    ]
    fixed = imported_case(session, "S-1")
    assert (fixed.status, fixed.fixed_on_site) == (CaseStatus.CLOSED, True)
    assert [e.action for e in events(world.session_factory, fixed.id)] == [
        "report",
        "fix_on_site",
        "close",
    ]
    assert verify_chain(session).ok


def _outbox(world: World) -> list[Notification]:
    with world.session_factory() as s:
        rows = list(s.scalars(select(Notification).order_by(Notification.id)))
        s.expunge_all()
        return rows


def _listeners(world: World, session: Session) -> None:
    """Everyone a live case event would tell: the unit's handler (a new task), webhooks,
    the public subscribers of the area (the citizen's phone is on each report)."""
    now = world.clock.now()
    set_preferences(
        session, actor=world.actor("handler"), channels=["email"], email="h@example.cn", now=now
    )
    add_subscription(session, name="hook", url="https://hooks.example.cn/x", events=[], now=now)
    area = parse_area(f"point:{LAT},{LON},5000")
    subscribe(
        session,
        clock=world.clock,
        email="li.si@example.cn",
        area=area,
        lang="zh",
        secret=SECRET,
        base_url=BASE,
    )
    session.commit()
    sub = session.scalars(select(PublicSubscription)).one()
    confirm_subscription(
        session, clock=world.clock, secret=SECRET, token=confirm_token(SECRET, sub)
    )


def test_replayed_history_tells_no_one_but_later_live_events_do(
    world: World, session: Session, tmp_path: Path
) -> None:
    _listeners(world, session)
    before = {n.id for n in _outbox(world)}  # the subscription's confirmation
    worker = Worker(
        world.session_factory,
        clock=world.clock,
        config=WorkerConfig(senders={}, base_url=BASE, secret=SECRET, store=world.store),
    )
    # Rows minutes old, within the public alerts' window: live, the report and the
    # dispatch would tell the citizen, the unit (a new task) and the webhook.
    start = world.clock.now() - timedelta(minutes=5)
    at = [start + timedelta(seconds=n) for n in range(5)]
    rows = [
        *_filed("N-1", at[:4], description="x", reporter_phone="13800001111"),
        _row("N-1", at[4], "dispatch", "dispatcher", unit="SZGC"),
    ]
    report = import_file(session, _csv(tmp_path, rows))
    assert report.refused == []
    summary = worker.run_job("public_alerts", force=True) or ""
    assert "0 new reports" in summary
    assert [n for n in _outbox(world) if n.id not in before] == []

    # The same case goes on live: now its citizen, unit and webhook hear of it.
    case = imported_case(session, "N-1")
    world.clock.advance(minutes=1)
    world.act(case, Action.ACCEPT, "handler")
    world.act(case, Action.SUPERVISE, "supervisor", note="尽快处理")
    kinds = {n.kind for n in _outbox(world) if n.id not in before}
    assert {"webhook", "supervision"} <= kinds
    # And a live report nearby alerts the area's subscriber.
    world.clock.advance(minutes=1)
    world.report(reporter_phone="13800002222")
    assert "1 new reports" in (worker.run_job("public_alerts", force=True) or "")
    kinds = {n.kind for n in _outbox(world) if n.id not in before}
    assert {"received", "area_alert"} <= kinds


def test_the_command_replays_platform_rows_and_verifies_the_chain(
    db_url: str, city: World, tmp_path: Path
) -> None:
    rows = [*_two_level("C-1", 3), *_two_level("C-2", 10, platform="999999")]
    result = run(db_url, tmp_path, "import", "history", str(_csv(tmp_path, rows)))
    assert result.exit_code == 1, result.output
    assert "1 imported" in result.output
    assert "'999999' runs no platform" in result.output
    assert "audit ok" in result.output
