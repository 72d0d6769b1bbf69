"""The workbench queues by time left: the unit's deadline first, read in index order (the
parked queue holds about one case in a hundred of a year's)."""

from __future__ import annotations

from sqlalchemy import select, text

from duban.cases.models import Case
from duban.cases.workbench import Queue, _order, work_list
from duban.cases.workflow import Action, CaseStatus
from tests.factories.world import World


def _parked(world: World) -> Case:
    case = world.case_in(CaseStatus.HANDLING)
    world.act(case, Action.REQUEST_PARK, "handler", reason="需协调")
    parked: Case = world.act(case, Action.APPROVE_PARK, "dispatcher")
    return parked


def test_the_parked_queue_lists_the_nearest_deadline_first(world: World) -> None:
    first = _parked(world)
    world.clock.advance(days=2)
    later = _parked(world)
    world.clock.advance(days=2)
    last = _parked(world)
    dues = [first.due_at, later.due_at, last.due_at]
    assert None not in dues
    assert dues == sorted(dues)  # type: ignore[type-var]
    assert len(set(dues)) == 3
    queue = work_list(
        world.session, actor=world.actor("dispatcher"), queue=Queue.PARKED, now=world.clock.now()
    )
    assert [row.case.code for row in queue.rows] == [first.code, later.code, last.code]
    assert queue.total == 3


def test_the_parked_queue_reads_its_page_in_index_order(world: World) -> None:
    """ix_cases_status_time_left serves the order: no sort of every parked case."""
    stmt = _order(Queue.PARKED, select(Case.id).where(Case.status == CaseStatus.PARKED)).limit(50)
    conn = world.session.connection()
    sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        # A test table is small enough for a scan; ask whether the index can serve it.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_sort = off"))
        plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {sql}")))
        assert "ix_cases_status_time_left" in plan, plan
        assert "Sort" not in plan, plan
    else:
        plan = " ".join(str(r[3]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "ix_cases_status_time_left" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
