"""Use cases of campaigns (专项整治 / 专项巡护 / 攻坚月): create, edit and close a campaign,
tag the cases reported inside its scope, and read its cases and figures.

Tagging is set-based: one ``INSERT … SELECT`` puts every case inside a campaign's scope
(reported in its period, of its categories, in its regions, from its sources) that is not
tagged yet into ``campaign_cases``. It runs when a campaign is created, edited (after one
``DELETE`` of the cases its new scope leaves out) and closed, and in the deadline sweep
for every active campaign — so a new case is tagged by the next sweep, not on its way in:
intake, the hot path every report takes whatever its face, stays untouched and knows
nothing of campaigns, and one statement per campaign per sweep tags what arrived meanwhile
(from any face, the bulk import included). A case reclassified before the sweep is tagged
by the class it has then. Voided, rejected and merged reports are never tagged.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, literal, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from duban.accounts import Unit
from duban.cases import (
    OPEN,
    Case,
    CaseStatus,
    Source,
    is_staff,
    overdue_condition,
    visible_cases,
)
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.places import Region
from duban.reference import Category, load_policy
from duban.supervision.campaign_rules import (
    CampaignKind,
    CampaignStatus,
    Period,
    Scope,
    local_day,
)
from duban.supervision.events import append_campaign_event
from duban.supervision.models import Campaign, CampaignCase, CampaignScope
from duban.supervision.policy import supervision_policy

NOT_SUPERVISOR = "only a supervisor may create, edit and close campaigns"
NO_CAMPAIGNS = "this role does not work with campaigns"
CAMPAIGN_NOT_FOUND = "no such campaign"
#: Statuses of reports that were never real problems: not tagged, not counted.
NOT_FOUND_STATUSES = (CaseStatus.VOIDED, CaseStatus.REJECTED)
#: Most points the campaign map draws.
POINTS_MAX = 5000


@dataclass(frozen=True)
class CampaignInput:
    """What a supervisor gives to create or edit a campaign."""

    name: str
    kind: str
    starts_on: date | None
    ends_on: date | None
    categories: Sequence[str] = ()
    regions: Sequence[str] = ()
    sources: Sequence[str] = ()
    description: str = ""


def campaign_kinds() -> tuple[CampaignKind, ...]:
    """The kinds the policy allows."""
    return supervision_policy().campaign_kinds


def kind_label(code: str, lang: str) -> str:
    """A kind's label in ``lang`` (its code if the policy no longer has it)."""
    for kind in campaign_kinds():
        if kind.code == code:
            return kind.zh if lang == "zh" else kind.en
    return code


def _require_supervisor(actor: Actor) -> None:
    if actor.role != Role.SUPERVISOR:
        raise PermissionDenied(NOT_SUPERVISOR)


def require_campaign_reader(actor: Actor) -> None:
    """Staff read campaigns (each sees only the cases it may see); citizens do not."""
    if actor.role == Role.CITIZEN or not is_staff(actor):
        raise PermissionDenied(NO_CAMPAIGNS)


