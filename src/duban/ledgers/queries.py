"""Reads of ledgers: the list, the tree, progress by unit and leader, events, sign-offs,
the rows of an export, and the items of a case."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from duban.cases import Case
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import Msg, NotFound
from duban.ledgers.access import require_reader
from duban.ledgers.models import (
    Ledger,
    LedgerEvent,
    LedgerEvidence,
    LedgerNode,
    LedgerNodeCase,
    LedgerNoteFile,
    LedgerSignoff,
    LedgerSnapshot,
)
from duban.ledgers.rules import DONE, LEVELS, LedgerStatus, NodeKind, done_percent
from duban.ledgers.scope import scoped, visible_nodes
from duban.ledgers.sheet import MeasureRow
from duban.reference import load_policy


def get_ledger(session: Session, ledger_id: int) -> Ledger:
    """The ledger, or :class:`NotFound`."""
    ledger = session.get(Ledger, ledger_id)
    if ledger is None:
        raise NotFound(Msg("no ledger {id}", id=ledger_id))
    return ledger


def list_ledgers(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    """Every ledger, newest first, with its measures counted by status."""
    require_reader(actor)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    if scoped(actor):  # a territory's staff: only the measures of their territory
        for ledger_id in session.scalars(select(Ledger.id)):
            seen = visible_nodes(session, actor, ledger_id) or set()
            for node_id, status in session.execute(
                select(LedgerNode.id, LedgerNode.status).where(
                    LedgerNode.ledger_id == ledger_id, LedgerNode.kind == NodeKind.MEASURE.value
                )
            ):
                if node_id in seen:
                    counts[ledger_id][status or ""] += 1
    else:
        for ledger_id, status, n in session.execute(
            select(LedgerNode.ledger_id, LedgerNode.status, func.count())
            .where(LedgerNode.kind == NodeKind.MEASURE.value)
            .group_by(LedgerNode.ledger_id, LedgerNode.status)
        ):
            counts[ledger_id][status or ""] += n
    out = []
    for ledger in session.scalars(select(Ledger).order_by(Ledger.id.desc())):
        own = counts[ledger.id]
        if scoped(actor) and not own:
            continue
        total = sum(own.values())
        done = sum(own[s.value] for s in DONE)
        out.append(
            {
                "id": ledger.id,
                "title": ledger.title,
                "created_at": ledger.created_at,
                "measures": total,
                "done": done,
                "done_percent": done_percent(done, total),
            }
        )
    return out


def _nodes(session: Session, ledger_id: int, visible: set[int] | None = None) -> list[LedgerNode]:
    found = session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger_id)
        .order_by(LedgerNode.parent_id.nulls_first(), LedgerNode.position)
    )
    return [n for n in found if visible is None or n.id in visible]


def _node_dict(node: LedgerNode) -> dict[str, Any]:
    body: dict[str, Any] = {"id": node.id, "kind": node.kind, "text": node.text}
    if node.kind in (NodeKind.ITEM.value, NodeKind.MEASURE.value):
        body.update(
            leader=node.leader,
            lead_unit=node.lead_unit_text,
            lead_unit_id=node.lead_unit_id,
            helper_units=list(node.helper_units or []),
            deadline=node.deadline.isoformat() if node.deadline else None,
            status=node.status,
            note=node.note,
            milestones=list(node.milestones or []),
        )
    if node.kind == NodeKind.ITEM.value:
        body["case_id"] = node.case_id
    if node.kind in (NodeKind.ITEM.value, NodeKind.MEASURE.value):
        body["cases"] = []  # the cases it raised
    if node.kind == NodeKind.MEASURE.value:
        body["signoff"] = None
    else:
        body["children"] = []
    return body


def raised_cases(session: Session, node_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """The cases each node raised, ``(case id, 案卷号)`` in the order they were raised."""
    ids = list(node_ids)
    out: dict[int, list[tuple[int, str]]] = {}
    if not ids:
        return out
    for node_id, case_id, code in session.execute(
        select(LedgerNodeCase.node_id, Case.id, Case.code)
        .join(Case, Case.id == LedgerNodeCase.case_id)
        .where(LedgerNodeCase.node_id.in_(ids))
        .order_by(LedgerNodeCase.created_at, Case.id)
    ):
        out.setdefault(node_id, []).append((case_id, code))
    return out


def ledger_tree(session: Session, *, actor: Actor, ledger_id: int) -> dict[str, Any]:
    """The ledger with its tree: aspects → categories → problems → items → measures
    (each measure with its latest sign-off request, if any)."""
    require_reader(actor)
    ledger = get_ledger(session, ledger_id)
    nodes = _nodes(session, ledger_id, visible_nodes(session, actor, ledger_id))
    bodies = {n.id: _node_dict(n) for n in nodes}
    for node_id, raised in raised_cases(session, bodies).items():
        bodies[node_id]["cases"] = [{"id": i, "code": code} for i, code in raised]
    latest: dict[int, LedgerSignoff] = {}
    for signoff in session.scalars(
        select(LedgerSignoff)
        .join(LedgerNode, LedgerNode.id == LedgerSignoff.node_id)
        .where(LedgerNode.ledger_id == ledger_id)
        .order_by(LedgerSignoff.id)
    ):
        latest[signoff.node_id] = signoff
    roots = []
    for node in nodes:
        body = bodies[node.id]
        if node.id in latest and node.id in bodies:
            s = latest[node.id]
            body["signoff"] = {"id": s.id, "state": s.state, "reason": s.reason}
        if node.parent_id is None:
            roots.append(body)
        else:
            bodies[node.parent_id]["children"].append(body)
    return {
        "id": ledger.id,
        "title": ledger.title,
        "created_at": ledger.created_at,
        "aspects": roots,
    }


def measure_rows(
    session: Session, ledger_id: int, visible: set[int] | None = None
) -> Iterator[MeasureRow]:
    """The ledger's measures in tree order (those in ``visible`` if given), each with the
    path of its parents."""
    nodes = _nodes(session, ledger_id, visible)
    children: dict[int | None, list[LedgerNode]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)

    def walk(parent: int | None, path: tuple[str, ...]) -> Iterator[MeasureRow]:
        for node in children[parent]:
            here = (*path, node.text)
            if node.kind == NodeKind.MEASURE.value:
                yield MeasureRow(
                    path=(here[0], here[1], here[2], here[3], here[4]),
                    leader=node.leader,
                    lead_unit=node.lead_unit_text,
                    helper_units=tuple(node.helper_units or ()),
                    deadline=node.deadline,
                    status=LedgerStatus(node.status or LedgerStatus.NOT_STARTED.value),
                    note=node.note,
                )
            else:
                yield from walk(node.id, here)

    yield from walk(None, ())


_Entry = tuple[str, bool, int]  # (status, late, item id) of one measure


def _figures(rows: list[_Entry]) -> dict[str, Any]:
    total = len(rows)
    done = sum(1 for status, _, _ in rows if status in DONE)
    overdue = sum(1 for _, late, _ in rows if late)
    return {
        "items": len({item for _, _, item in rows}),
        "measures": total,
        "done": done,
        "overdue": overdue,
        "done_percent": done_percent(done, total),
    }


def progress(session: Session, *, actor: Actor, clock: Clock, ledger_id: int) -> dict[str, Any]:
    """Progress of a ledger: ``items`` (具体表现, as the import counts them) and
    ``measures`` (整改措施, one per template row); ``done``, ``by_status``, ``overdue``
    (逾期, or past the deadline and not done) and ``done_percent`` of the measures;
    ``items_by_status`` of the items; the same figures ``by_unit`` (lead unit) and
    ``by_leader`` (a group's ``items``: the items with a measure in it)."""
    require_reader(actor)
    ledger = get_ledger(session, ledger_id)
    today = clock.now().astimezone(load_policy(session).tz).date()
    rows = session.execute(
        select(
            LedgerNode.kind,
            LedgerNode.id,
            LedgerNode.parent_id,
            LedgerNode.status,
            LedgerNode.deadline,
            LedgerNode.lead_unit_text,
            LedgerNode.leader,
        ).where(
            LedgerNode.ledger_id == ledger_id,
            LedgerNode.kind.in_((NodeKind.ITEM.value, NodeKind.MEASURE.value)),
        )
    ).all()
    seen = visible_nodes(session, actor, ledger_id)
    if seen is not None:
        rows = [r for r in rows if r.id in seen]
    by_status = dict.fromkeys((s.value for s in LedgerStatus), 0)
    items_by_status = dict.fromkeys((s.value for s in LedgerStatus), 0)
    by_unit: dict[str, list[_Entry]] = defaultdict(list)
    by_leader: dict[str, list[_Entry]] = defaultdict(list)
    every: list[_Entry] = []
    for kind, node_id, parent_id, raw_status, deadline, unit, leader in rows:
        status = raw_status or LedgerStatus.NOT_STARTED.value
        if kind == NodeKind.ITEM.value:
            items_by_status[status] = items_by_status.get(status, 0) + 1
            continue
        late = status == LedgerStatus.OVERDUE.value or (
            status not in DONE and deadline is not None and deadline < today
        )
        entry = (status, late, parent_id or node_id)
        by_status[status] = by_status.get(status, 0) + 1
        by_unit[unit or ""].append(entry)
        by_leader[leader or ""].append(entry)
        every.append(entry)
    whole = _figures(every)
    return {
        "ledger_id": ledger.id,
        "title": ledger.title,
        "as_of": today.isoformat(),
        "items": sum(items_by_status.values()),
        "measures": whole["measures"],
        "done": whole["done"],
        "by_status": by_status,
        "items_by_status": items_by_status,
        "overdue": whole["overdue"],
        "done_percent": whole["done_percent"],
        "by_unit": [{"unit": k, **_figures(v)} for k, v in sorted(by_unit.items())],
        "by_leader": [{"leader": k, **_figures(v)} for k, v in sorted(by_leader.items())],
    }


def ledger_events(
    session: Session, *, actor: Actor, ledger_id: int, node_id: int | None = None
) -> list[LedgerEvent]:
    """The ledger's events, oldest first (of one entry if ``node_id``)."""
    require_reader(actor)
    get_ledger(session, ledger_id)
    query = select(LedgerEvent).where(LedgerEvent.ledger_id == ledger_id)
    if node_id is not None:
        query = query.where(LedgerEvent.node_id == node_id)
    seen = visible_nodes(session, actor, ledger_id)
    return [
        e
        for e in session.scalars(query.order_by(LedgerEvent.id))
        if seen is None or e.node_id is None or e.node_id in seen
    ]


def ledger_signoffs(
    session: Session, *, actor: Actor, ledger_id: int, state: str | None = None
) -> list[tuple[LedgerSignoff, list[LedgerEvidence]]]:
    """The ledger's sign-off requests (the review queue with ``state="pending"``)."""
    require_reader(actor)
    get_ledger(session, ledger_id)
    query = (
        select(LedgerSignoff)
        .join(LedgerNode, LedgerNode.id == LedgerSignoff.node_id)
        .where(LedgerNode.ledger_id == ledger_id)
    )
    if state:
        query = query.where(LedgerSignoff.state == state)
    seen = visible_nodes(session, actor, ledger_id)
    signoffs = [
        s
        for s in session.scalars(query.order_by(LedgerSignoff.id))
        if seen is None or s.node_id in seen
    ]
    files: dict[int, list[LedgerEvidence]] = defaultdict(list)
    if signoffs:
        for evidence in session.scalars(
            select(LedgerEvidence)
            .where(LedgerEvidence.signoff_id.in_([s.id for s in signoffs]))
            .order_by(LedgerEvidence.created_at, LedgerEvidence.id)
        ):
            files[evidence.signoff_id].append(evidence)
    return [(s, files[s.id]) for s in signoffs]


def ledger_signoffs_of(
    session: Session, *, signoff_id: int
) -> tuple[LedgerSignoff, list[LedgerEvidence]]:
    """One sign-off request with its evidence files."""
    signoff = session.get(LedgerSignoff, signoff_id)
    if signoff is None:
        raise NotFound(Msg("no sign-off request {id}", id=signoff_id))
    files = list(
        session.scalars(
            select(LedgerEvidence)
            .where(LedgerEvidence.signoff_id == signoff_id)
            .order_by(LedgerEvidence.created_at, LedgerEvidence.id)
        )
    )
    return signoff, files


def evidence_file(session: Session, *, actor: Actor, evidence_id: str) -> LedgerEvidence:
    """An evidence file's record (its bytes are in the file store)."""
    require_reader(actor)
    evidence = session.get(LedgerEvidence, evidence_id)
    signoff = session.get(LedgerSignoff, evidence.signoff_id) if evidence else None
    if evidence is None or signoff is None or not _sees(session, actor, signoff.node_id):
        raise NotFound(Msg("no evidence file {id}", id=evidence_id))
    return evidence


def _sees(session: Session, actor: Actor, node_id: int) -> bool:
    if not scoped(actor):
        return True
    node = session.get(LedgerNode, node_id)
    if node is None:
        return False
    seen = visible_nodes(session, actor, node.ledger_id)
    return seen is None or node_id in seen


def note_file(session: Session, *, actor: Actor, file_id: str) -> LedgerNoteFile:
    """A progress note's file record (its bytes are in the file store)."""
    require_reader(actor)
    found = session.get(LedgerNoteFile, file_id)
    if found is None or not _sees(session, actor, found.node_id):
        raise NotFound(Msg("no file {id}", id=file_id))
    return found


def snapshots(session: Session, *, actor: Actor, ledger_id: int) -> list[LedgerSnapshot]:
    """The ledger's weekly snapshots, oldest first."""
    require_reader(actor)
    get_ledger(session, ledger_id)
    return list(
        session.scalars(
            select(LedgerSnapshot)
            .where(LedgerSnapshot.ledger_id == ledger_id)
            .order_by(LedgerSnapshot.week)
        )
    )


def items_of_case(
    session: Session, case_id: int, *, actor: Actor | None = None
) -> list[LedgerNode]:
    """The ledger entries of a case: the items (具体表现) it belongs to and the measures
    or items that raised it (checked for ``actor`` if given)."""
    if actor is not None:
        require_reader(actor)
    raised = select(LedgerNodeCase.node_id).where(LedgerNodeCase.case_id == case_id)
    found = session.scalars(
        select(LedgerNode)
        .where(
            or_(
                and_(LedgerNode.case_id == case_id, LedgerNode.kind == NodeKind.ITEM.value),
                LedgerNode.id.in_(raised),
            )
        )
        .order_by(LedgerNode.id)
    )
    return [n for n in found if actor is None or _sees(session, actor, n.id)]


def counts_of(session: Session, ledger_id: int) -> dict[str, int]:
    """How many entries of each level the ledger has."""
    from duban.ledgers.imports import COUNT_NAMES

    found = dict(
        session.execute(
            select(LedgerNode.kind, func.count())
            .where(LedgerNode.ledger_id == ledger_id)
            .group_by(LedgerNode.kind)
        ).all()
    )
    return {COUNT_NAMES[k]: int(found.get(k.value, 0)) for k in LEVELS}


def pickable_items(
    session: Session, *, actor: Actor, ledger_id: int, q: str = "", limit: int = 200
) -> list[dict[str, Any]]:
    """The items (具体表现) of a ledger ``actor`` sees, for an order to pick by hand: those
    whose text, unit or leader holds ``q``; not yet done ones first, in tree order."""
    require_reader(actor)
    get_ledger(session, ledger_id)
    seen = visible_nodes(session, actor, ledger_id)
    words = q.strip()
    out = []
    for node in session.scalars(
        select(LedgerNode)
        .where(LedgerNode.ledger_id == ledger_id, LedgerNode.kind == NodeKind.ITEM.value)
        .order_by(LedgerNode.id)
    ):
        if seen is not None and node.id not in seen:
            continue
        if words and not any(words in v for v in (node.text, node.lead_unit_text, node.leader)):
            continue
        out.append(
            {
                "id": node.id,
                "text": node.text,
                "lead_unit": node.lead_unit_text,
                "has_unit": node.lead_unit_id is not None,
                "status": node.status or LedgerStatus.NOT_STARTED.value,
                "deadline": node.deadline.isoformat() if node.deadline else "",
            }
        )
    done = {s.value for s in DONE}
    out.sort(key=lambda i: i["status"] in done)
    return out[:limit]


def node_view(
    session: Session, *, actor: Actor, node_id: int
) -> tuple[LedgerNode, list[tuple[LedgerEvent, list[LedgerNoteFile]]]]:
    """An item or a measure the actor sees, with its progress notes (newest first) and
    their files."""
    require_reader(actor)
    node = session.get(LedgerNode, node_id)
    if (
        node is None
        or node.kind not in (NodeKind.ITEM.value, NodeKind.MEASURE.value)
        or not _sees(session, actor, node.id)
    ):
        raise NotFound(Msg("no ledger entry {id}", id=node_id))
    notes = list(
        session.scalars(
            select(LedgerEvent)
            .where(LedgerEvent.node_id == node.id, LedgerEvent.kind == "note")
            .order_by(LedgerEvent.id.desc())
        )
    )
    files: dict[int, list[LedgerNoteFile]] = defaultdict(list)
    if notes:
        for f in session.scalars(
            select(LedgerNoteFile)
            .where(LedgerNoteFile.event_id.in_([e.id for e in notes]))
            .order_by(LedgerNoteFile.created_at, LedgerNoteFile.id)
        ):
            files[f.event_id].append(f)
    return node, [(e, files[e.id]) for e in notes]


def awaiting(
    session: Session, *, actor: Actor, limit: int = 20
) -> dict[str, tuple[int, list[LedgerNode]]]:
    """What waits for a supervisor in the ledgers, within ``actor``'s territory:
    ``signoffs`` (measures with a pending sign-off request) and ``overdue`` measures —
    each as (how many, the first ``limit`` of them)."""
    require_reader(actor)
    pending = select(LedgerSignoff.node_id).where(LedgerSignoff.state == "pending")
    out: dict[str, tuple[int, list[LedgerNode]]] = {}
    for key, condition in (
        ("signoffs", LedgerNode.id.in_(pending)),
        ("overdue", LedgerNode.status == LedgerStatus.OVERDUE.value),
    ):
        found = list(
            session.scalars(
                select(LedgerNode)
                .where(LedgerNode.kind == NodeKind.MEASURE.value, condition)
                .order_by(LedgerNode.deadline.nulls_last(), LedgerNode.id)
            )
        )
        if scoped(actor):
            seen: dict[int, set[int] | None] = {}
            for node in found:
                if node.ledger_id not in seen:
                    seen[node.ledger_id] = visible_nodes(session, actor, node.ledger_id)
            found = [n for n in found if (s := seen[n.ledger_id]) is None or n.id in s]
        out[key] = (len(found), found[:limit])
    return out
