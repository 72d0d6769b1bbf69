"""Import a ledger from a workbook: refused whole with every bad cell named, or written
whole in one unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.unitofwork import writing
from duban.ledgers.access import require_manager
from duban.ledgers.errors import LedgerFileRefused, cell_rows
from duban.ledgers.events import record
from duban.ledgers.messages import text
from duban.ledgers.models import Ledger, LedgerNode
from duban.ledgers.policy import ledger_policy
from duban.ledgers.rules import LEVELS, NodeKind, roll_up
from duban.ledgers.sheet import MeasureRow, SheetRefused, parse_rows
from duban.ledgers.workbook import FileRefused, read_rows


@dataclass(frozen=True)
class Imported:
    """The new ledger and how many entries of each level it has."""

    ledger: Ledger
    counts: dict[str, int]


COUNT_NAMES = {
    NodeKind.ASPECT: "aspects",
    NodeKind.CATEGORY: "categories",
    NodeKind.PROBLEM: "problems",
    NodeKind.ITEM: "items",
    NodeKind.MEASURE: "measures",
}


def parse_workbook(data: bytes, *, lang: str = "en") -> list[MeasureRow]:
    """The measures of a workbook, or :class:`LedgerFileRefused` naming what is wrong."""
    limits = ledger_policy().limits
    try:
        rows = read_rows(data, limits)
    except FileRefused as err:
        message = text(err.key, lang, **err.values)
        raise LedgerFileRefused(
            message, [{"row": 0, "column": "", "message": message}], lang=lang
        ) from err
    try:
        return parse_rows(rows, max_rows=limits.max_rows, max_chars=limits.max_cell_chars)
    except SheetRefused as err:
        bad = cell_rows(err.errors, lang=lang, limit=limits.max_errors)
        shown = "; ".join(_where(r, lang) for r in bad[:3])
        summary = text("{count} bad cell(s)", lang, count=len(err.errors)) + f" — {shown}"
        raise LedgerFileRefused(summary, bad, lang=lang) from err


def _where(row: dict[str, Any], lang: str) -> str:
    if row["column"]:
        return text("row {row}, {column}: {message}", lang, **row)
    return str(row["message"])


def _units(session: Session) -> dict[str, int]:
    found: dict[str, int] = {}
    for unit_id, code, name in session.execute(select(Unit.id, Unit.code, Unit.name)):
        found.setdefault(name.strip(), unit_id)
        found.setdefault(code.strip(), unit_id)
    return found


def import_ledger(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    title: str,
    data: bytes,
    lang: str = "en",
) -> Imported:
    """A new ledger from an xlsx in the template (see :mod:`duban.ledgers.sheet`).

    Raises:
        PermissionDenied: the actor may not change ledgers.
        InvalidInput: no title.
        LedgerFileRefused: the file, or any of its cells (nothing is written).
    """
    require_manager(actor)
    title = (title or "").strip()
    if not title:
        raise InvalidInput("a title is required", field="title")
    if len(title) > 200:
        raise InvalidInput(Msg("longer than {limit} characters", limit=200), field="title")
    measures = parse_workbook(data, lang=lang)
    return write_ledger(session, actor=actor, clock=clock, title=title, measures=measures)


def write_ledger(
    session: Session, *, actor: Actor, clock: Clock, title: str, measures: Sequence[MeasureRow]
) -> Imported:
    """Write a parsed ledger: one node per distinct path, level by level."""
    now = clock.now()
    with writing(session):
        units = _units(session)
        ledger = Ledger(title=title, created_by_id=actor.user_id, created_at=now)
        session.add(ledger)
        session.flush()
        nodes: dict[tuple[str, ...], LedgerNode] = {}
        children: dict[tuple[str, ...], int] = {}
        leaves: dict[tuple[str, ...], list[MeasureRow]] = {}
        for m in measures:
            leaves.setdefault(m.path[:4], []).append(m)
        counts = dict.fromkeys(COUNT_NAMES.values(), 0)
        for depth, kind in enumerate(LEVELS):
            made: list[tuple[tuple[str, ...], LedgerNode]] = []
            for m in measures:
                path = m.path[: depth + 1]
                if kind != NodeKind.MEASURE and path in nodes:
                    continue
                parent = nodes.get(path[:-1]) if depth else None
                position = children.get(path[:-1], 0)
                children[path[:-1]] = position + 1
                node = LedgerNode(
                    ledger_id=ledger.id,
                    parent_id=parent.id if parent else None,
                    kind=kind.value,
                    position=position,
                    text=path[-1],
                    updated_at=now,
                    helper_units=[],
                )
                if kind == NodeKind.MEASURE:
                    node.leader = m.leader
                    node.lead_unit_text = m.lead_unit
                    node.lead_unit_id = units.get(m.lead_unit) if m.lead_unit else None
                    node.helper_units = list(m.helper_units)
                    node.deadline = m.deadline
                    node.status = m.status.value
                    node.note = m.note
                else:
                    nodes[path] = node
                if kind == NodeKind.ITEM:
                    _item_fields(node, leaves[path], units)
                made.append((path, node))
            session.add_all([node for _, node in made])
            session.flush()
            counts[COUNT_NAMES[kind]] = len(made)
        record(
            session,
            ledger_id=ledger.id,
            node_id=None,
            kind="imported",
            actor=actor,
            clock=clock,
            title=title,
            counts=counts,
        )
    return Imported(ledger=ledger, counts=counts)


def _item_fields(node: LedgerNode, own: Sequence[MeasureRow], units: dict[str, int]) -> None:
    """An item's status, leader, unit and deadline from its measures'."""
    node.status = roll_up(m.status for m in own).value
    first = next((m for m in own if m.leader or m.lead_unit), None)
    if first is not None:
        node.leader = first.leader
        node.lead_unit_text = first.lead_unit
        node.lead_unit_id = units.get(first.lead_unit) if first.lead_unit else None
    deadlines = [m.deadline for m in own if m.deadline]
    node.deadline = max(deadlines) if deadlines else None
