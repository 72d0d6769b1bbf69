"""Administration use cases: units, users, filing-condition limits, taxonomy and policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.kernel.context import Actor, Clock
from duban.kernel.db.models import Setting
from duban.kernel.db.stamps import TAXONOMY_KEY, next_stamp
from duban.kernel.errors import InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.reference.calendar import LimitUnit, TimeLimit
from duban.reference.categories import TaxonomyLoad, forget_taxonomy_memo, install_taxonomy
from duban.reference.models import FilingCondition
from duban.reference.policy import Policy, save_policy


def require_admin(actor: Actor) -> None:
    """Refuse anybody but an administrator."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied(
            Msg(
                "only an administrator may change reference data (you are '{role}')",
                role=actor.role.value,
            )
        )


def set_condition_limit(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    code: str,
    amount: float,
    unit: str,
) -> FilingCondition:
    """Change the time limit of one filing condition (立案条件); new dispatches use it.

    Cases already dispatched keep the deadline they were given.
    """
    require_admin(actor)
    try:
        limit = TimeLimit(amount, LimitUnit(unit))
    except ValueError as err:
        units = ", ".join(u.value for u in LimitUnit)
        raise InvalidInput(
            Msg("the time limit must be a positive amount in one of: {units}", units=units),
            field="limit",
            cause=str(err),
        ) from err
    with writing(session):
        condition = session.get(FilingCondition, code)
        if condition is None:
            raise NotFound(Msg("filing condition '{code}' does not exist", code=code))
        condition.limit_amount = limit.amount
        condition.limit_unit = limit.unit.value
        # The taxonomy changed: bump its stamp so caches and Open311 discovery notice.
        forget_taxonomy_memo(session)
        meta = session.get(Setting, TAXONOMY_KEY)
        if meta is not None:
            value = dict(meta.value or {})
            value["edited_at"] = clock.now().isoformat()
            meta.value = value
            meta.updated_at = next_stamp(meta.updated_at, clock.now())
        return condition


def replace_taxonomy(
    session: Session, *, actor: Actor, clock: Clock, data: Mapping[str, Any]
) -> TaxonomyLoad:
    """Replace the whole taxonomy with a city's own (validated first; all or nothing)."""
    require_admin(actor)
    return install_taxonomy(session, data, now=clock.now())


def replace_policy(
    session: Session, *, actor: Actor, clock: Clock, data: Mapping[str, Any]
) -> Policy:
    """Replace the policy (calendar, step limits, source rules); validated first."""
    require_admin(actor)
    return save_policy(session, data, now=clock.now())


def current_policy_data(session: Session) -> dict[str, Any]:
    """The live policy as data (the shipped default when none was saved)."""
    from duban.kernel.db.stamps import POLICY_KEY
    from duban.reference.policy import shipped_policy_data

    row = session.scalars(select(Setting).where(Setting.key == POLICY_KEY)).first()
    return dict(row.value) if row is not None else shipped_policy_data()