def _text(value: str, name: str, limit: int, *, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput("this field is required", field=name)
    if len(cleaned) > limit or any(ord(ch) < 32 and ch not in "\n\t" for ch in cleaned):
        raise InvalidInput("this text is too long or has control characters", field=name)
    return cleaned


def _checked(session: Session, data: CampaignInput) -> tuple[str, str, str, Period, Scope]:
    name = _text(data.name, "name", 200)
    description = _text(data.description, "description", 4000, required=False)
    if data.kind not in {k.code for k in campaign_kinds()}:
        raise InvalidInput("no such campaign kind", field="kind")
    period = Period.parse(data.starts_on, data.ends_on)
    scope = Scope.parse(
        data.categories, data.regions, data.sources, known_sources=[s.value for s in Source]
    )
    if scope.categories:
        known = set(
            session.scalars(select(Category.code).where(Category.code.in_(scope.categories)))
        )
        missing = [c for c in scope.categories if c not in known]
        if missing:
            raise InvalidInput("no category has this code", field="categories", codes=missing)
    if scope.regions:
        known = set(
            session.scalars(
                select(Region.code).where(Region.code.in_(scope.regions), Region.valid_to.is_(None))
            )
        )
        missing = [r for r in scope.regions if r not in known]
        if missing:
            raise InvalidInput("no region has this code", field="regions", codes=missing)
    return name, data.kind, description, period, scope


def scope_of(campaign: Campaign) -> Scope:
    """The campaign's scope as stored."""
    return Scope.from_rows((r.kind, r.code) for r in campaign.scope_rows)


def scope_condition(campaign: Campaign) -> ColumnElement[bool]:
    """SQL selecting the cases inside ``campaign``'s period and scope."""
    scope = scope_of(campaign)
    where: list[ColumnElement[bool]] = [
        Case.created_at >= campaign.starts_at,
        Case.created_at < campaign.ends_at,
        Case.status.not_in(list(NOT_FOUND_STATUSES)),
        Case.duplicate_of_id.is_(None),
    ]
    if scope.categories:
        # A major class code covers its subclasses (their codes extend it).
        where.append(
            or_(*(Case.category_code.startswith(c, autoescape=True) for c in scope.categories))
        )
    if scope.regions:
        codes = list(scope.regions)
        where.append(
            or_(
                Case.district_code.in_(codes),
                Case.street_code.in_(codes),
                Case.community_code.in_(codes),
                Case.grid_code.in_(codes),
            )
        )
    if scope.sources:
        where.append(Case.source.in_(list(scope.sources)))
    return and_(*where)


def _tag(session: Session, campaign: Campaign, now: datetime) -> int:
    """Tag the cases inside the campaign's scope not tagged yet: one statement."""
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    picked = select(
        literal(campaign.id, CampaignCase.campaign_id.type),
        Case.id,
        literal(now, CampaignCase.tagged_at.type),
    ).where(scope_condition(campaign))
    stmt = (
        upsert(CampaignCase)
        .from_select(["campaign_id", "case_id", "tagged_at"], picked)
        .on_conflict_do_nothing()
        .returning(CampaignCase.case_id)
    )
    added = len(session.execute(stmt).all())
    campaign.tagged_at = now
    return added


def _untag_outside(session: Session, campaign: Campaign) -> int:
    """Drop the tags of cases the (changed) scope no longer covers: one statement."""
    dropped = session.execute(
        delete(CampaignCase)
        .where(
            CampaignCase.campaign_id == campaign.id,
            CampaignCase.case_id.not_in(select(Case.id).where(scope_condition(campaign))),
        )
        .returning(CampaignCase.case_id)
        .execution_options(synchronize_session=False)
    )
    return len(dropped.all())


def _payload(campaign: Campaign, scope: Scope) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "kind": campaign.kind,
        "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "categories": list(scope.categories),
        "regions": list(scope.regions),
        "sources": list(scope.sources),
    }


def _apply(
    campaign: Campaign,
    name: str,
    kind: str,
    description: str,
    period: Period,
    scope: Scope,
    tz: Any,
) -> None:
    campaign.name = name
    campaign.kind = kind
    campaign.description = description
    campaign.starts_on, campaign.ends_on = period.starts_on, period.ends_on
    campaign.starts_at, campaign.ends_at = period.bounds(tz)
    wanted = scope.as_rows()
    kept = [r for r in campaign.scope_rows if (r.kind, r.code) in wanted]
    have = {(r.kind, r.code) for r in kept}
    campaign.scope_rows = kept + [
        CampaignScope(kind=k, code=c) for k, c in wanted if (k, c) not in have
    ]


def _name_taken(session: Session, name: str, but: int | None = None) -> bool:
    query = select(Campaign.id).where(Campaign.name == name)
    if but is not None:
        query = query.where(Campaign.id != but)
    return session.scalars(query).first() is not None


def create_campaign(
    session: Session, *, actor: Actor, clock: Clock, data: CampaignInput
) -> Campaign:
    """A supervisor starts a campaign; the cases already inside its scope are tagged."""
    _require_supervisor(actor)
    with writing(session):
        name, kind, description, period, scope = _checked(session, data)
        if _name_taken(session, name):
            raise Conflict("a campaign with this name exists already", field="name")
        now = clock.now()
        campaign = Campaign(
            status=CampaignStatus.ACTIVE,
            created_by_id=actor.user_id,
            created_at=now,
            updated_at=now,
            event_count=0,
            last_event_hash="",
        )
        _apply(campaign, name, kind, description, period, scope, load_policy(session).tz)
        session.add(campaign)
        session.flush()
        tagged = _tag(session, campaign, now)
        append_campaign_event(
            session,
            campaign,
            action="create",
            actor=actor,
            at=now,
            note=name,
            payload={**_payload(campaign, scope), "tagged": tagged},
        )
    return campaign


def _locked(session: Session, campaign_id: int) -> Campaign:
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(selectinload(Campaign.scope_rows))
        .with_for_update()
    ).first()
    if campaign is None:
        raise NotFound(CAMPAIGN_NOT_FOUND, campaign_id=campaign_id)
    return campaign


