"""Request and response schemas of cases, and how a case is presented to a viewer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from duban.api.schemas import CRS_DESCRIPTION, Strict
from duban.cases.access import CITY_WIDE
from duban.cases.models import Case, CaseEvent
from duban.cases.presenters import DeadlineView
from duban.cases.workflow import (
    ACTION_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    Action,
    CaseStatus,
    Source,
    allowed_actions,
)
from duban.kernel.context import Actor
from duban.kernel.errors import DubanError
from duban.kernel.roles import Role
from duban.places import (
    PlaceRead,
    ResponsibleRead,
    case_reasons,
    place_read,
    responsible_read,
)
from duban.web.i18n import translate

if TYPE_CHECKING:
    from duban.places import Location
    from duban.reference import Policy


class CaseCreate(Strict):
    source: Source = Field(
        description="patrol | citizen | hotline | inspection | supervision | sensor"
    )
    category_code: str = Field(
        min_length=1, max_length=32, description="a subclass code, e.g. E0102"
    )
    condition_code: str | None = Field(default=None, max_length=40, description="立案条件 code")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str = Field(default="", max_length=300)
    description: str = Field(min_length=1, max_length=5000)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=32)
    photo_ids: list[str] = Field(default_factory=list, max_length=20)
    crs: str = Field(default="wgs84", max_length=16, description=CRS_DESCRIPTION)
    fixed_on_site: bool = Field(
        default=False,
        description="即查即改: the reporter (collector, supervisor or leader) fixed the problem "
        "on the spot; with before photo_ids and after_photo_ids the case is born closed",
    )
    after_photo_ids: list[str] = Field(
        default_factory=list, max_length=20, description="photos of the fix (fixed_on_site)"
    )
    hotline_ticket: str | None = Field(
        default=None,
        max_length=40,
        description="the 12345 hotline's ticket number (工单号); hotline cases only",
    )


class ActionRequest(Strict):
    note: str = Field(default="", max_length=2000)
    reason: str = Field(default="", max_length=2000)
    unit: str | None = Field(default=None, max_length=32, description="lead unit code (dispatch)")
    helper_units: list[str] = Field(default_factory=list, max_length=10)
    passed: bool | None = Field(default=None, description="check: true passes, false sends back")
    rework_reason: (
        Literal["not_fixed", "wrong_angle", "not_original", "wrong_place", "reused_photo", "other"]
        | None
    ) = Field(
        default=None,
        description="check with passed=false: why it goes back (default: what the photo "
        "findings suggest, else not_fixed)",
    )
    until: AwareDatetime | None = Field(default=None, description="request_extension: new deadline")
    amount: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="request_extension: extra time in the limit's unit",
    )
    photo_ids: list[str] = Field(default_factory=list, max_length=20)
    collector: str | None = Field(default=None, max_length=64, description="assign: username")
    duplicate_of: str | None = Field(
        default=None, max_length=32, description="merge: case code or id"
    )
    category_code: str | None = Field(
        default=None, max_length=32, description="file: correct the category"
    )
    condition_code: str | None = Field(default=None, max_length=40, description="file: 立案条件")
    expected_version: int | None = Field(
        default=None, ge=1, description="refuse with 409 if the case changed since"
    )
    lat: float | None = Field(
        default=None, ge=-90, le=90, description="verify/file/dispatch: corrected location"
    )
    lon: float | None = Field(default=None, ge=-180, le=180)
    crs: str = Field(default="wgs84", max_length=16, description=CRS_DESCRIPTION)
    address: str | None = Field(default=None, max_length=300)
    rating: str | None = Field(
        default=None,
        max_length=32,
        description="callback (回访): satisfied | basically_satisfied | unsatisfied",
    )
    platform: str | None = Field(
        default=None,
        max_length=32,
        description="dispatch_to_platform (二级派遣): district or street code of the platform "
        "(default: the case's street if it runs one, else its district)",
    )


class EventRead(BaseModel):
    seq: int
    action: str
    action_label: str
    from_status: str | None
    to_status: str
    actor: str | None
    actor_role: str
    occurred_at: datetime
    note: str
    payload: dict[str, Any]
    hash: str


class CasePhotoRead(BaseModel):
    id: str
    stage: str
    event_seq: int
    url: str


class RoutingRead(BaseModel):
    """The unit routing suggests, and which rule (or the territorial fallback) chose it."""

    unit: str | None
    unit_name: str | None
    helper_units: list[str]
    rule_id: int | None
    reason: str | None
    routed_at: datetime | None


class CaseRead(BaseModel):
    id: int
    code: str
    version: int
    status: CaseStatus
    status_label: str
    source: Source
    source_label: str
    kind: str
    category_code: str
    condition_code: str | None
    lat: float
    lon: float
    address: str
    description: str
    grid_code: str | None
    unit: str | None
    unit_name: str | None
    helper_units: list[str]
    assignee: str | None = None
    task: str | None
    due_at: datetime | None
    clock_started_at: datetime | None = Field(
        default=None,
        description="when the unit's clock (re)started: at dispatch, or at a failed check "
        "(返工 restarts it with the rework limit)",
    )
    seconds_left: float | None
    overdue: bool
    light: str | None
    clock: str
    step: str | None
    step_due_at: datetime | None
    step_light: str | None
    rework_count: int
    is_supervised: bool
    fixed_on_site: bool = False
    photo_verdict: Literal["pass", "needs_look", "fail"] | None = Field(
        default=None,
        description="the photo checks' verdict on the latest fix (staff only; details: "
        "GET /cases/{id}/evidence)",
    )
    hotline_ticket: str | None = None
    platform: str | None = Field(
        default=None,
        description="二级派遣: the district or street platform the case was sent down to",
    )
    supervise_note: str | None
    pending_extension_until: datetime | None
    pending_park_reason: str | None
    duplicate_of: int | None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]
    photos: list[CasePhotoRead] = Field(default_factory=list)
    events: list[EventRead] | None = None
    community_code: str | None = None
    street_code: str | None = None
    district_code: str | None = None
    grid: PlaceRead | None = None
    community: PlaceRead | None = None
    street: PlaceRead | None = None
    district: PlaceRead | None = None
    grid_leader: ResponsibleRead | None = None
    road_chief: ResponsibleRead | None = None
    routing: RoutingRead | None = None


class CasePage(BaseModel):
    items: list[CaseRead]
    total: int  # counted up to COUNTED (10,000); ``total_exact`` false: more than that
    total_exact: bool = True
    page: int
    page_size: int
    pages: int
    after: str | None = None  # the cursor of the next page (None: this is the last)
    before: str | None = None  # the cursor of the page before (None: this is the first)


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz) if value is not None else None


def _offered(case: Case, viewer: Actor, policy: Policy | None) -> list[Action]:
    """The workflow table's actions for the viewer's role, less those of another level
    of dispatch (二级派遣) when the policy is known."""
    actions = allowed_actions(case.status, viewer.role)
    if policy is None:
        return actions
    from duban.cases.actions import check_level  # deferred: kept out of the schemas' imports

    offered = []
    for action in actions:
        try:
            check_level(case, viewer, action, policy)
        except DubanError:
            continue
        offered.append(action)
    return offered


def case_read(
    case: Case,
    view: DeadlineView,
    *,
    viewer: Actor,
    tz: ZoneInfo,
    usernames: dict[int, str] | None = None,
    events: list[CaseEvent] | None = None,
    with_photos: bool = False,
    place: Location | None = None,
    photo_verdict: str | None = None,
    policy: Policy | None = None,
    routing_reason: str | None = None,
) -> CaseRead:
    """Present a case to ``viewer``; reporter contact details only for city staff.

    ``routing_reason`` is why routing suggested its unit, in the reader's language
    (:func:`routing_reasons`); without it, the English stored when the case was routed.

    ``place`` (from ``services.places.case_location``) adds region names, the grid leader
    and the road chief; without it only the region codes are shown.
    """
    usernames = usernames or {}
    show_contact = viewer.role in CITY_WIDE or (
        viewer.role == Role.CITIZEN and case.reporter_id == viewer.user_id
    )
    status = case.status
    return CaseRead(
        id=case.id,
        code=case.code,
        version=case.version,
        status=status,
        status_label=STATUS_LABELS[status][0],
        source=case.source,
        source_label=SOURCE_LABELS[case.source][0],
        kind=case.kind,
        category_code=case.category_code,
        condition_code=case.condition_code,
        lat=case.lat,
        lon=case.lon,
        address=case.address,
        description=case.description,
        grid_code=case.grid_code,
        unit=case.unit.code if case.unit else None,
        unit_name=case.unit.name if case.unit else None,
        helper_units=[h.unit.code for h in case.helpers] if with_photos else [],
        assignee=usernames.get(case.assignee_id) if case.assignee_id else None,
        task=case.task,
        due_at=_local(view.due_at, tz),
        clock_started_at=_local(case.clock_started_at, tz),
        seconds_left=view.seconds_left,
        overdue=view.is_overdue,
        light=view.light,
        clock=view.clock,
        step=view.step,
        step_due_at=_local(view.step_due_at, tz),
        step_light=view.step_light,
        rework_count=case.rework_count,
        fixed_on_site=bool(case.fixed_on_site),
        photo_verdict=photo_verdict if viewer.role != Role.CITIZEN else None,
        hotline_ticket=case.hotline_ticket,
        platform=case.platform_code,
        is_supervised=case.is_supervised,
        supervise_note=case.supervise_note,
        pending_extension_until=_local(case.pending_extension_until, tz),
        pending_park_reason=case.pending_park_reason,
        duplicate_of=case.duplicate_of_id,
        reporter_name=case.reporter_name if show_contact else None,
        reporter_phone=case.reporter_phone if show_contact else None,
        created_at=_local(case.created_at, tz) or case.created_at,
        updated_at=_local(case.updated_at, tz) or case.updated_at,
        dispatched_at=_local(case.dispatched_at, tz),
        handled_at=_local(case.handled_at, tz),
        closed_at=_local(case.closed_at, tz),
        allowed_actions=[a.value for a in _offered(case, viewer, policy)],
        photos=[
            CasePhotoRead(
                id=p.photo_id,
                stage=p.stage,
                event_seq=p.event_seq,
                url=f"/api/v1/photos/{p.photo_id}",
            )
            for p in case.photos
        ]
        if with_photos
        else [],
        events=[
            EventRead(
                seq=e.seq,
                action=e.action,
                action_label=ACTION_LABELS[Action(e.action)][0]
                if e.action in Action.__members__.values()
                else e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                actor=usernames.get(e.actor_id) if e.actor_id else "system",
                actor_role=e.actor_role,
                occurred_at=_local(e.occurred_at, tz) or e.occurred_at,
                note=e.note,
                payload=json.loads(e.payload or "{}"),
                hash=e.hash,
            )
            for e in events
        ]
        if events is not None
        else None,
        community_code=case.community_code,
        street_code=case.street_code,
        district_code=case.district_code,
        **_place_fields(case, place),
        routing=_routing(case, tz, routing_reason) if sees_routing(viewer) else None,
    )


def _place_fields(case: Case, place: Location | None) -> dict[str, Any]:
    if place is None:
        return {
            level: PlaceRead(level=level, code=code, name=None) if code else None
            for level, code in (
                ("grid", case.grid_code),
                ("community", case.community_code),
                ("street", case.street_code),
                ("district", case.district_code),
            )
        }
    return {
        "grid": place_read(place.grid),
        "community": place_read(place.community),
        "street": place_read(place.street),
        "district": place_read(place.district),
        "grid_leader": responsible_read(place.grid_leader),
        "road_chief": responsible_read(place.road_chief),
    }


def sees_routing(viewer: Actor) -> bool:
    """Whether ``viewer`` is shown routing's suggestion (city staff and handlers)."""
    return viewer.role in CITY_WIDE or viewer.role == Role.HANDLER


def routing_reasons(session: Session, cases: Sequence[Case], lang: str) -> dict[int, str]:
    """Why routing suggested each case's unit, in ``lang`` (``zh`` or ``en``), named as
    the data names things now; cases that hold only an older English text are left out."""
    return {
        case_id: translate(reason, lang)
        for case_id, reason in case_reasons(session, cases).items()
        if reason is not None
    }


def _routing(case: Case, tz: ZoneInfo, reason: str | None = None) -> RoutingRead | None:
    if case.routed_at is None:
        return None
    unit = case.routing_unit
    return RoutingRead(
        unit=unit.code if unit else None,
        unit_name=unit.name if unit else None,
        helper_units=list(case.routing_helpers or []),
        rule_id=case.routing_rule_id,
        reason=reason if reason is not None else case.routing_reason,
        routed_at=_local(case.routed_at, tz),
    )
