"""Use cases of the closed loop: one function per action, each writing one event.

Every function loads the case, asks the workflow table (:mod:`duban.cases.workflow`)
whether the actor may act, applies the change, appends exactly one hash-chained event
and commits. A concurrent change to the same case makes the commit fail with
:class:`StaleCase` (optimistic locking on ``cases.version``), so no update is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.cases.access import get_visible_case
from duban.cases.audit import append_event
from duban.cases.intake import NewCase as NewCase
from duban.cases.intake import check_photos, place_payload
from duban.cases.intake import report_case as report_case
from duban.cases.models import Case, CaseEvent, CaseHelper, CasePhoto
from duban.cases.workflow import (
    CLOSES_AT_ONCE,
    EXTENSION,
    INTAKE_ACTIONS,
    PARK,
    STEP_OF_STATUS,
    TRANSITIONS,
    Action,
    CaseStatus,
    Rating,
    check_action,
)
from duban.evidence import Photo
from duban.kernel.context import SYSTEM_ACTOR, Actor, Clock
from duban.kernel.errors import (
    Conflict,
    InvalidInput,
    Msg,
    Name,
    PermissionDenied,
    StaleCase,
)
from duban.kernel.inputs import (
    MAX_NOTE_CHARS,
    clean_text,
)
from duban.kernel.pending import Pending, Verdict, ask, decide, ensure_can_ask
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.places import input_point
from duban.reference import (
    FilingCondition,
    LimitUnit,
    Policy,
    TimeLimit,
    live_taxonomy,
    load_policy,
)


@dataclass(frozen=True)
class ActionInput:
    """The arguments an action may take; each action reads the ones it needs."""

    note: str = ""
    reason: str = ""
    unit: str | None = None
    helper_units: Sequence[str] = ()
    passed: bool | None = None
    until: datetime | None = None
    amount: float | None = None
    photo_ids: Sequence[str] = ()
    collector: str | None = None
    duplicate_of: str | None = None
    category_code: str | None = None
    condition_code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    rating: str | None = None
    #: A corrected location (verify, file, dispatch), in ``crs``.
    lat: float | None = None
    lon: float | None = None
    crs: str = "wgs84"
    address: str | None = None
    #: check with passed=false: why (a ReworkReason code); prefilled from the photo findings.
    rework_reason: str | None = None
    #: The unit's reply to the reporter with its fix (feedback): public, unlike the note.
    public_reply: str = ""
    #: dispatch_to_platform (二级派遣): the district or street platform to send the case
    #: down to (default: the case's street if it runs one, else its district).
    platform: str | None = None
    #: A replayed row of an old platform's history (``duban import history``): feedback,
    #: a body's transfer_done and a fix on the spot may come without after-photos (old
    #: platforms kept none, or kept them elsewhere), and the event says it was imported.
    historic: bool = False


# --------------------------------------------------------------------------- helpers


def _require_reason(params: ActionInput, action: Action) -> str:
    text = (params.reason or params.note or "").strip()
    if not text:
        raise InvalidInput(
            Msg("action '{action}' needs a 'reason'", action=action.value), field="reason"
        )
    return clean_text(text, field_name="reason", limit=MAX_NOTE_CHARS)


def _default_condition(session: Session, category_code: str) -> FilingCondition | None:
    return session.scalars(
        select(FilingCondition)
        .where(FilingCondition.category_code == category_code, FilingCondition.is_active)
        .order_by(FilingCondition.position, FilingCondition.code)
        .limit(1)
    ).first()


def _attach(case: Case, photos: list[Photo], stage: str, seq: int) -> None:
    have = {(cp.photo_id, cp.stage) for cp in case.photos}
    for photo in photos:
        if (photo.id, stage) not in have:  # the same photo sent again adds nothing
            case.photos.append(CasePhoto(photo_id=photo.id, stage=stage, event_seq=seq))


def _unit_by_code(session: Session, code: str, field_name: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None or not unit.is_active:
        raise InvalidInput(Msg("unknown unit '{code}'", code=code), field=field_name)
    return unit


def _set_step(case: Case, policy: Policy, now: datetime) -> None:
    """Start the timer of the step that the case's new status begins."""
    case.step = STEP_OF_STATUS.get(case.status)
    case.step_started_at, case.step_due_at = policy.step_timer(case.step, now)


def _start_clock(case: Case, session: Session, policy: Policy, now: datetime) -> None:
    """Start the unit's clock from now with the filing condition's limit."""
    condition = session.get(FilingCondition, case.condition_code) if case.condition_code else None
    if condition is None:
        condition = _default_condition(session, case.category_code)
        if condition is not None:
            case.condition_code = condition.code
    if condition is None:
        raise InvalidInput(
            Msg(
                "category '{category_code}' has no filing condition with a time limit; "
                "an admin must add one before cases can be dispatched",
                category_code=case.category_code,
            ),
            field="condition_code",
        )
    limit = TimeLimit(condition.limit_amount, LimitUnit(condition.limit_unit))
    case.limit_amount = limit.amount
    case.limit_unit = limit.unit.value
    case.clock_started_at = now
    case.due_at = policy.case_due_at(case.source, now, limit)
    case.paused_seconds = 0.0
    case.handled_at = None
    case.dispatched_at = now
    case.overdue_marked_at = None


# --------------------------------------------------------------------------- places


def _locate_intake(session: Session, lon: float, lat: float, policy: Policy) -> Any:
    """Where a reported point is (refused outside every grid unless the policy says)."""
    from duban.places import locate_for_intake

    return locate_for_intake(session, lon, lat, policy.places)


def _place_payload(
    case: Case, location: Any, crs: str | None, in_lon: float, in_lat: float
) -> dict[str, Any]:
    """Store the location's codes on the case; what the event records about the place."""
    from duban.places import apply_location

    apply_location(case, location)
    return place_payload(location, crs, in_lon, in_lat)