def update_campaign(
    session: Session, *, actor: Actor, clock: Clock, campaign_id: int, data: CampaignInput
) -> Campaign:
    """A supervisor edits an active campaign: its cases are tagged anew for the new scope
    (those now outside untagged, those now inside tagged)."""
    _require_supervisor(actor)
    with writing(session):
        campaign = _locked(session, campaign_id)
        if campaign.status != CampaignStatus.ACTIVE:
            raise Conflict("this campaign is closed", status=campaign.status.value)
        name, kind, description, period, scope = _checked(session, data)
        if _name_taken(session, name, but=campaign.id):
            raise Conflict("a campaign with this name exists already", field="name")
        now = clock.now()
        _apply(campaign, name, kind, description, period, scope, load_policy(session).tz)
        campaign.updated_at = now
        session.flush()
        dropped = _untag_outside(session, campaign)
        tagged = _tag(session, campaign, now)
        append_campaign_event(
            session,
            campaign,
            action="edit",
            actor=actor,
            at=now,
            note=name,
            payload={**_payload(campaign, scope), "tagged": tagged, "untagged": dropped},
        )
    return campaign


def close_campaign(
    session: Session, *, actor: Actor, clock: Clock, campaign_id: int, note: str = ""
) -> Campaign:
    """A supervisor closes a campaign: its cases are tagged a last time, then it keeps
    them (the sweep no longer tags it)."""
    _require_supervisor(actor)
    cleaned = _text(note, "note", 2000, required=False)
    with writing(session):
        campaign = _locked(session, campaign_id)
        if campaign.status != CampaignStatus.ACTIVE:
            raise Conflict("this campaign is closed", status=campaign.status.value)
        now = clock.now()
        tagged = _tag(session, campaign, now)
        campaign.status = CampaignStatus.CLOSED
        campaign.closed_at = now
        campaign.updated_at = now
        append_campaign_event(
            session,
            campaign,
            action="close",
            actor=actor,
            at=now,
            note=cleaned,
            payload={"tagged": tagged},
        )
    return campaign


@dataclass
class TagReport:
    """What one tagging run did: campaign id → cases newly tagged."""

    tagged: dict[int, int] = field(default_factory=dict)


def tag_active_campaigns(session: Session, *, clock: Clock, actor: Actor) -> TagReport:
    """Tag the new cases of every active campaign (the sweep's step): one statement and,
    when it tagged something, one event per campaign, each in its own transaction."""
    report = TagReport()
    session.rollback()
    ids = list(
        session.scalars(
            select(Campaign.id)
            .where(Campaign.status == CampaignStatus.ACTIVE)
            .order_by(Campaign.id)
        )
    )
    session.rollback()
    for campaign_id in ids:
        with writing(session):
            campaign = _locked(session, campaign_id)
            if campaign.status != CampaignStatus.ACTIVE:
                continue
            now = clock.now()
            tagged = _tag(session, campaign, now)
            if tagged:
                append_campaign_event(
                    session,
                    campaign,
                    action="tag",
                    actor=actor,
                    at=now,
                    payload={"tagged": tagged},
                )
                report.tagged[campaign.id] = tagged
    return report


# --------------------------------------------------------------------------- reads


def list_campaigns(session: Session, *, actor: Actor) -> list[Campaign]:
    """Every campaign, active ones first, newest first."""
    require_campaign_reader(actor)
    return list(
        session.scalars(
            select(Campaign)
            .options(selectinload(Campaign.scope_rows))
            .order_by(Campaign.status, Campaign.starts_on.desc(), Campaign.id.desc())
        )
    )


