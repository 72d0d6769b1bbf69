"""Use cases of supervision orders: compile and number an order, a unit's answer, the
supervisor's acceptance or sending back, and the reads each role may make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, object_session, selectinload

from duban.accounts import Unit
from duban.cases import Case, CasePhoto, can_see
from duban.kernel.context import Actor, Clock
from duban.kernel.db.models import Counter
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.ledgers import LedgerNode, node_visible
from duban.places import territory_units
from duban.reference import LimitUnit, TimeLimit, load_policy
from duban.supervision.events import append_order_event
from duban.supervision.models import (
    OrderProblem,
    OrderUnit,
    SupervisionOrder,
    SupervisionRule,
)
from duban.supervision.policy import supervision_policy
from duban.supervision.replies import (
    ReplyInput,
    apply_answer,
    apply_review,
    clean_reply,
    clean_text,
)
from duban.supervision.rules import (
    OrderStatus,
    ProblemStatus,
    SelectionRule,
    counter_name,
    order_number,
    roll_up,
)
from duban.supervision.selection import MAX_PROBLEMS, select_cases

#: Roles that compile orders and review answers.
SUPERVISING: frozenset[Role] = frozenset({Role.SUPERVISOR})
#: Roles that see every order and every problem.
SEE_ALL: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.SYSTEM})

NOT_SUPERVISOR = "only a supervisor may compile orders and review answers"
NOT_YOURS = "only the unit the problem is addressed to may answer it"
NO_ORDERS = "this role does not work with supervision orders"
ORDER_NOT_FOUND = "no such supervision order"
PROBLEM_NOT_FOUND = "no such problem in this order"


@dataclass(frozen=True)
class OrderInput:
    """What a supervisor gives to compile an order."""

    title: str
    case_ids: Sequence[int] = ()
    ledger_item_ids: Sequence[int] = ()
    rule: SelectionRule | None = None
    rule_id: int | None = None
    units: Sequence[str] = ()
    series: str | None = None
    reply_work_days: int | None = None
    body: str = ""


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _draw(upsert: Any) -> Any:
    return (
        upsert(Counter)
        .values(name=bindparam("name", type_=String), value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )


_DRAW = {True: _draw(pg_insert), False: _draw(sqlite_insert)}


def draw_sequence(session: Session, series: str, year: int) -> int:
    """The next issue of ``series`` in ``year``: one upsert of its counter row, in the
    caller's transaction — a rolled-back order gives its number back, so the numbers
    have no gaps; concurrent creators queue on the row's lock."""
    stmt = _DRAW[_is_postgresql(session)]
    return int(
        session.connection().execute(stmt, {"name": counter_name(series, year)}).scalar_one()
    )


_text = clean_text


def _require_supervisor(actor: Actor) -> None:
    if actor.role not in SUPERVISING:
        raise PermissionDenied(NOT_SUPERVISOR)


def _cases_for(
    session: Session, data: OrderInput, *, actor: Actor, clock: Clock
) -> tuple[list[Case], Any]:
    rule = data.rule
    if data.rule_id is not None:
        saved = session.get(SupervisionRule, data.rule_id)
        if saved is None:
            raise InvalidInput("no saved rule has this id", field="rule_id")
        rule = SelectionRule.parse(saved.kind, saved.params)
    if rule is not None and data.case_ids:
        raise InvalidInput("give case ids or a rule, not both", field="case_ids")
    if rule is not None:
        # A supervisor of a district or street compiles from their territory only.
        cases = [c for c in select_cases(session, rule, clock=clock) if can_see(actor, c)]
        if not cases:
            raise InvalidInput("no open case matches the rule", field="rule")
        return cases, {"kind": rule.kind.value, "params": dict(rule.params)}
    ids = list(dict.fromkeys(data.case_ids))
    if not ids and data.ledger_item_ids:
        return [], None
    if not ids:
        raise InvalidInput("pick at least one case, by hand or by a rule", field="case_ids")
    if len(ids) > MAX_PROBLEMS:
        raise InvalidInput("an order holds at most 200 problems", field="case_ids")
    found = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput("no case has this id", field="case_ids", case_ids=missing)
    outside = [i for i in ids if not can_see(actor, found[i])]
    if outside:
        raise PermissionDenied(
            "a supervisor of a territory orders only the cases of their territory",
            case_ids=outside,
        )
    return [found[i] for i in ids], None


