"""Which ledger entries a territory's staff (issue 15) and a unit (issue 13 item 8) see.

A unit's handler sees its own part: the items its unit leads, with their measures, and the
measures it leads elsewhere (with the items, problems… above them as their frame).

City staff (no ``Actor.region_code``) see whole ledgers. Staff of a district or a street
see only the items (具体表现) of their territory and the measures under them: an item is
theirs when its lead unit, or the lead unit of one of its measures, is the territorial
unit (属地) of their region or of a region within it, or when the case it belongs to was
filed there (the case's district or street, as :mod:`duban.cases.access` scopes cases).
The aspects, categories and problems above those items are shown as their frame. An entry
outside the territory is *not found*, as for cases.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from duban.cases import Case
from duban.kernel.context import Actor
from duban.kernel.roles import Role
from duban.ledgers.models import LedgerNode
from duban.ledgers.rules import NodeKind
from duban.places import territory_units


def cases_in_territory(session: Session, region_code: str, case_ids: set[int]) -> set[int]:
    """Those of ``case_ids`` filed in the district or street ``region_code``."""
    if not case_ids:
        return set()
    return set(
        session.scalars(
            select(Case.id).where(
                Case.id.in_(case_ids),
                or_(Case.district_code == region_code, Case.street_code == region_code),
            )
        )
    )


def in_territory(actor: Actor) -> bool:
    """Whether ``actor`` works for a district or a street (not the whole city)."""
    return actor.region_code is not None and actor.role not in (Role.CITIZEN, Role.SYSTEM)


def scoped(actor: Actor) -> bool:
    """Whether ``actor`` sees only a part of a ledger: a territory's, or a unit's own."""
    return in_territory(actor) or actor.role == Role.HANDLER


def visible_nodes(
    session: Session, actor: Actor, ledger_id: int, *, own_unit: bool = True
) -> set[int] | None:
    """The ids of the ledger's entries ``actor`` sees; ``None``: all of them. A unit's
    handler sees its own unit's part (with ``own_unit``; a change of another unit's entry
    is refused as forbidden instead, by :mod:`duban.ledgers.access`)."""
    unit_only = own_unit and actor.role == Role.HANDLER
    if not in_territory(actor) and not unit_only:
        return None
    units: set[int] | None = None
    if in_territory(actor):
        assert actor.region_code is not None
        units = territory_units(session, actor.region_code)
    if unit_only:
        mine = {actor.unit_id} if actor.unit_id is not None else set()
        units = mine if units is None else units & mine
    assert units is not None
    rows = session.execute(
        select(
            LedgerNode.id,
            LedgerNode.parent_id,
            LedgerNode.kind,
            LedgerNode.lead_unit_id,
            LedgerNode.case_id,
        ).where(LedgerNode.ledger_id == ledger_id)
    ).all()
    parent = {r.id: r.parent_id for r in rows}
    cases = (
        cases_in_territory(
            session, actor.region_code, {r.case_id for r in rows if r.case_id is not None}
        )
        if in_territory(actor) and actor.region_code and not unit_only
        else set()
    )
    own = {
        r.id
        for r in rows
        if r.kind == NodeKind.ITEM.value and (r.lead_unit_id in units or r.case_id in cases)
    }
    seen: set[int] = set(own)
    for r in rows:  # a measure led there, or under an item of the territory
        if r.kind == NodeKind.MEASURE.value and (r.lead_unit_id in units or r.parent_id in own):
            seen.add(r.id)
    for node_id in list(seen):  # the frame above: item, problem, category, aspect
        up = parent.get(node_id)
        while up is not None and up not in seen:
            seen.add(up)
            up = parent.get(up)
    return seen


def node_visible(session: Session, actor: Actor, node: LedgerNode) -> bool:
    """Whether the entry ``node`` is in ``actor``'s territory (for a change)."""
    seen = visible_nodes(session, actor, node.ledger_id, own_unit=False)
    return seen is None or node.id in seen
