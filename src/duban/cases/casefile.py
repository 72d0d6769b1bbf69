"""The case file (案卷) as a person reads it: facts, clocks, photos, timeline, next steps.

``viewer_actions`` narrows the workflow table's answer (status × role) to what this
viewer can really do now — the lead unit's handler, the collector holding the task, a
pending request to approve — so a page offers no button that would only be refused.
The use case still checks everything again when the form is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.cases.access import CITY_WIDE, get_visible_case, visible_cases
from duban.cases.actions import check_level, pending_extension, pending_park
from duban.cases.models import Case, CaseEvent, CasePhoto
from duban.cases.presenters import DeadlineView, LevelView, deadline_view, dispatch_levels
from duban.cases.workbench import platform_names
from duban.cases.workflow import EXTENSION, PARK, Action, allowed_actions
from duban.evidence import Photo
from duban.kernel.context import Actor
from duban.kernel.errors import DubanError, Msg, NotFound
from duban.kernel.pending import offers
from duban.kernel.roles import Role
from duban.places import Location, case_locations, case_reason
from duban.reference import Category, FilingCondition, load_policy

_UNIT_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.RETURN,
        Action.REQUEST_EXTENSION,
        Action.REQUEST_PARK,
        Action.FEEDBACK,
    }
)


def viewer_actions(session: Session, case: Case, actor: Actor) -> list[Action]:
    """The actions ``actor`` can take on ``case`` right now, in table order."""
    out: list[Action] = []
    policy = load_policy(session)
    for action in allowed_actions(case.status, actor.role):
        try:
            check_level(case, actor, action, policy)  # 二级派遣: the actor's level
        except DubanError:
            continue
        if action in _UNIT_ACTIONS and case.unit_id != actor.unit_id:
            continue
        if action in (Action.VERIFY, Action.CHECK):
            holder = case.assignee_id if case.assignee_id is not None else case.created_by_id
            if holder != actor.user_id:
                continue
        if not (
            offers(EXTENSION, action.value, pending_extension(case))
            and offers(PARK, action.value, pending_park(case))
        ):
            continue
        if action == Action.RATE and _was_rated(session, case.id):
            continue
        out.append(action)
    return out


def _was_rated(session: Session, case_id: int) -> bool:
    return (
        session.scalar(
            select(CaseEvent.id)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == Action.RATE.value)
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One event, with the person who took it."""

    seq: int
    action: str
    from_status: str | None
    to_status: str
    actor_name: str
    actor_role: str
    occurred_at: datetime
    note: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class RoutingHint:
    """The unit routing suggests for the dispatcher, and why (places/routing.py)."""

    unit_code: str
    unit_name: str
    helper_units: tuple[str, ...]
    #: Why, named as the data names things now; ``translate`` it for the reader. None for
    #: a case routed before reasons were stored with codes (see ``reason_text``).
    reason: Msg | None
    #: The English stored when the case was routed (the fallback for such a case).
    reason_text: str
    #: "rule" (a routing rule matched) or "territorial" (属地兜底).
    basis: str = "rule"
    #: The unit's English name (the English face's; None: the name).
    unit_name_en: str | None = None


def routing_hint(session: Session, case: Case, *, with_reason: bool = True) -> RoutingHint | None:
    """What routing stored on the case when it was filed (or moved), if anything; its
    reason named only ``with_reason`` (the dispatch form shows it: a few lookups)."""
    if case.routing_unit is None:
        return None
    return RoutingHint(
        unit_code=case.routing_unit.code,
        unit_name=case.routing_unit.name,
        unit_name_en=case.routing_unit.name_en,
        helper_units=tuple(case.routing_helpers or ()),
        reason=case_reason(session, case) if with_reason else None,
        reason_text=case.routing_reason or "",
        basis="rule" if case.routing_rule_id is not None else "territorial",
    )


@dataclass(frozen=True)
class CaseFile:
    """Everything the case page shows."""

    case: Case
    deadline: DeadlineView
    category_name: str
    category_name_en: str
    major_name: str
    #: The major class's English name (the English face's; "" where there is none).
    major_name_en: str
    condition: FilingCondition | None
    conditions: list[FilingCondition]
    timeline: list[TimelineEntry]
    photos: dict[str, list[str]]
    actions: list[Action]
    assignee_name: str | None
    reporter_visible: bool
    location: Location | None = None
    suggestion: RoutingHint | None = None
    #: Names of the units (by code) and people (by username) the timeline mentions, so
    #: the page shows 环卫处 and 李明, never HWC or collector2.
    unit_names: dict[str, str] = field(default_factory=dict)
    person_names: dict[str, str] = field(default_factory=dict)
    #: English names of those units, where they have one (for English pages).
    unit_names_en: dict[str, str] = field(default_factory=dict)
    #: 二级派遣: each level's dispatch step (empty: dispatched at one level).
    levels: list[LevelView] = field(default_factory=list)
    #: 二级派遣: the platforms the case may be sent down to (code, name), and the names
    #: of the platforms the case and its timeline name.
    platforms: list[tuple[str, str]] = field(default_factory=list)
    platform_names: dict[str, str] = field(default_factory=dict)

    def platform_name(self, code: str | None) -> str:
        return self.platform_names.get(code or "", code or "")

    def unit_name(self, code: str | None, lang: str = "zh") -> str:
        if lang == "en" and (code or "") in self.unit_names_en:
            return self.unit_names_en[code or ""]
        return self.unit_names.get(code or "", code or "")

    def person_name(self, username: str | None) -> str:
        return self.person_names.get(username or "", username or "")


