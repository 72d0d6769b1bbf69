"""Who may do what with ledgers."""

from __future__ import annotations

from typing import Final

from duban.kernel.context import Actor
from duban.kernel.errors import PermissionDenied
from duban.kernel.roles import Role
from duban.ledgers.models import LedgerNode

#: Import ledgers, link items to cases, take snapshots; review sign-offs.
MANAGERS: Final = frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN})
#: Everyone who works in the loop reads ledgers; citizens do not.
READERS: Final = frozenset(Role) - {Role.CITIZEN}


def require_reader(actor: Actor) -> None:
    """Refuse a citizen (or an anonymous caller)."""
    if actor.role not in READERS:
        raise PermissionDenied("this role may not read ledgers")


def require_manager(actor: Actor) -> None:
    """Refuse anyone but supervisors, leaders and administrators."""
    if actor.role not in MANAGERS and actor.role != Role.SYSTEM:
        raise PermissionDenied("this role may not change ledgers")


def require_reviewer(actor: Actor) -> None:
    """Refuse anyone who may not approve or refuse a sign-off."""
    if actor.role not in MANAGERS:
        raise PermissionDenied("this role may not review sign-offs")


def require_progress(actor: Actor, node: LedgerNode) -> None:
    """Managers change any measure; a unit's handler only those its unit leads."""
    if actor.role in MANAGERS:
        return
    if actor.role == Role.HANDLER:
        if actor.unit_id is not None and node.lead_unit_id == actor.unit_id:
            return
        raise PermissionDenied("a unit may change only its own measures")
    raise PermissionDenied("this role may not change ledgers")