def _items_for(
    session: Session, data: OrderInput, cases: list[Case], *, actor: Actor
) -> list[LedgerNode]:
    """The ledger items (具体表现) picked by hand, each with a lead unit to answer it."""
    ids = list(dict.fromkeys(data.ledger_item_ids))
    if not ids:
        return []
    if len(ids) + len(cases) > MAX_PROBLEMS:
        raise InvalidInput("an order holds at most 200 problems", field="ledger_item_ids")
    found = {
        n.id: n
        for n in session.scalars(
            select(LedgerNode).where(LedgerNode.id.in_(ids), LedgerNode.kind == "item")
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            "no ledger item has this id", field="ledger_item_ids", ledger_item_ids=missing
        )
    outside = [i for i in ids if not node_visible(session, actor, found[i])]
    if outside:
        raise PermissionDenied(
            "a supervisor of a territory orders only the ledger items of their territory",
            ledger_item_ids=outside,
        )
    unowned = [i for i in ids if found[i].lead_unit_id is None]
    if unowned:
        raise InvalidInput(
            "the ledger item has no lead unit", field="ledger_item_ids", ledger_item_ids=unowned
        )
    return [found[i] for i in ids]


def _addressees(
    session: Session, data: OrderInput, cases: list[Case], items: Sequence[LedgerNode] = ()
) -> list[Unit]:
    if data.units:
        codes = list(dict.fromkeys(data.units))
        found = {u.code: u for u in session.scalars(select(Unit).where(Unit.code.in_(codes)))}
        bad = [c for c in codes if c not in found or not found[c].is_active]
        if bad:
            raise InvalidInput("no active unit has this code", field="units", units=bad)
        return [found[c] for c in codes]
    ids = list(
        dict.fromkeys(
            [c.unit_id for c in cases if c.unit_id is not None]
            + [i.lead_unit_id for i in items if i.lead_unit_id is not None]
        )
    )
    if not ids:
        raise InvalidInput("the cases have no responsible unit yet: name the units", field="units")
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [units[i] for i in ids]


def _thumbnail(session: Session, case_id: int) -> str | None:
    return session.scalars(
        select(CasePhoto.photo_id)
        .where(CasePhoto.case_id == case_id)
        .order_by(CasePhoto.stage != "before", CasePhoto.id)
        .limit(1)
    ).first()


def create_order(
    session: Session, *, actor: Actor, clock: Clock, data: OrderInput
) -> SupervisionOrder:
    """Compile, number and issue an order (督办单) of the picked cases."""
    _require_supervisor(actor)
    policy = supervision_policy()
    title = _text(data.title, "title", 200)
    body = _text(data.body, "body", 4000, required=False)
    series = _text(data.series or policy.series, "series", 40)
    days = policy.reply_work_days if data.reply_work_days is None else data.reply_work_days
    if isinstance(days, bool) or not 1 <= days <= 365:
        raise InvalidInput("the reply time must be 1 to 365 working days", field="reply_work_days")
    with writing(session):
        cases, rule = _cases_for(session, data, actor=actor, clock=clock)
        items = _items_for(session, data, cases, actor=actor)
        units = _addressees(session, data, cases, items)
        unit_ids = {u.id for u in units}
        now = clock.now()
        city = load_policy(session)
        year = now.astimezone(city.tz).year
        sequence = draw_sequence(session, series, year)
        order = SupervisionOrder(
            number=order_number(series, year, sequence),
            series=series,
            year=year,
            sequence=sequence,
            title=title,
            body=body,
            status=OrderStatus.ISSUED,
            reply_work_days=days,
            issued_at=now,
            due_at=city.calendar.due_at(now, TimeLimit(days, LimitUnit.WORK_DAYS)),
            rule=rule,
            created_by_id=actor.user_id,
            updated_at=now,
        )
        order.addressees = [OrderUnit(unit_id=u.id, position=i) for i, u in enumerate(units, 1)]
        for position, case in enumerate(cases, start=1):
            unit_id = case.unit_id if case.unit_id in unit_ids else units[0].id
            order.problems.append(
                OrderProblem(
                    position=position,
                    subject_kind="case",
                    case_id=case.id,
                    unit_id=unit_id,
                    description=case.description[:2000],
                    place=case.address or f"{case.lat:.5f}, {case.lon:.5f}",
                    photo_id=_thumbnail(session, case.id),
                    status=ProblemStatus.OPEN,
                    send_back_count=0,
                )
            )
        for position, item in enumerate(items, start=len(cases) + 1):
            unit_id = item.lead_unit_id if item.lead_unit_id in unit_ids else units[0].id
            order.problems.append(
                OrderProblem(
                    position=position,
                    subject_kind="ledger_item",
                    ledger_item_id=item.id,
                    unit_id=unit_id,
                    description=item.text[:2000],
                    place="",
                    status=ProblemStatus.OPEN,
                    send_back_count=0,
                )
            )
        session.add(order)
        session.flush()
        append_order_event(
            session,
            order,
            action="issue",
            actor=actor,
            at=now,
            note=order.number,
            payload={
                "units": [u.code for u in units],
                "cases": [c.code for c in cases],
                "ledger_items": [i.id for i in items],
                "due_at": order.due_at.isoformat(),
                "rule": rule,
            },
        )
    return order


@dataclass(frozen=True)
class OrderPreview:
    """An order as it would be issued now, nothing written and no number drawn."""

    number: str  # the next free one of its series (another order may take it first)
    title: str
    series: str
    due_at: Any
    units: list[Unit]
    problems: list[tuple[int, str, str, str, str]]  # position, kind, description, place, unit


def preview_order(
    session: Session, *, actor: Actor, clock: Clock, data: OrderInput
) -> OrderPreview:
    """What :func:`create_order` would issue for ``data``: the same checks, nothing written.

    Raises:
        PermissionDenied, InvalidInput: as :func:`create_order`.
    """
    _require_supervisor(actor)
    policy = supervision_policy()
    title = _text(data.title, "title", 200)
    _text(data.body, "body", 4000, required=False)
    series = _text(data.series or policy.series, "series", 40)
    days = policy.reply_work_days if data.reply_work_days is None else data.reply_work_days
    if isinstance(days, bool) or not 1 <= days <= 365:
        raise InvalidInput("the reply time must be 1 to 365 working days", field="reply_work_days")
    cases, _ = _cases_for(session, data, actor=actor, clock=clock)
    items = _items_for(session, data, cases, actor=actor)
    units = _addressees(session, data, cases, items)
    by_id = {u.id: u for u in units}
    now = clock.now()
    city = load_policy(session)
    year = now.astimezone(city.tz).year
    taken = session.get(Counter, counter_name(series, year))
    rows: list[tuple[int, str, str, str, str]] = []
    for case in cases:
        unit = by_id.get(case.unit_id or 0, units[0])
        place = case.address or f"{case.lat:.5f}, {case.lon:.5f}"
        rows.append((len(rows) + 1, "case", case.description[:2000], place, unit.name))
    for item in items:
        unit = by_id.get(item.lead_unit_id or 0, units[0])
        rows.append((len(rows) + 1, "ledger_item", item.text[:2000], "", unit.name))
    return OrderPreview(
        number=order_number(series, year, (taken.value if taken else 0) + 1),
        title=title,
        series=series,
        due_at=city.calendar.due_at(now, TimeLimit(days, LimitUnit.WORK_DAYS)),
        units=units,
        problems=rows,
    )


def save_rule(
    session: Session, *, actor: Actor, clock: Clock, name: str, rule: SelectionRule
) -> SupervisionRule:
    """Save a selection rule under a name, for later orders."""
    _require_supervisor(actor)
    cleaned = _text(name, "name", 100)
    with writing(session):
        if session.scalars(select(SupervisionRule).where(SupervisionRule.name == cleaned)).first():
            raise Conflict("a rule with this name exists already", field="name")
        saved = SupervisionRule(
            name=cleaned,
            kind=rule.kind.value,
            params=dict(rule.params),
            created_by_id=actor.user_id,
            created_at=clock.now(),
        )
        session.add(saved)
    return saved


# --------------------------------------------------------------------------- reads


def require_reader(actor: Actor) -> None:
    """Refuse roles that do not work with orders (citizens, collectors, dispatchers...)."""
    if actor.role in SEE_ALL:
        return
    if actor.role == Role.HANDLER and actor.unit_id is not None:
        return
    raise PermissionDenied(NO_ORDERS)


def list_orders(
    session: Session,
    *,
    actor: Actor,
    status: OrderStatus | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[SupervisionOrder], int]:
    """The orders ``actor`` may see, newest first, and how many there are: all of them
    for supervisors and leaders; for a unit, those with a problem of its own."""
    require_reader(actor)
    query = select(SupervisionOrder)
    mine: list[ColumnElement[bool]] = []  # one problem must meet them all
    if actor.role not in SEE_ALL:
        mine.append(OrderProblem.unit_id == actor.unit_id)
    territory = _in_territory(session, actor)
    if territory is not None:
        mine.append(territory)
    if mine:
        query = query.where(SupervisionOrder.id.in_(select(OrderProblem.order_id).where(*mine)))
    if status is not None:
        query = query.where(SupervisionOrder.status == status)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.options(
            selectinload(SupervisionOrder.problems), selectinload(SupervisionOrder.addressees)
        )
        .order_by(SupervisionOrder.issued_at.desc(), SupervisionOrder.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), total


def get_order(session: Session, *, actor: Actor, order_id: int) -> SupervisionOrder:
    """One order, if ``actor`` may see it (404 otherwise, as for one that does not exist)."""
    require_reader(actor)
    order = session.get(SupervisionOrder, order_id)
    if order is None or not visible_problems(order, actor):
        raise NotFound(ORDER_NOT_FOUND, order_id=order_id)
    return order


def _scoped(actor: Actor) -> bool:
    """Staff of a district or a street see only their territory's problems (issue 15)."""
    return actor.region_code is not None and actor.role not in (Role.CITIZEN, Role.SYSTEM)


def _in_territory(session: Session, actor: Actor) -> ColumnElement[bool] | None:
    """The problems of ``actor``'s territory as SQL: addressed to its territorial units,
    or about a case filed there; ``None`` for city staff."""
    if not _scoped(actor):
        return None
    region = actor.region_code
    units = territory_units(session, region) if region else set()
    cases = select(Case.id).where(or_(Case.district_code == region, Case.street_code == region))
    return or_(OrderProblem.unit_id.in_(units), OrderProblem.case_id.in_(cases))


def visible_problems(order: SupervisionOrder, actor: Actor) -> list[OrderProblem]:
    """The problems of ``order`` that ``actor`` may see: a unit only its own; staff of a
    district or a street only those of their territory (its territorial units' problems,
    or problems about a case filed there)."""
    found = (
        list(order.problems)
        if actor.role in SEE_ALL
        else [p for p in order.problems if p.unit_id == actor.unit_id]
    )
    session = object_session(order)
    if not _scoped(actor) or not found or session is None:
        return found
    region = actor.region_code or ""
    units = territory_units(session, region)
    case_ids = {p.case_id for p in found if p.case_id is not None}
    inside = (
        set(
            session.scalars(
                select(Case.id).where(
                    Case.id.in_(case_ids),
                    or_(Case.district_code == region, Case.street_code == region),
                )
            )
        )
        if case_ids
        else set()
    )
    return [p for p in found if p.unit_id in units or p.case_id in inside]


# --------------------------------------------------------------------------- writes


def _locked(
    session: Session, order_id: int, problem_id: int
) -> tuple[SupervisionOrder, OrderProblem]:
    order = session.scalars(
        select(SupervisionOrder).where(SupervisionOrder.id == order_id).with_for_update()
    ).first()
    if order is None:
        raise NotFound(ORDER_NOT_FOUND, order_id=order_id)
    problem = session.scalars(
        select(OrderProblem)
        .where(OrderProblem.id == problem_id, OrderProblem.order_id == order_id)
        .with_for_update()
    ).first()
    if problem is None:
        raise NotFound(PROBLEM_NOT_FOUND, problem_id=problem_id)
    return order, problem


def _roll_up(order: SupervisionOrder, clock: Clock) -> None:
    now = clock.now()
    order.status = roll_up(p.status for p in order.problems)
    order.closed_at = now if order.status is OrderStatus.CLOSED else None
    order.updated_at = now


def answer_problem(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    order_id: int,
    problem_id: int,
    reply: ReplyInput,
) -> SupervisionOrder:
    """A unit answers one of its problems: measures taken, photos, done or not."""
    if actor.role != Role.HANDLER or actor.unit_id is None:
        raise PermissionDenied(NOT_YOURS)
    measures, photo_ids = clean_reply(reply)
    with writing(session):
        order, problem = _locked(session, order_id, problem_id)
        if problem.unit_id != actor.unit_id:
            # Other units' problems are not shown to this unit: not found.
            raise NotFound(PROBLEM_NOT_FOUND, problem_id=problem_id)
        now = clock.now()
        apply_answer(
            session,
            problem,
            actor=actor,
            now=now,
            measures=measures,
            photo_ids=photo_ids,
            done=reply.done,
        )
        _roll_up(order, clock)
        append_order_event(
            session,
            order,
            action="answer",
            actor=actor,
            at=now,
            problem_id=problem.id,
            note=measures,
            payload={"done": bool(reply.done), "photo_ids": photo_ids},
        )
    return order


def review_problem(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    order_id: int,
    problem_id: int,
    accept: bool,
    reason: str = "",
) -> SupervisionOrder:
    """A supervisor accepts an answered problem, or sends it back with a reason."""
    _require_supervisor(actor)
    cleaned = _text(reason, "reason", 2000, required=not accept)
    with writing(session):
        order, problem = _locked(session, order_id, problem_id)
        now = clock.now()
        apply_review(problem, actor=actor, now=now, accept=accept, reason=cleaned)
        _roll_up(order, clock)
        append_order_event(
            session,
            order,
            action="accept" if accept else "send_back",
            actor=actor,
            at=now,
            problem_id=problem.id,
            note=cleaned,
            payload={"order_status": order.status.value},
        )
    return order
