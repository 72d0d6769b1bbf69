"""Which ledger entries a territory's staff see (issue 15: territory scope).

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


def scoped(actor: Actor) -> bool:
    """Whether ``actor`` sees only a territory's part of a ledger."""
    return actor.region_code is not None and actor.role not in (Role.CITIZEN, Role.SYSTEM)


def visible_nodes(session: Session, actor: Actor, ledger_id: int) -> set[int] | None:
    """The ids of the ledger's entries ``actor`` sees; ``None``: all of them."""
    if not scoped(actor):
        return None
    assert actor.region_code is not None
    units = territory_units(session, actor.region_code)
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
    cases = cases_in_territory(
        session, actor.region_code, {r.case_id for r in rows if r.case_id is not None}
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
    """Whether ``actor`` sees the entry ``node``."""
    seen = visible_nodes(session, actor, node.ledger_id)
    return seen is None or node.id in seen