def mentioned_names(
    session: Session, payloads: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, str]]:
    """The units and people events' payloads name by code or username: their names."""
    codes: set[str] = set()
    usernames: set[str] = set()
    for payload in payloads:
        for key in ("unit", "previous_unit"):
            if isinstance(payload.get(key), str):
                codes.add(payload[key])
        codes.update(c for c in payload.get("helper_units") or () if isinstance(c, str))
        override = payload.get("override")
        if isinstance(override, dict) and isinstance(override.get("suggested"), str):
            codes.add(override["suggested"])
        if isinstance(payload.get("collector"), str):
            usernames.add(payload["collector"])
    units = (
        {
            code: name
            for code, name in session.execute(
                select(Unit.code, Unit.name).where(Unit.code.in_(codes))
            )
        }
        if codes
        else {}
    )
    people = (
        {
            username: display or username
            for username, display in session.execute(
                select(User.username, User.display_name).where(User.username.in_(usernames))
            )
        }
        if usernames
        else {}
    )
    return units, people


def case_file(session: Session, *, actor: Actor, case_id: int, now: datetime) -> CaseFile:
    """The case file of a case the actor may see (:class:`NotFound` otherwise)."""
    case = get_visible_case(session, actor, case_id)
    policy = load_policy(session)
    category = session.get(Category, case.category_code)
    major = (
        session.get(Category, category.parent_code) if category and category.parent_code else None
    )
    conditions = list(
        session.scalars(
            select(FilingCondition)
            .where(FilingCondition.category_code == case.category_code, FilingCondition.is_active)
            .order_by(FilingCondition.position)
        )
    )
    events = list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
    )
    ids = {e.actor_id for e in events if e.actor_id} | (
        {case.assignee_id} if case.assignee_id else set()
    )
    people = {
        u.id: u.display_name or u.username
        for u in (session.scalars(select(User).where(User.id.in_(ids))) if ids else [])
    }
    timeline: list[TimelineEntry] = []
    for e in events:
        payload = json.loads(e.payload or "{}")
        timeline.append(
            TimelineEntry(
                seq=e.seq,
                action=e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                actor_name=people.get(e.actor_id, "") if e.actor_id else "",
                actor_role=e.actor_role,
                occurred_at=e.occurred_at,
                note=e.note,
                payload=payload,
            )
        )
    unit_names, person_names = mentioned_names(session, [t.payload for t in timeline])
    unit_names_en = (
        {
            code: name_en
            for code, name_en in session.execute(
                select(Unit.code, Unit.name_en).where(
                    Unit.code.in_(unit_names), Unit.name_en.is_not(None)
                )
            )
            if name_en
        }
        if unit_names
        else {}
    )
    photos: dict[str, list[str]] = {}
    for cp in case.photos:
        photos.setdefault(cp.stage, []).append(cp.photo_id)
    actions = viewer_actions(session, case, actor)
    own = [c for c in (case.street_code, case.district_code) if c is not None]
    offered = (
        [c for c in own if policy.dispatch.runs_platform(c)]
        if Action.DISPATCH_TO_PLATFORM in actions
        else []
    )
    named = {str(t.payload["platform"]) for t in timeline if t.payload.get("platform")}
    names = platform_names(session, {*named, *offered, *filter(None, [case.platform_code])})
    return CaseFile(
        case=case,
        deadline=deadline_view(case, policy, now),
        category_name=category.name if category else case.category_code,
        category_name_en=category.name_en if category else case.category_code,
        major_name=major.name if major else "",
        major_name_en=(major.name_en or major.name) if major else "",
        condition=session.get(FilingCondition, case.condition_code)
        if case.condition_code
        else None,
        conditions=conditions,
        timeline=timeline,
        photos=photos,
        actions=actions,
        assignee_name=people.get(case.assignee_id) if case.assignee_id else None,
        reporter_visible=actor.role in CITY_WIDE
        or (actor.role == Role.CITIZEN and case.reporter_id == actor.user_id),
        location=case_locations(session, [case])[0],
        suggestion=routing_hint(session, case, with_reason=Action.DISPATCH in actions),
        unit_names=unit_names,
        unit_names_en=unit_names_en,
        person_names=person_names,
        levels=dispatch_levels(case, timeline, policy, now),
        platforms=[(c, names.get(c, c)) for c in offered],
        platform_names=names,
    )


def photo_for_viewer(session: Session, *, actor: Actor, photo_id: str) -> Photo:
    """A photo the actor may look at: their own upload, or one on a case they can see."""
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(Msg("photo {photo_id} does not exist", photo_id=photo_id))
    if actor.user_id is not None and photo.uploaded_by_id == actor.user_id:
        return photo
    if actor.role in CITY_WIDE and actor.region_code is None:
        return photo
    on_visible_case = session.scalar(
        select(CasePhoto.id)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.photo_id == photo_id, visible_cases(actor))
        .limit(1)
    )
    if on_visible_case is None:
        raise NotFound(Msg("photo {photo_id} does not exist", photo_id=photo_id))
    return photo


def photo_of_case(session: Session, *, case_id: int, photo_id: str) -> Photo:
    """A photo attached to ``case_id`` (for the public status page of that case)."""
    found = session.scalar(
        select(CasePhoto.id).where(CasePhoto.case_id == case_id, CasePhoto.photo_id == photo_id)
    )
    photo = session.get(Photo, photo_id) if found is not None else None
    if photo is None:
        raise NotFound(Msg("photo {photo_id} does not exist", photo_id=photo_id))
    return photo
