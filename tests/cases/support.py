"""Helpers of the service tests: pick reference data from the database, drive cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus, Source
from duban.reference.models import Category, FilingCondition
from tests.factories import World
from tests.fakes import FixedClock

#: Who reports from each source in these tests.
REPORTER = {
    Source.PATROL: "collector",
    Source.CITIZEN: "citizen",
    Source.HOTLINE: "operator",
    Source.INSPECTION: "operator",
    Source.SUPERVISION: "operator",
    Source.SENSOR: "operator",
}


class Town(World):
    """A :class:`World` that can also read what was committed, through new sessions."""

    def __init__(
        self, session: Session, clock: FixedClock, session_factory: sessionmaker[Session]
    ) -> None:
        super().__init__(session, clock)
        self.session_factory = session_factory


def condition(session: Session, amount: float, unit: str) -> FilingCondition:
    """An active shipped filing condition (立案条件) with this time limit."""
    found = session.scalars(
        select(FilingCondition)
        .join(Category, Category.code == FilingCondition.category_code)
        .where(
            FilingCondition.limit_amount == amount,
            FilingCondition.limit_unit == unit,
            FilingCondition.is_active,
            Category.is_active,
            Category.level == 2,
        )
        .order_by(FilingCondition.code)
        .limit(1)
    ).first()
    assert found is not None, f"the shipped taxonomy has no condition of {amount} {unit}"
    return found


def filed_case(
    world: World,
    cond: FilingCondition | None = None,
    *,
    source: Source = Source.HOTLINE,
    **report_kw: Any,
) -> Case:
    """A case reported from ``source`` and driven to 已立案 (filed) at the clock's time."""
    if cond is not None:
        report_kw.setdefault("category", cond.category_code)
        report_kw.setdefault("condition_code", cond.code)
    case = world.report(by=REPORTER[source], source=source, **report_kw)
    if case.status == CaseStatus.REPORTED:
        world.act(case, Action.ASSIGN, "operator", collector="collector")
        world.act(case, Action.VERIFY, "collector")
    return world.act(case, Action.FILE, "shift_lead")


def dispatched_case(
    world: World,
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
    return world.act(case, Action.DISPATCH, "dispatcher", unit=unit)


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