def get_campaign(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    """One campaign (404 if there is none)."""
    require_campaign_reader(actor)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(CAMPAIGN_NOT_FOUND, campaign_id=campaign_id)
    return campaign


def visible_tagged(campaign_id: int, actor: Actor) -> list[ColumnElement[bool]]:
    """The tagged cases of a campaign that ``actor`` may see and that count as found."""
    return [
        Case.id.in_(select(CampaignCase.case_id).where(CampaignCase.campaign_id == campaign_id)),
        visible_cases(actor),
        Case.status.not_in(list(NOT_FOUND_STATUSES)),
    ]


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: found, fixed (closed), open, overdue."""

    key: str
    label: str
    found: int
    fixed: int
    open: int
    overdue: int


@dataclass(frozen=True)
class CampaignStats:
    """The figures of a campaign as ``actor`` may see them."""

    found: int
    fixed: int
    open: int
    overdue: int
    by_unit: list[Row]
    by_category: list[Row]
    by_day: list[tuple[date, int]]


def _counts(key: Any) -> Any:
    return (
        key,
        func.count(),
        func.sum(sql_case((Case.status == CaseStatus.CLOSED, 1), else_=0)),
        func.sum(sql_case((Case.status.in_(sorted(OPEN)), 1), else_=0)),
    )


def campaign_stats(
    session: Session, *, actor: Actor, campaign: Campaign, now: datetime, lang: str = "zh"
) -> CampaignStats:
    """Found, fixed (closed), open and overdue, by unit, by category and by local day."""
    where = visible_tagged(campaign.id, actor)
    late = func.sum(sql_case((overdue_condition(now), 1), else_=0))
    units = {
        uid: (code, name if lang == "zh" else (name_en or name))
        for uid, code, name, name_en in session.execute(
            select(Unit.id, Unit.code, Unit.name, Unit.name_en)
        )
    }
    none_label = "未派遣" if lang == "zh" else "Not dispatched"
    by_unit = []
    unit_rows: Any = session.execute(
        select(*_counts(Case.unit_id), late).where(*where).group_by(Case.unit_id)
    )
    for uid, n, fixed, open_, overdue in unit_rows:
        code, name = units.get(uid, ("", none_label))
        by_unit.append(Row(code, name, int(n), int(fixed or 0), int(open_ or 0), int(overdue or 0)))
    by_unit.sort(key=lambda r: (-r.found, r.label))
    label: Any = (
        Category.name
        if lang == "zh"
        else func.coalesce(func.nullif(Category.name_en, ""), Category.name)
    )
    cats: dict[str, str] = {c: n for c, n in session.execute(select(Category.code, label))}
    cat_rows: Any = session.execute(
        select(*_counts(Case.category_code), late).where(*where).group_by(Case.category_code)
    )
    by_category = [
        Row(code, str(cats.get(code, code)), int(n), int(f or 0), int(o or 0), int(d or 0))
        for code, n, f, o, d in cat_rows
    ]
    by_category.sort(key=lambda r: (-r.found, r.key))
    tz = load_policy(session).tz
    days = Tally(local_day(at, tz) for at in session.scalars(select(Case.created_at).where(*where)))
    return CampaignStats(
        found=sum(r.found for r in by_unit),
        fixed=sum(r.fixed for r in by_unit),
        open=sum(r.open for r in by_unit),
        overdue=sum(r.overdue for r in by_unit),
        by_unit=by_unit,
        by_category=by_category,
        by_day=sorted(days.items()),
    )


def campaign_cases(
    session: Session,
    *,
    actor: Actor,
    campaign: Campaign,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[tuple[Case, bool]], int]:
    """The tagged cases ``actor`` may see, newest first, each with whether it is overdue,
    and how many there are."""
    where = visible_tagged(campaign.id, actor)
    total = int(session.scalar(select(func.count()).select_from(Case).where(*where)) or 0)
    rows = session.execute(
        select(Case, overdue_condition(now))
        .where(*where)
        .options(selectinload(Case.unit))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return [(case, bool(late)) for case, late in rows], total


def campaign_points(
    session: Session, *, actor: Actor, campaign: Campaign, now: datetime
) -> dict[str, Any]:
    """The campaign's cases for the map, in the one map's point format:
    ``{"mode": "points", "total", "points": [[id, lat, lon, status, overdue], ...]}``."""
    rows = session.execute(
        select(Case.id, Case.lat, Case.lon, Case.status, overdue_condition(now))
        .where(*visible_tagged(campaign.id, actor))
        .limit(POINTS_MAX)
    ).all()
    return {
        "mode": "points",
        "total": len(rows),
        "points": [
            [r[0], round(r[1], 6), round(r[2], 6), CaseStatus(r[3]).value, int(bool(r[4]))]
            for r in rows
        ],
    }


def campaigns_of_case(session: Session, case_id: int) -> list[Campaign]:
    """The campaigns a case is tagged to (the case page shows them)."""
    return list(
        session.scalars(
            select(Campaign)
            .join(CampaignCase, CampaignCase.campaign_id == Campaign.id)
            .where(CampaignCase.case_id == case_id)
            .order_by(Campaign.starts_on, Campaign.id)
        )
    )


def scope_names(session: Session, scope: Scope, lang: str = "zh") -> dict[str, list[str]]:
    """The scope in words: category and region names (codes where unknown), sources."""
    from duban.cases import SOURCE_LABELS

    cats = dict(
        session.execute(
            select(Category.code, Category.name if lang == "zh" else Category.name_en).where(
                Category.code.in_(scope.categories) if scope.categories else false()
            )
        ).all()
    )
    regions = {
        code: name if lang == "zh" else (name_en or name)
        for code, name, name_en in session.execute(
            select(Region.code, Region.name, Region.name_en).where(
                Region.code.in_(scope.regions) if scope.regions else false(),
                Region.valid_to.is_(None),
            )
        )
    }
    labels = {s.value: label for s, label in SOURCE_LABELS.items()}
    return {
        "categories": [cats.get(c) or c for c in scope.categories],
        "regions": [regions.get(r, r) for r in scope.regions],
        "sources": [
            labels[s][0 if lang == "zh" else 1] if s in labels else s for s in scope.sources
        ],
    }