def _move(session: Session, case: Case, p: ActionInput, policy: Policy) -> dict[str, Any]:
    """Correct the place of a case from the action's lat/lon/crs/address (if given)."""
    payload: dict[str, Any] = {}
    if p.address is not None:
        address = clean_text(p.address, field_name="address", limit=300)
        if address != case.address:
            payload["address"] = {"from": case.address, "to": address}
            case.address = address
    if p.lat is None and p.lon is None:
        return payload
    if p.lat is None or p.lon is None:
        raise InvalidInput("give both 'lat' and 'lon' to correct the location", field="lat")
    lon, lat = input_point(p.lat, p.lon, p.crs)
    if (lon, lat) == (case.lon, case.lat):
        return payload
    location = _locate_intake(session, lon, lat, policy)
    before = {"lat": case.lat, "lon": case.lon, "grid": case.grid_code}
    case.lat, case.lon = lat, lon
    placed = _place_payload(case, location, p.crs, p.lon, p.lat)
    payload["location"] = {
        "from": before,
        "to": {"lat": lat, "lon": lon, "grid": case.grid_code},
        **placed,
    }
    return payload


def _route(session: Session, case: Case, policy: Policy, now: datetime) -> dict[str, Any]:
    """Run routing for the case; the suggestion as the event records it."""
    from duban.places import route_case  # deferred: geometry

    return route_case(session, case, policy=policy.places, now=now).payload()


def _choose_unit(
    session: Session, case: Case, p: ActionInput, policy: Policy, now: datetime
) -> tuple[Unit, tuple[str, ...], dict[str, Any]]:
    """The lead unit and helpers of a dispatch, and what the event says about routing.

    Without a 'unit' the routing suggestion is used; a unit other than the suggestion is
    an override and needs a 'reason'. A corrected location routes the case again.
    """
    payload = _move(session, case, p, policy)
    if payload.get("location") or case.routed_at is None:
        payload["routing"] = _route(session, case, policy, now)
    suggested = case.routing_unit
    if suggested is not None and not suggested.is_active:
        suggested = None
    if (
        case.status == CaseStatus.AT_PLATFORM
        and suggested is not None
        and suggested.region_code != case.platform_code
    ):
        suggested = None  # 二级派遣: the city's routing suggests none of the platform's units
    if not p.unit:
        if suggested is None:
            raise InvalidInput(
                "routing suggests none for this case; dispatch needs the lead 'unit' (a unit code)"
                if case.routing_reason
                else "dispatch needs the lead 'unit' (a unit code)",
                field="unit",
            )
        payload["suggestion"] = "followed"
        helpers = tuple(p.helper_units) or tuple(case.routing_helpers or ())
        return suggested, helpers, payload
    unit = _unit_by_code(session, p.unit, "unit")
    if suggested is not None and unit.id != suggested.id:
        reason = clean_text(p.reason, field_name="reason", limit=MAX_NOTE_CHARS)
        if not reason:
            from duban.places import case_reason  # deferred: geometry

            raise InvalidInput(
                Msg(
                    "routing suggests {suggested_code} {suggested_name} "
                    "({routing_reason}); to dispatch to {unit_code} instead, give a "
                    "'reason' for the override",
                    suggested_code=suggested.code,
                    suggested_name=Name(suggested.name, suggested.name_en),
                    routing_reason=case_reason(session, case) or case.routing_reason or "",
                    unit_code=unit.code,
                ),
                field="reason",
                code="override_needs_reason",
                suggested=suggested.code,
            )
        payload["override"] = {
            "suggested": suggested.code,
            "rule": case.routing_rule_id,
            "reason": reason,
        }
    elif suggested is not None:
        payload["suggestion"] = "followed"
    return unit, tuple(p.helper_units), payload


def _duplicate_candidates(session: Session, case: Case, policy: Policy, now: datetime) -> list[str]:
    """Codes of open or recently closed cases near this one, of its category."""
    from duban.cases.nearby import nearby_cases

    found = nearby_cases(
        session,
        lat=case.lat,
        lon=case.lon,
        now=now,
        policy=policy.places.nearby,
        category_code=case.category_code,
        exclude_case_id=case.id,
    )
    return [item.case.code for item in found.items]


# --------------------------------------------------------------------------- actions


@dataclass
class _Outcome:
    """What an action handler decided; :func:`perform_action` writes it."""

    to_status: CaseStatus
    note: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    photos: list[Photo] = field(default_factory=list)
    photo_stage: str = ""


_Handler = Callable[[Session, Case, Actor, ActionInput, Policy, datetime, CaseStatus], _Outcome]


def collector_for_point(session: Session, lat: float, lon: float) -> User | None:
    """The active collector whose beat covers the point (lowest id wins a tie)."""
    from shapely.geometry import Point, shape  # deferred: only assignment needs geometry

    point = Point(lon, lat)
    collectors = session.scalars(
        select(User)
        .where(User.role == Role.COLLECTOR, User.is_active, User.beat.is_not(None))
        .order_by(User.id)
    )
    for user in collectors:
        try:
            if shape(user.beat).covers(point):
                return user
        except (ValueError, TypeError, AttributeError, KeyError):
            continue  # a malformed beat must not stop assignment for everybody else
    return None


