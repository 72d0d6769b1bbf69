"""Who may see which cases (zulip's ``access_*`` pattern, in one place).

Two things decide it, the same in SQL (:func:`visible_cases`) and in memory
(:func:`can_see`): the role (a unit's handlers see their unit's cases, a collector its
own tasks, a citizen their own reports), and the territory — staff of a district or a
street (``Actor.region_code``) see only the cases whose district or street code is
theirs; city staff see all. A case the caller may not see is reported as *not found*,
never as forbidden, so ids of other units' or territories' cases leak nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from duban.cases.models import Case, CaseHelper
from duban.evidence import Photo
from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.kernel.roles import Role

#: Roles that work city-wide and see every case.
CITY_WIDE: frozenset[Role] = frozenset(
    {
        Role.OPERATOR,
        Role.SHIFT_LEAD,
        Role.DISPATCHER,
        Role.SUPERVISOR,
        Role.LEADER,
        Role.ADMIN,
        Role.SYSTEM,
    }
)


def is_staff(actor: Actor) -> bool:
    """Whether ``actor`` works for the city (anyone but a citizen): staff see the names
    and phones of the people who answer for zones, citizens do not."""
    return actor.role in CITY_WIDE or actor.role in (Role.COLLECTOR, Role.HANDLER)


def visible_cases(actor: Actor) -> ColumnElement[bool]:
    """A SQL condition selecting the cases ``actor`` may see."""
    by_role = _visible_by_role(actor)
    if actor.region_code is None or actor.role == Role.CITIZEN:
        return by_role
    return and_(by_role, in_territory(actor.region_code))


def in_territory(region_code: str) -> ColumnElement[bool]:
    """Cases filed in the district or street ``region_code``."""
    return or_(Case.district_code == region_code, Case.street_code == region_code)


def _visible_by_role(actor: Actor) -> ColumnElement[bool]:
    if actor.role in CITY_WIDE:
        return true()
    if actor.role == Role.HANDLER:
        if actor.unit_id is None:
            return false()
        helper = exists(
            select(CaseHelper.case_id).where(
                CaseHelper.case_id == Case.id, CaseHelper.unit_id == actor.unit_id
            )
        )
        return or_(Case.unit_id == actor.unit_id, helper)
    if actor.role == Role.COLLECTOR:
        return or_(Case.assignee_id == actor.user_id, Case.created_by_id == actor.user_id)
    if actor.role == Role.CITIZEN:
        own = Case.reporter_id == actor.user_id if actor.user_id is not None else false()
        if actor.granted_case_id is not None:
            return or_(own, Case.id == actor.granted_case_id)
        return own
    return false()


def can_see(actor: Actor, case: Case) -> bool:
    """The in-memory twin of :func:`visible_cases` for a loaded case."""
    if (
        actor.region_code is not None
        and actor.role != Role.CITIZEN
        and actor.region_code not in (case.district_code, case.street_code)
    ):
        return False
    return _can_see_by_role(actor, case)


def _can_see_by_role(actor: Actor, case: Case) -> bool:
    if actor.role in CITY_WIDE:
        return True
    if actor.role == Role.HANDLER:
        return actor.unit_id is not None and (
            case.unit_id == actor.unit_id or any(h.unit_id == actor.unit_id for h in case.helpers)
        )
    if actor.role == Role.COLLECTOR:
        return actor.user_id is not None and actor.user_id in (
            case.assignee_id,
            case.created_by_id,
        )
    if actor.role == Role.CITIZEN:
        if actor.granted_case_id is not None and case.id == actor.granted_case_id:
            return True
        return actor.user_id is not None and case.reporter_id == actor.user_id
    return False


def get_visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    """Load a case the actor may see, or raise :class:`NotFound`."""
    case = session.get(Case, case_id)
    if case is None or not can_see(actor, case):
        raise NotFound(
            Msg("case {case_id} does not exist or is not visible to you", case_id=case_id),
            case_id=case_id,
        )
    return case


def owns_photo(actor: Actor, photo: Photo) -> bool:
    """Whether ``actor`` uploaded ``photo``: the same account, or — without an account —
    an upload of this request or browser session (``actor.uploads``)."""
    if actor.role == Role.SYSTEM:
        return True  # imports and jobs attach what they were given
    if actor.user_id is not None:
        return photo.uploaded_by_id == actor.user_id or (
            photo.uploaded_by_id is None and photo.id in actor.uploads
        )
    return photo.uploaded_by_id is None and photo.id in actor.uploads


def require_own_photos(actor: Actor, photos: Sequence[Photo]) -> None:
    """A report attaches only photos its author uploaded. Another's photo is refused as
    if it did not exist (its id tells nothing of whose it is)."""
    foreign = [p.id for p in photos if not owns_photo(actor, p)]
    if foreign:
        raise InvalidInput(
            Msg("unknown photo id(s): {choices}", choices=", ".join(foreign)), field="photo_ids"
        )
