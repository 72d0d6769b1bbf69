"""Cases: reported, acted on and driven along the closed loop through the real use cases,
and read back as committed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.actions import ActionInput, NewCase, perform_action, report_case
from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus, Source
from duban.kernel.context import Actor
from duban.reference.models import FilingCondition
from tests.factories.places import LAT, LON
from tests.factories.reference import CATEGORY
from tests.fakes import FixedClock

#: Who reports from each source in these tests.
REPORTER = {
    Source.PATROL: "collector",
    Source.CITIZEN: "citizen",
    Source.HOTLINE: "operator",
    Source.INSPECTION: "operator",
    Source.SUPERVISION: "operator",
    Source.SENSOR: "operator",
    Source.ROAD_OFFICE: "leader",
}

#: The happy path: (action, by whom, parameters); ``"PHOTO"`` stands for a fresh photo.
HAPPY_PATH: Sequence[tuple[Action, str, dict[str, Any]]] = (
    (Action.ASSIGN, "operator", {"collector": "collector"}),
    (Action.VERIFY, "collector", {}),
    (Action.FILE, "shift_lead", {}),
    (Action.DISPATCH, "dispatcher", {"unit": "SZGC"}),
    (Action.ACCEPT, "handler", {}),
    (Action.FEEDBACK, "handler", {"photo_ids": "PHOTO"}),
    (Action.ASSIGN, "operator", {"collector": "collector"}),
    (Action.CHECK, "collector", {"passed": True}),
    (Action.CLOSE, "shift_lead", {}),
)


def report(
    session: Session,
    *,
    actor: Actor,
    clock: FixedClock,
    source: Source = Source.HOTLINE,
    category: str = CATEGORY,
    lat: float = LAT,
    lon: float = LON,
    description: str = "小区门口暴露垃圾",
    **kw: Any,
) -> Case:
    """A case reported by ``actor`` through :func:`report_case`."""
    case, _ = report_case(
        session,
        actor=actor,
        clock=clock,
        data=NewCase(
            source=source,
            category_code=category,
            lat=lat,
            lon=lon,
            description=description,
            **kw,
        ),
    )
    return case


def act(
    session: Session,
    case: Case | int,
    action: Action | str,
    *,
    actor: Actor,
    clock: FixedClock,
    **params: Any,
) -> Case:
    """``action`` performed on ``case`` by ``actor`` through :func:`perform_action`."""
    return perform_action(
        session,
        case_id=case if isinstance(case, int) else case.id,
        action=Action(action),
        actor=actor,
        clock=clock,
        params=ActionInput(**params),
    )


def drive(
    case: Case,
    status: CaseStatus,
    *,
    act_as: Callable[[Case, Action, str, dict[str, Any]], Case],
    photo: Callable[[], str],
) -> Case:
    """``case`` moved along :data:`HAPPY_PATH` until it reaches ``status``.

    ``act_as(case, action, username, params)`` performs one step; ``photo()`` gives the id
    of a new photo for the handler's feedback.
    """
    for action, by, params in HAPPY_PATH:
        if case.status == status:
            return case
        if params.get("photo_ids") == "PHOTO":
            params = {"photo_ids": [photo()]}
        case = act_as(case, action, by, params)
    assert case.status == status, f"cannot drive a case to {status}"
    return case


def filed_case(
    world: Any,
    cond: FilingCondition | None = None,
    *,
    source: Source = Source.HOTLINE,
    **report_kw: Any,
) -> Case:
    """A case reported from ``source`` and driven to 已立案 (filed) at the clock's time."""
    if cond is not None:
        report_kw.setdefault("category", cond.category_code)
        report_kw.setdefault("condition_code", cond.code)
    case: Case = world.report(by=REPORTER[source], source=source, **report_kw)
    if case.status == CaseStatus.REPORTED:
        world.act(case, Action.ASSIGN, "operator", collector="collector")
        world.act(case, Action.VERIFY, "collector")
    filed: Case = world.act(case, Action.FILE, "shift_lead")
    return filed


def dispatched_case(
    world: Any,
    cond: FilingCondition | None = None,
    *,
    at: datetime | None = None,
    source: Source = Source.HOTLINE,
    unit: str = "SZGC",
    **report_kw: Any,
) -> Case:
    """A case dispatched to ``unit`` at ``at`` (the whole intake happens at that moment)."""
    if at is not None:
        world.clock.set(at)
    case = filed_case(world, cond, source=source, **report_kw)
    dispatched: Case = world.act(case, Action.DISPATCH, "dispatcher", unit=unit)
    return dispatched


def fresh(factory: sessionmaker[Session], case_id: int) -> Case:
    """The case as committed, read through a new session (nothing cached)."""
    with factory() as other:
        case = other.get(Case, case_id)
        assert case is not None
        other.expunge(case)
        return case


def events(factory: sessionmaker[Session], case_id: int) -> list[CaseEvent]:
    """The committed events of a case, in order."""
    with factory() as other:
        rows = list(
            other.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
        other.expunge_all()
        return rows


def event_total(factory: sessionmaker[Session]) -> int:
    """How many events the database holds."""
    with factory() as other:
        return int(other.scalar(select(func.count()).select_from(CaseEvent)) or 0)