def _do_assign(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    if p.collector:
        user = session.scalars(select(User).where(User.username == p.collector)).first()
        if user is None or user.role != Role.COLLECTOR or not user.is_active:
            raise InvalidInput(
                Msg("'{collector}' is not an active collector", collector=p.collector),
                field="collector",
            )
        how = "named"
    else:
        found = collector_for_point(session, case.lat, case.lon)
        if found is None:
            raise InvalidInput(
                "no collector's beat covers this place; name one with 'collector'",
                field="collector",
            )
        user = found
        how = "beat"
    task = "verify" if case.status == CaseStatus.REPORTED else "check"
    case.assignee_id = user.id
    case.task = task
    return _Outcome(target, p.note, {"collector": user.username, "task": task, "chosen_by": how})


def _require_assignee(case: Case, actor: Actor, action: Action) -> None:
    if case.assignee_id is not None and case.assignee_id != actor.user_id:
        raise PermissionDenied(
            Msg(
                "the {value} task of case {case_code} is assigned to another collector",
                value=case.task or action.value,
                case_code=case.code,
            )
        )
    if case.assignee_id is None and case.created_by_id != actor.user_id:
        raise PermissionDenied(
            Msg(
                "case {case_code} has no {action} task for you; the operator assigns it",
                case_code=case.code,
                action=action.value,
            )
        )


def _do_verify(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    _require_assignee(case, actor, Action.VERIFY)
    if p.passed is False:
        # 不属实: the collector on site found no such problem; the report is turned down
        # (不予受理) with the collector's reason.
        reason = _require_reason(p, Action.VERIFY)
        case.assignee_id = None
        case.task = None
        photos = check_photos(session, p.photo_ids)
        payload: dict[str, Any] = {"passed": False, "reason": reason}
        payload["photos"] = [x.id for x in photos]
        return _Outcome(CaseStatus.REJECTED, reason, payload, photos, "verify")
    moved = _move(session, case, p, policy)  # the collector on site may correct the place
    case.assignee_id = None
    case.task = None
    photos = check_photos(session, p.photo_ids)
    payload = {"photos": [x.id for x in photos], **moved}
    return _Outcome(target, p.note, payload, photos, "verify")


def _reasoned(action: Action) -> _Handler:
    def handler(
        session: Session,
        case: Case,
        actor: Actor,
        p: ActionInput,
        policy: Policy,
        now: datetime,
        target: CaseStatus,
    ) -> _Outcome:
        reason = _require_reason(p, action)
        if action in (Action.REJECT, Action.VOID):
            case.assignee_id = None
            case.task = None
        return _Outcome(target, reason, {"reason": reason})

    return handler


def _do_file(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    payload: dict[str, Any] = {}
    code = p.category_code or case.category_code
    # A new category drops the old one's condition unless a condition is given.
    keep = case.condition_code if code == case.category_code else None
    category, condition = live_taxonomy(session).resolve_subclass(code, p.condition_code or keep)
    if category.code != case.category_code:
        payload["category"] = {"from": case.category_code, "to": category.code}
        case.category_code = category.code
        case.kind = category.kind
    if condition is None and category.conditions:
        condition = category.conditions[0]  # the usual one (the first, as the admin ordered)
    if condition is None:
        raise InvalidInput(
            Msg(
                "category '{category_code}' has no filing condition (立案条件); an admin "
                "must add one",
                category_code=category.code,
            ),
            field="condition_code",
        )
    case.condition_code = condition.code
    payload["condition"] = condition.code
    payload["limit"] = f"{condition.limit.amount:g} {condition.limit.unit.value}"
    payload.update(_move(session, case, p, policy))
    payload["routing"] = _route(session, case, policy, now)
    return _Outcome(target, clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS), payload)


def _do_dispatch(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    level = _dispatch_level(case, policy)
    listed = _listed_body(session, case, p)
    unit, helper_codes, routed = _choose_unit(session, case, p, policy, now)
    if listed:
        routed["list_override"] = listed
    if unit.kind == "external":
        raise InvalidInput(
            Msg(
                "{unit_code} {unit_name} is a body outside 城管: hand the case over to "
                "it with 'transfer'",
                unit_code=unit.code,
                unit_name=unit.name,
            ),
            field="unit",
        )
    helpers = [_unit_by_code(session, code, "helper_units") for code in dict.fromkeys(helper_codes)]
    if any(h.id == unit.id for h in helpers):
        raise InvalidInput("the lead unit cannot also be a helper unit", field="helper_units")
    if level is not None:
        _check_level_units(case, policy, [unit], "unit")
        _check_level_units(case, policy, helpers, "helper_units")
    previous = case.unit.code if case.unit else None
    case.unit_id = unit.id
    case.unit = unit
    if case.helpers:
        case.helpers.clear()
        session.flush()  # delete the old helper rows before inserting a same-key one
    for helper in helpers:
        case.helpers.append(CaseHelper(unit_id=helper.id))
    withdraw_requests(case)
    _start_clock(case, session, policy, now)
    payload: dict[str, Any] = {
        "unit": unit.code,
        "helper_units": [h.code for h in helpers],
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "limit": f"{case.limit_amount:g} {case.limit_unit}",
    }
    if previous:
        payload["previous_unit"] = previous
    if level is not None:
        payload["level"] = level
        if case.platform_code:
            payload["platform"] = case.platform_code
    payload.update(routed)
    return _Outcome(target, clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS), payload)


# --------------------------------------------------------------------------- 二级派遣

#: The levels of dispatch an event records (二级派遣): the city's, or a platform's.
CITY_LEVEL = "city"
PLATFORM_LEVEL = "platform"


def check_level(case: Case, actor: Actor, action: Action, policy: Policy) -> None:
    """二级派遣: whether ``actor`` works at the level ``action`` belongs to (the workflow
    table has said the role may take it). A platform's dispatchers (of a region that runs
    one) act only on what was sent down to their own platform; only the city's send cases
    down; a case a platform holds is its dispatchers' to dispatch or send back.

    Raises:
        PermissionDenied: another level's (or another platform's) case.
        InvalidInput: ``dispatch_to_platform`` in a city that runs one level.
    """
    if actor.role != Role.DISPATCHER:
        return
    if case.status == CaseStatus.AT_PLATFORM:
        if (
            action in (Action.DISPATCH, Action.PLATFORM_RETURN)
            and actor.region_code != case.platform_code
        ):
            raise PermissionDenied(
                Msg(
                    "case {case} is with the platform of {platform}: only that platform's "
                    "dispatchers may dispatch it or send it back",
                    case=case.code,
                    platform=case.platform_code,
                )
            )
        return
    if action == Action.DISPATCH_TO_PLATFORM:
        if not policy.dispatch.two_level:
            raise InvalidInput(
                "this city runs one level of dispatch: dispatch the case to a unit",
                field="platform",
                code="one_level_dispatch",
            )
        if actor.region_code is not None:
            raise PermissionDenied(
                Msg(
                    "only the city's dispatchers send cases down to a platform, not those of "
                    "{region}",
                    region=actor.region_code,
                )
            )
        return
    if (
        action in (Action.DISPATCH, Action.TRANSFER)
        and case.status in (CaseStatus.FILED, CaseStatus.RETURNED)
        and policy.dispatch.runs_platform(actor.region_code)
    ):
        raise PermissionDenied(
            Msg(
                "case {case} is with the city: a platform's dispatchers act only on the "
                "cases sent down to their platform",
                case=case.code,
            )
        )


def _dispatch_level(case: Case, policy: Policy) -> str | None:
    """The level that dispatches ``case`` now: None when the city runs one level
    (today's behaviour: the event records nothing), else ``city`` or ``platform``."""
    if case.status == CaseStatus.AT_PLATFORM:
        return PLATFORM_LEVEL
    return CITY_LEVEL if policy.dispatch.two_level else None


def _check_level_units(case: Case, policy: Policy, units: Sequence[Unit], field_name: str) -> None:
    """A platform dispatches to units of its own region; the city, in two-level mode, to
    units of no platform (a platform's units get cases through their platform)."""
    for unit in units:
        if case.status == CaseStatus.AT_PLATFORM:
            if unit.region_code != case.platform_code:
                raise InvalidInput(
                    Msg(
                        "{unit} is not a unit of the platform {platform}",
                        unit=f"{unit.code} {unit.name}",
                        platform=case.platform_code,
                    ),
                    field=field_name,
                    code="unit_of_another_platform",
                )
        elif policy.dispatch.runs_platform(unit.region_code):
            raise InvalidInput(
                Msg(
                    "{unit} is a unit of the platform {platform}: send the case down to it "
                    "with 'dispatch_to_platform'",
                    unit=f"{unit.code} {unit.name}",
                    platform=unit.region_code,
                ),
                field=field_name,
                code="unit_of_a_platform",
            )


def _do_dispatch_to_platform(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    """下派: the city's dispatcher sends the case down to a district or street platform
    (:func:`check_level` has checked the level)."""
    code = clean_text(p.platform or "", field_name="platform", limit=32)
    if not code:
        own = [c for c in (case.street_code, case.district_code) if c is not None]
        code = next((c for c in own if policy.dispatch.runs_platform(c)), "")
    if not policy.dispatch.runs_platform(code):
        raise InvalidInput(
            Msg(
                "'{platform}' runs no platform of its own: choose one of the policy's platforms",
                platform=code,
            ),
            field="platform",
            code="no_such_platform",
        )
    if code not in (case.district_code, case.street_code):
        raise InvalidInput(
            Msg(
                "case {case} lies outside {platform}: send it to the platform of its district "
                "or street",
                case=case.code,
                platform=code,
            ),
            field="platform",
            code="platform_outside",
        )
    withdraw_requests(case)
    case.platform_code = code
    note = clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS)
    return _Outcome(target, note, {"platform": code, "level": CITY_LEVEL})


def _do_platform_return(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    """退回上级: the platform sends the case back to the city, with its reason."""
    reason = _require_reason(p, Action.PLATFORM_RETURN)
    code = case.platform_code
    case.platform_code = None
    return _Outcome(target, reason, {"reason": reason, "platform": code, "level": PLATFORM_LEVEL})


def _listed_body(session: Session, case: Case, p: ActionInput) -> dict[str, Any]:
    """权责清单: a matter the list gives to a body outside 城管 is handed over, not
    dispatched; dispatching it to a unit of ours anyway needs a 'reason' (what the event
    records of the override; empty when the list names no body)."""
    from duban.handover import responsibility_for  # deferred: handover reads cases

    with session.no_autoflush:
        entry = responsibility_for(
            session, category_code=case.category_code, condition_code=case.condition_code
        )
    if entry is None:
        return {}
    body = entry.unit
    reason = clean_text(p.reason, field_name="reason", limit=MAX_NOTE_CHARS)
    if not p.unit or not reason:
        raise InvalidInput(
            Msg(
                "the responsibility list gives this matter to {body_code} {body_name}: "
                "hand it over with 'transfer', or give a 'reason' to dispatch it to a "
                "unit of ours",
                body_code=body.code,
                body_name=body.name,
            ),
            field="reason" if p.unit else "unit",
            code="listed_for_handover",
            body=body.code,
        )
    return {"body": body.code, "reason": reason}


def _require_own_unit(case: Case, actor: Actor) -> None:
    if actor.role == Role.HANDLER and case.unit_id != actor.unit_id:
        raise PermissionDenied(
            Msg(
                "case {case_code} is led by another unit; only the lead unit's handlers may act",
                case_code=case.code,
            )
        )


def _do_accept(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    return _Outcome(target, clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS))


def _do_return(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    reason = _require_reason(p, Action.RETURN)
    unit_code = case.unit.code if case.unit else None
    case.unit_id = None
    case.unit = None
    case.helpers.clear()
    case.due_at = None
    case.clock_started_at = None
    withdraw_requests(case)
    payload: dict[str, Any] = {"reason": reason, "unit": unit_code}
    if target == CaseStatus.AT_PLATFORM:  # 二级派遣: back one level, to the platform
        payload.update(platform=case.platform_code, level=PLATFORM_LEVEL)
    return _Outcome(target, reason, payload)


def pending_extension(case: Case) -> Pending[datetime] | None:
    """The case's extension request waiting for a decision (the deadline it asks for)."""
    if case.pending_extension_until is None:
        return None
    return Pending(case.pending_extension_until, case.pending_extension_reason or "")


def pending_park(case: Case) -> Pending[None] | None:
    """The case's parking request waiting for a decision."""
    if case.pending_park_reason is None:
        return None
    return Pending(None, case.pending_park_reason)


def _keep_extension(case: Case, request: Pending[datetime] | None) -> None:
    case.pending_extension_until = request.asked if request else None
    case.pending_extension_reason = request.reason if request else None


def _keep_park(case: Case, request: Pending[None] | None) -> None:
    case.pending_park_reason = request.reason if request else None


def withdraw_requests(case: Case) -> None:
    """End the case's waiting requests undecided (the work they belonged to is taken away)."""
    _keep_extension(case, None)
    _keep_park(case, None)


def _do_request_extension(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    reason = _require_reason(p, Action.REQUEST_EXTENSION)
    ensure_can_ask(EXTENSION, pending_extension(case), subject=f"case {case.code}")
    assert case.due_at is not None
    if p.until is not None:
        until = p.until
    elif p.amount is not None and p.amount > 0 and case.limit_unit:
        until = policy.calendar.due_at(case.due_at, TimeLimit(p.amount, LimitUnit(case.limit_unit)))
    else:
        raise InvalidInput(
            "give the new deadline as 'until' (ISO datetime with zone) or 'amount' "
            "(in the case's limit unit)",
            field="until",
        )
    if until <= case.due_at:
        raise InvalidInput(
            Msg(
                "the requested deadline {until} is not later than the current one {due_at}",
                until=until.isoformat(),
                due_at=case.due_at.isoformat(),
            ),
            field="until",
        )
    _keep_extension(case, Pending(until, reason))
    return _Outcome(target, reason, {"until": until.isoformat(), "reason": reason})


def _do_approve_extension(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    until = decide(
        EXTENSION, pending_extension(case), Verdict.APPROVE, status=case.status.value
    ).request.asked
    old = case.due_at
    case.due_at = until
    _keep_extension(case, None)
    if until > now:
        case.overdue_marked_at = None
    return _Outcome(
        target,
        clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS),
        {"from": old.isoformat() if old else None, "to": until.isoformat()},
    )


def _do_deny_extension(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    decision = decide(EXTENSION, pending_extension(case), Verdict.DENY, status=case.status.value)
    reason = _require_reason(p, Action.DENY_EXTENSION)
    _keep_extension(case, None)
    return _Outcome(target, reason, {"reason": reason, "asked": decision.request.asked.isoformat()})


def _do_request_park(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    reason = _require_reason(p, Action.REQUEST_PARK)
    request = ask(PARK, pending_park(case), Pending(None, reason), subject=f"case {case.code}")
    _keep_park(case, request)
    return _Outcome(target, reason, {"reason": reason})


def _do_approve_park(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    decision = decide(PARK, pending_park(case), Verdict.APPROVE, status=case.status.value)
    _keep_park(case, None)
    case.parked_at = now
    return _Outcome(
        target,
        clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS),
        {"request": decision.request.reason},
    )


def _do_deny_park(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    decision = decide(PARK, pending_park(case), Verdict.DENY, status=case.status.value)
    reason = _require_reason(p, Action.DENY_PARK)
    _keep_park(case, None)
    return _Outcome(target, reason, {"reason": reason, "request": decision.request.reason})


def _do_resume(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    parked_at = case.parked_at or now
    payload: dict[str, Any] = {"parked_at": parked_at.isoformat()}
    if case.due_at is not None and case.limit_unit:
        unit = LimitUnit(case.limit_unit)
        old = case.due_at
        case.due_at = policy.calendar.shift_due_for_pause(case.due_at, parked_at, now, unit)
        # Kept so the traffic light measures only the time the clock really ran.
        case.paused_seconds += policy.calendar.elapsed_in_limit_units(parked_at, now, unit)
        payload["due_from"] = old.isoformat()
        payload["due_to"] = case.due_at.isoformat()
        if case.due_at > now:
            case.overdue_marked_at = None
    case.parked_at = None
    return _Outcome(target, clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS), payload)


def _do_feedback(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    photos = check_photos(session, p.photo_ids, required=not p.historic)
    note = clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS)
    verdict = _examine(session, case, photos, policy, now, field="photo_ids")
    case.handled_at = now
    payload: dict[str, Any] = {"photos": [x.id for x in photos], "verdict": verdict}
    reply = clean_text(p.public_reply, field_name="public_reply", limit=MAX_NOTE_CHARS)
    if reply:
        payload["public_reply"] = reply
    return _Outcome(target, note, payload, photos, "after")


def _examine(
    session: Session, case: Case, photos: list[Photo], policy: Policy, now: datetime, *, field: str
) -> str:
    """The photo checks on a fix's after-photos (the one path: their findings are written,
    the verdict goes into the event); a fail the category's policy blocks refuses the fix."""
    from duban.photochecks import examine_feedback  # deferred: photochecks read cases

    examined = examine_feedback(session, case, photos, now=now, tz=policy.tz)
    if examined.blocked:
        pid, finding, detail = examined.failing()[0]
        raise InvalidInput(
            Msg(
                "photo {pid} fails the photo checks ({check}: {detail}); this category "
                "does not accept such a fix: take a new photo at the place",
                pid=pid,
                check=finding.check.value,
                detail=detail,
            ),
            field=field,
            photo=pid,
            check=finding.check.value,
        )
    return examined.verdict.value


def _do_check(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    if p.passed is None:
        raise InvalidInput("check needs 'passed': true (核查通过) or false (返工)", field="passed")
    _require_assignee(case, actor, Action.CHECK)
    photos = check_photos(session, p.photo_ids)
    case.assignee_id = None
    case.task = None
    payload: dict[str, Any] = {"passed": p.passed, "photos": [x.id for x in photos]}
    if p.passed:
        from duban.photochecks import latest_verdict

        note = clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS)
        if latest_verdict(session, case) == "fail":
            # Passing what the photo checks failed is the checker's call, with a reason.
            why = clean_text(p.reason or p.note, field_name="reason", limit=MAX_NOTE_CHARS)
            if not why:
                raise InvalidInput(
                    "the photo checks failed this feedback; passing it needs a 'reason'",
                    field="reason",
                )
            payload["override"] = {"verdict": "fail", "reason": why}
            note = note or why
        return _Outcome(target, note, payload, photos, "check")
    reason = _require_reason(p, Action.CHECK)
    payload["rework_reason"] = _rework_reason(session, case, p.rework_reason)
    case.rework_count += 1
    payload["reason"] = reason
    payload["rework_count"] = case.rework_count
    if case.unit_id is None:
        # A body outside 城管 reported it done (移交办结): no unit of ours to send it back
        # to, so it goes back to the dispatcher's queue, to hand over again or dispatch.
        payload["back_to"] = CaseStatus.RETURNED.value
        return _Outcome(CaseStatus.RETURNED, reason, payload, photos, "check")
    payload.update(_restart_clock_for_rework(case, policy, now))
    return _Outcome(CaseStatus.HANDLING, reason, payload, photos, "check")


def _restart_clock_for_rework(case: Case, policy: Policy, now: datetime) -> dict[str, Any]:
    """返工: the unit's clock starts again from now with the policy's rework limit (by
    default the filing condition's limit again); what the event records of it."""
    limit = policy.rework_limit(case.limit_amount, case.limit_unit)
    if limit is None:
        return {}
    old = case.due_at
    case.limit_amount = limit.amount
    case.limit_unit = limit.unit.value
    case.clock_started_at = now
    case.due_at = policy.calendar.due_at(now, limit)
    case.paused_seconds = 0.0
    case.handled_at = None
    case.overdue_marked_at = None
    return {
        "due_from": old.isoformat() if old else None,
        "due_to": case.due_at.isoformat(),
        "limit": f"{limit.amount:g} {limit.unit.value}",
    }


def _rework_reason(session: Session, case: Case, given: str | None) -> str:
    """The coded reason of a send-back: the checker's, else what the photo findings suggest."""
    from duban.photochecks import ReworkReason, suggested_reason

    if given is None:
        return suggested_reason(session, case)
    try:
        return ReworkReason(given).value
    except ValueError:
        codes = ", ".join(r.value for r in ReworkReason)
        raise InvalidInput(
            Msg("unknown rework_reason '{given}'; use one of: {codes}", given=given, codes=codes),
            field="rework_reason",
        ) from None


def _do_close(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    case.closed_at = now
    late = case.due_at is not None and now > case.due_at
    payload: dict[str, Any] = {"on_time": not late}
    return _Outcome(target, clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS), payload)


def _do_reopen(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    reason = _require_reason(p, Action.REOPEN)
    payload: dict[str, Any] = {"reason": reason}
    if p.extra.get("recurrence"):
        # 回潮: a failed revisit (回头看) reopens the case; evaluation counts these.
        payload["recurrence"] = True
        payload["revisit_id"] = p.extra.get("revisit_id")
    if case.status == CaseStatus.CLOSED and case.unit_id is None:
        # Closed without a unit (fixed on the spot): it waits for its first dispatch.
        case.closed_at = None
        payload["unit"] = None
        return _Outcome(CaseStatus.FILED, reason, payload)
    if case.status == CaseStatus.CLOSED:
        case.closed_at = None
        _start_clock(case, session, policy, now)
        payload["due_at"] = case.due_at.isoformat() if case.due_at else None
    return _Outcome(target, reason, payload)


def _resolve_case_ref(session: Session, ref: str) -> Case | None:
    case = session.scalars(select(Case).where(Case.code == ref)).first()
    # A case number (13 digits) is no id: PostgreSQL refuses integers beyond int4.
    if case is None and ref.isdigit() and int(ref) <= 2**31 - 1:
        case = session.get(Case, int(ref))
    return case


def _do_merge(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    if not p.duplicate_of:
        candidates = _duplicate_candidates(session, case, policy, now)
        needs = Msg("merge needs 'duplicate_of' (the case code or id it repeats)")
        raise InvalidInput(
            Msg("{needs}; cases nearby: {choices}", needs=needs, choices=", ".join(candidates))
            if candidates
            else needs,
            field="duplicate_of",
            candidates=candidates,
        )
    original = _resolve_case_ref(session, str(p.duplicate_of))
    if original is None:
        raise InvalidInput(
            Msg("case '{duplicate_of}' does not exist", duplicate_of=p.duplicate_of),
            field="duplicate_of",
        )
    if original.id == case.id:
        raise InvalidInput("a case cannot be a duplicate of itself", field="duplicate_of")
    if original.status in (CaseStatus.MERGED, CaseStatus.REJECTED, CaseStatus.VOIDED):
        raise InvalidInput(
            Msg(
                "case {original_code} is {status}; merge into the case it points to",
                original_code=original.code,
                status=original.status.value,
            ),
            field="duplicate_of",
        )
    case.duplicate_of_id = original.id
    case.assignee_id = None
    case.task = None
    return _Outcome(
        target,
        clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS),
        {"duplicate_of": original.code},
    )


def _do_supervise(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    note = clean_text(p.note or p.reason, field_name="note", limit=MAX_NOTE_CHARS, required=True)
    payload: dict[str, Any] = {"note": note}
    if p.extra.get("overdue"):
        # Raised by the deadline sweep: once per deadline, so re-runs add nothing.
        if case.overdue_marked_at is not None:
            raise Conflict(Msg("case {case_code} is already marked overdue", case_code=case.code))
        if case.due_at is None or case.due_at >= now:
            raise Conflict(Msg("case {case_code} is not overdue", case_code=case.code))
        case.overdue_marked_at = now
        payload["overdue"] = True
        payload["due_at"] = case.due_at.isoformat()
    case.is_supervised = True
    case.supervise_note = note
    return _Outcome(target, note, payload)


def _rating(p: ActionInput, action: Action) -> Rating:
    """The satisfaction an action records (rate by the citizen, callback by the operator)."""
    try:
        return Rating(p.rating or "")
    except ValueError as err:
        names = ", ".join(r.value for r in Rating)
        raise InvalidInput(
            Msg("{action} needs a 'rating', one of: {names}", action=action.value, names=names),
            field="rating",
        ) from err


def _do_rate(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    rating = _rating(p, Action.RATE)
    rated = session.scalar(
        select(func.count())
        .select_from(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == Action.RATE.value)
    )
    if rated:
        raise Conflict(
            Msg("case {case_code} has already been rated", case_code=case.code),
            code="already_rated",
        )
    comment = clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS)
    return _Outcome(target, comment, {"rating": rating.value})


def _do_callback(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    """回访: the caller's satisfaction as the operator heard it, once per closing."""
    rating = _rating(p, Action.CALLBACK)
    closing = (
        select(func.max(CaseEvent.seq))
        .where(CaseEvent.case_id == case.id, CaseEvent.action == Action.CLOSE.value)
        .scalar_subquery()
    )
    called = session.scalar(
        select(func.count())
        .select_from(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.action == Action.CALLBACK.value,
            CaseEvent.seq > closing,
        )
    )
    if called:
        raise Conflict(
            Msg("the caller of case {case_code} was already called back", case_code=case.code),
            code="already_called",
        )
    note = clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS)
    return _Outcome(target, note, {"rating": rating.value})


def _do_not_fixed(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    # The case stays closed; the 督办 flag puts it before the supervision centre, which
    # decides whether to reopen it.
    reason = _require_reason(p, Action.NOT_FIXED)
    case.is_supervised = True
    case.supervise_note = f"市民反映问题未解决：{reason}"  # shown in English by the pages
    return _Outcome(target, reason, {"reason": reason})


def _do_fix_on_site(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    """即查即改: the reporter's after-photos of the fix, checked like a unit's feedback."""
    photos = check_photos(session, p.photo_ids)
    payload: dict[str, Any] = {}
    if photos:
        verdict = _examine(session, case, photos, policy, now, field="after_photo_ids")
        payload = {"photos": [x.id for x in photos], "verdict": verdict}
    elif not p.historic:  # replayed history may come without (see ActionInput.historic)
        raise InvalidInput(
            "a fix on the spot needs at least one after photo ('after_photo_ids')",
            field="after_photo_ids",
        )
    case.fixed_on_site = True
    case.handled_at = now
    return _Outcome(
        target,
        clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS),
        payload,
        photos,
        "after",
    )


def _do_transfer(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    """移交: the case goes to a body outside 城管 (``unit``; default: the responsibility
    list's) with a reply deadline of ``amount`` working days (default: the list's, else
    the policy's). No unit of ours holds it and no unit clock runs."""
    from duban.handover import open_transfer  # deferred: handover reads cases

    note = clean_text(p.note or p.reason, field_name="note", limit=MAX_NOTE_CHARS)
    payload = open_transfer(
        session,
        case=case,
        body_code=p.unit,
        reply_days=p.amount,
        note=note,
        actor=actor,
        policy=policy,
        now=now,
    )
    previous = case.unit.code if case.unit else None
    case.unit_id = None
    case.unit = None
    case.helpers.clear()
    case.due_at = None
    case.clock_started_at = None
    case.assignee_id = None
    case.task = None
    withdraw_requests(case)
    if previous:
        payload["previous_unit"] = previous
    return _Outcome(target, note, payload)


def _transfer_answer(action: Action) -> _Handler:
    """The body's answer to a hand-over (through its link, or recorded by a dispatcher)."""

    def handler(
        session: Session,
        case: Case,
        actor: Actor,
        p: ActionInput,
        policy: Policy,
        now: datetime,
        target: CaseStatus,
    ) -> _Outcome:
        from duban.handover import Answer, answer_transfer

        answer = {
            Action.TRANSFER_ACCEPT: Answer.ACCEPT,
            Action.TRANSFER_REFUSE: Answer.REFUSE,
            Action.TRANSFER_DONE: Answer.DONE,
        }[action]
        photos: list[Photo] = []
        if answer == Answer.REFUSE:
            text = _require_reason(p, action)
        else:
            text = clean_text(p.note, field_name="note", limit=MAX_NOTE_CHARS)
        if answer == Answer.DONE:
            photos = check_photos(session, p.photo_ids, required=not p.historic)
            case.handled_at = now
        payload = answer_transfer(
            session, case=case, answer=answer, actor=actor, now=now, text=text
        )
        if answer == Answer.REFUSE:
            payload["reason"] = text
        if photos:
            payload["photos"] = [x.id for x in photos]
        return _Outcome(target, text, payload, photos, "after" if photos else "")

    return handler


def _do_transfer_overdue(
    session: Session,
    case: Case,
    actor: Actor,
    p: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
) -> _Outcome:
    from duban.handover import mark_transfer_overdue

    return _Outcome(target, "", mark_transfer_overdue(session, case=case, now=now))


def _transfer_at_once(session: Session, case: Case, policy: Policy, now: datetime) -> None:
    """After filing: a matter the responsibility list hands over at once (燃气泄漏) goes
    to its body in the same unit of work, as the SYSTEM actor (its own ``transfer`` event)."""
    from duban.handover import at_once_entry

    with session.no_autoflush:  # the case row is written once, at commit
        entry = at_once_entry(
            session, category_code=case.category_code, condition_code=case.condition_code
        )
    if entry is None:
        return
    rule = check_action(case.status, Action.TRANSFER, Role.SYSTEM)
    params = ActionInput(unit=entry.unit.code, note=entry.note)
    _apply(
        session, case, SYSTEM_ACTOR, Action.TRANSFER, params, policy, now, rule.target, late=False
    )


def fix_on_site(
    session: Session,
    *,
    case: Case,
    actor: Actor,
    after_photo_ids: Sequence[str],
    now: datetime,
    historic: bool = False,
) -> Case:
    """即查即改, inside the report's unit of work: the case just reported (its ``report``
    event written) gets a ``fix_on_site`` event with the after-photos and, as the fixer
    checked it on site, a ``close`` event at once. Never filed nor dispatched."""
    policy = load_policy(session)
    action = Action.FIX_ON_SITE
    params = ActionInput(photo_ids=tuple(after_photo_ids), historic=historic)
    for step in (action, Action.CLOSE):
        from_status = case.status
        if step == action:
            target = check_action(from_status, action, actor.role).target
        else:
            assert action in CLOSES_AT_ONCE
            target = TRANSITIONS[(from_status, Action.CLOSE)].target
        _apply(session, case, actor, step, params, policy, now, target, late=False)
    return case


def _apply(
    session: Session,
    case: Case,
    actor: Actor,
    action: Action,
    params: ActionInput,
    policy: Policy,
    now: datetime,
    target: CaseStatus,
    *,
    late: bool,
) -> None:
    """Run the action's handler on the case and write its one event. ``late``: the timed
    step ran past its own limit (the evaluation's 按时 indicators read ``step_late``)."""
    from_status = case.status
    # No autoflush: the case row is written once, at commit, so its version moves by one.
    with session.no_autoflush:
        outcome = _HANDLERS[action](session, case, actor, params, policy, now, target)
        case.status = outcome.to_status
        case.updated_at = now
        if outcome.to_status != from_status:
            _set_step(case, policy, now)
        _attach(case, outcome.photos, outcome.photo_stage, case.event_count + 1)
    if late:
        outcome.payload["step_late"] = True
    if params.historic:
        outcome.payload["imported"] = True
    append_event(
        session,
        case,
        action=action.value,
        from_status=from_status.value,
        to_status=outcome.to_status.value,
        actor=actor,
        at=now,
        note=outcome.note,
        payload=outcome.payload,
    )


_HANDLERS: dict[Action, _Handler] = {
    Action.ASSIGN: _do_assign,
    Action.VERIFY: _do_verify,
    Action.REJECT: _reasoned(Action.REJECT),
    Action.FILE: _do_file,
    Action.VOID: _reasoned(Action.VOID),
    Action.DISPATCH: _do_dispatch,
    Action.ACCEPT: _do_accept,
    Action.RETURN: _do_return,
    Action.REQUEST_EXTENSION: _do_request_extension,
    Action.APPROVE_EXTENSION: _do_approve_extension,
    Action.DENY_EXTENSION: _do_deny_extension,
    Action.REQUEST_PARK: _do_request_park,
    Action.APPROVE_PARK: _do_approve_park,
    Action.DENY_PARK: _do_deny_park,
    Action.RESUME: _do_resume,
    Action.FEEDBACK: _do_feedback,
    Action.CHECK: _do_check,
    Action.CLOSE: _do_close,
    Action.REOPEN: _do_reopen,
    Action.MERGE: _do_merge,
    Action.SUPERVISE: _do_supervise,
    Action.RATE: _do_rate,
    Action.NOT_FIXED: _do_not_fixed,
    Action.FIX_ON_SITE: _do_fix_on_site,
    Action.CALLBACK: _do_callback,
    Action.TRANSFER: _do_transfer,
    Action.TRANSFER_ACCEPT: _transfer_answer(Action.TRANSFER_ACCEPT),
    Action.TRANSFER_REFUSE: _transfer_answer(Action.TRANSFER_REFUSE),
    Action.TRANSFER_DONE: _transfer_answer(Action.TRANSFER_DONE),
    Action.TRANSFER_OVERDUE: _do_transfer_overdue,
    Action.DISPATCH_TO_PLATFORM: _do_dispatch_to_platform,
    Action.PLATFORM_RETURN: _do_platform_return,
}
#: The actions that finish a step with its own timer (and 派发, within its step).
_TIMED_STEPS = frozenset(
    {
        Action.ASSIGN,
        Action.VERIFY,
        Action.FILE,
        Action.DISPATCH,
        Action.CHECK,
        Action.CLOSE,
        Action.TRANSFER,
        Action.DISPATCH_TO_PLATFORM,
        Action.PLATFORM_RETURN,
    }
)
_UNIT_ACTIONS = frozenset(
    {Action.ACCEPT, Action.RETURN, Action.REQUEST_EXTENSION, Action.REQUEST_PARK, Action.FEEDBACK}
)


def perform_action(
    session: Session,
    *,
    case_id: int,
    action: Action,
    actor: Actor,
    clock: Clock,
    params: ActionInput | None = None,
    expected_version: int | None = None,
) -> Case:
    """Take ``action`` on a case as ``actor``: check, apply, write one event, commit
    (one unit of work; inside another, it joins that one, which commits).

    Raises:
        NotFound: the case does not exist or is not visible to the actor.
        IllegalTransition: wrong status or wrong role (the message names both).
        PermissionDenied: right role, but not this actor's case or task.
        InvalidInput: a missing or malformed argument (``field`` names it).
        StaleCase: someone else changed the case first; nothing was written.
    """
    params = params or ActionInput()
    with writing(session, case_id=case_id):
        # Inside the unit of work, so a refusal ends the caller's transaction like any other.
        if action in INTAKE_ACTIONS:
            raise InvalidInput(
                Msg("'{action}' is part of a report: POST /api/v1/cases", action=action.value),
                field="action",
            )
        case = get_visible_case(session, actor, case_id)
        if expected_version is not None and case.version != expected_version:
            raise StaleCase(case_id)
        from_status = case.status
        step_due = case.step_due_at
        rule = check_action(from_status, action, actor.role)
        if action in _UNIT_ACTIONS:
            _require_own_unit(case, actor)
        policy = load_policy(session)
        check_level(case, actor, action, policy)
        now = clock.now()
        # The step (核实, 立案, 派遣, 核查, 结案; 派发 within its step) ran past its own limit.
        late = step_due is not None and now > step_due and action in _TIMED_STEPS
        # 二级派遣: a case a platform dispatched goes back one level, to that platform.
        target = rule.platform_target if rule.platform_target and case.platform_code else None
        _apply(session, case, actor, action, params, policy, now, target or rule.target, late=late)
        if action == Action.FILE:
            _transfer_at_once(session, case, policy, now)
    return case


# --------------------------------------------------------------------------- reads


def get_case(session: Session, *, actor: Actor, case_id: int) -> Case:
    """A case the actor may see (raises :class:`NotFound` otherwise)."""
    return get_visible_case(session, actor, case_id)
