"""Policies as data: the working calendar, step limits and source rules.

The shipped defaults live in ``duban/data/policy.yaml``; the live copy is the ``policy``
row of the ``settings`` table, which admins may edit. It is parsed once per change and
cached per process (the row's ``updated_at`` tells when to re-read).
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import Source
from duban.kernel.db.models import Setting
from duban.kernel.db.session import request_memo
from duban.kernel.db.stamps import (
    POLICY_KEY,
    StampedCache,
    database_key,
    forget_stamps,
    next_stamp,
    stamp,
)
from duban.kernel.errors import Msg, PolicyError, cause
from duban.kernel.limits import Backoff, Rate
from duban.kernel.unitofwork import after_commit, writing
from duban.reference.calendar import Light, LimitUnit, TimeLimit, WorkingCalendar, light_for


@dataclass(frozen=True)
class SourceRule:
    """A cap on the deadline of cases from one source."""

    max_limit: TimeLimit | None = None
    by_month_end: bool = False


OUTSIDE_GRIDS_CHOICES = ("reject", "catch_all", "accept")
TERRITORIAL_LEVELS = ("community", "street", "district")


@dataclass(frozen=True)
class NearbyPolicy:
    """Which earlier cases are shown as possible duplicates of a new report."""

    radius_m: float = 250.0
    max_results: int = 5
    open_within_days: float = 30.0
    closed_within_days: float = 7.0
    #: Radius per subclass or major class code (the subclass wins), else ``radius_m``.
    radius_by_category: Mapping[str, float] = field(default_factory=dict)

    def radius_for(self, category_code: str | None, major_code: str | None = None) -> float:
        """The search radius in metres for a category."""
        for code in (category_code, major_code):
            if code and code in self.radius_by_category:
                return self.radius_by_category[code]
        return self.radius_m


@dataclass(frozen=True)
class PlacesPolicy:
    """Where cases land (``places:`` in the policy)."""

    #: A report outside every unit grid (while grids exist): ``reject`` it (422), file it
    #: to ``catch_all_grid``, or ``accept`` it without a grid.
    outside_grids: str = "reject"
    catch_all_grid: str | None = None
    #: Routing falls back to the territorial unit (属地) of the first of these levels
    #: of the case that has one.
    territorial_levels: tuple[str, ...] = ("street", "district")
    #: Road segments (路长制) are lines; points this close to one belong to it.
    road_buffer_m: float = 30.0
    nearby: NearbyPolicy = field(default_factory=NearbyPolicy)


def parse_places_policy(data: Mapping[str, Any] | None) -> PlacesPolicy:
    """Validate the ``places:`` part of a policy (raises ValueError naming the problem)."""
    data = data or {}
    outside = str(data.get("outside_grids", "reject"))
    if outside not in OUTSIDE_GRIDS_CHOICES:
        raise ValueError(
            f"places.outside_grids must be one of {', '.join(OUTSIDE_GRIDS_CHOICES)}, "
            f"not {outside!r}"
        )
    catch_all = data.get("catch_all_grid")
    catch_all = str(catch_all) if catch_all not in (None, "") else None
    if catch_all is not None and not (
        len(catch_all) == 15 and catch_all.isascii() and catch_all.isdigit()
    ):
        raise ValueError(f"places.catch_all_grid must be a 15-digit grid code, not {catch_all!r}")
    if outside == "catch_all" and catch_all is None:
        raise ValueError("places.outside_grids is catch_all but places.catch_all_grid is not set")
    levels = tuple(str(x) for x in (data.get("territorial_levels") or ("street", "district")))
    for level in levels:
        if level not in TERRITORIAL_LEVELS:
            known = ", ".join(TERRITORIAL_LEVELS)
            raise ValueError(f"places.territorial_levels: {level!r} is not one of {known}")
    buffer_m = float(data.get("road_buffer_m", 30.0))
    nearby_data = data.get("nearby") or {}
    nearby = NearbyPolicy(
        radius_m=float(nearby_data.get("radius_m", 250.0)),
        max_results=int(nearby_data.get("max_results", 5)),
        open_within_days=float(nearby_data.get("open_within_days", 30.0)),
        closed_within_days=float(nearby_data.get("closed_within_days", 7.0)),
        radius_by_category={
            str(k): float(v) for k, v in (nearby_data.get("radius_by_category") or {}).items()
        },
    )
    numbers = {
        "places.road_buffer_m": buffer_m,
        "places.nearby.radius_m": nearby.radius_m,
        "places.nearby.max_results": float(nearby.max_results),
        **{
            f"places.nearby.radius_by_category.{k}": v for k, v in nearby.radius_by_category.items()
        },
    }
    for name, value in numbers.items():
        if not value > 0:
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    for name, value in (
        ("places.nearby.open_within_days", nearby.open_within_days),
        ("places.nearby.closed_within_days", nearby.closed_within_days),
    ):
        if not value >= 0:
            raise ValueError(f"{name} must be 0 or more, not {value!r}")
    return PlacesPolicy(
        outside_grids=outside,
        catch_all_grid=catch_all,
        territorial_levels=levels,
        road_buffer_m=buffer_m,
        nearby=nearby,
    )


@dataclass(frozen=True)
class LimitsPolicy:
    """Limits before work (``limits:`` in the policy): request bodies, checked before
    they are read, and rates per client (see :mod:`duban.kernel.limits`)."""

    #: Any request body not covered below (JSON, plain forms).
    body_default_kib: int = 1024
    #: A form with photos (web pages, Open311 POST): this many photos of the largest
    #: size allowed (``DUBAN_MAX_PHOTO_BYTES``) at most.
    body_photos_per_request: int = 10
    #: Admin imports (region files).
    body_import_mib: int = 200
    #: Reports without an account (随手拍 on the web, Open311 POST), per IP address.
    anonymous_reports_per_ip: Rate = field(default_factory=lambda: Rate(30, 3600.0))
    #: Open311 POSTs per client (API key).
    reports_per_client: Rate = field(default_factory=lambda: Rate(600, 3600.0))
    #: Photo uploads per account, and per IP address (anonymous uploads included).
    uploads_per_account: Rate = field(default_factory=lambda: Rate(300, 3600.0))
    uploads_per_ip: Rate = field(default_factory=lambda: Rate(300, 3600.0))
    #: Sign-in attempts per IP address (API and web).
    sign_in_per_ip: Rate = field(default_factory=lambda: Rate(60, 600.0))
    #: After failed passwords for one username: free tries, then a doubling delay.
    sign_in_failures: Backoff = field(default_factory=Backoff)


def parse_limits_policy(data: Mapping[str, Any] | None) -> LimitsPolicy:
    """Validate the ``limits:`` part of a policy (raises ValueError naming the problem)."""
    data = data or {}
    body = data.get("body") or {}
    rates = data.get("rates") or {}
    failures = data.get("sign_in_failures") or {}
    default = LimitsPolicy()

    def rate(name: str, fallback: Rate) -> Rate:
        value = rates.get(name)
        return fallback if value in (None, "") else Rate.parse(str(value))

    def positive(name: str, value: Any) -> int:
        number = int(value)
        if number < 1:
            raise ValueError(f"limits.{name} must be a positive number, not {value!r}")
        return number

    backoff = Backoff(
        free=int(failures.get("free", default.sign_in_failures.free)),
        base=float(failures.get("base_seconds", default.sign_in_failures.base)),
        cap=float(failures.get("max_seconds", default.sign_in_failures.cap)),
        forget=float(failures.get("forget_seconds", default.sign_in_failures.forget)),
    )
    if backoff.free < 0 or not backoff.base > 0 or not backoff.cap >= backoff.base:
        raise ValueError("limits.sign_in_failures needs free >= 0 and 0 < base_seconds <= max")
    return LimitsPolicy(
        body_default_kib=positive(
            "body.default_kib", body.get("default_kib", default.body_default_kib)
        ),
        body_photos_per_request=positive(
            "body.photos_per_request",
            body.get("photos_per_request", default.body_photos_per_request),
        ),
        body_import_mib=positive(
            "body.import_mib", body.get("import_mib", default.body_import_mib)
        ),
        anonymous_reports_per_ip=rate("anonymous_reports_per_ip", default.anonymous_reports_per_ip),
        reports_per_client=rate("reports_per_client", default.reports_per_client),
        uploads_per_account=rate("uploads_per_account", default.uploads_per_account),
        uploads_per_ip=rate("uploads_per_ip", default.uploads_per_ip),
        sign_in_per_ip=rate("sign_in_per_ip", default.sign_in_per_ip),
        sign_in_failures=backoff,
    )


#: The step of a case sent down to a district or street platform (二级派遣).
PLATFORM_DISPATCH_STEP = "sub_dispatch"


@dataclass(frozen=True)
class DispatchPolicy:
    """二级派遣 (``dispatch:`` in the policy): whether the city's dispatcher may send cases
    down to district or street platforms, and which regions run one."""

    #: 1: the city dispatches to units (the default); 2: also to region platforms.
    levels: int = 1
    #: The district and street codes that run their own platform (their dispatchers
    #: dispatch what the city sends down to units of their own).
    platforms: frozenset[str] = frozenset()

    @property
    def two_level(self) -> bool:
        return self.levels == 2

    def runs_platform(self, region_code: str | None) -> bool:
        """Whether ``region_code`` runs a platform of the second level."""
        return self.two_level and region_code is not None and region_code in self.platforms


def parse_dispatch_policy(data: Mapping[str, Any] | None) -> DispatchPolicy:
    """Validate the ``dispatch:`` part of a policy (raises ValueError naming the problem)."""
    data = data or {}
    levels = int(data.get("levels", 1))
    if levels not in (1, 2):
        raise ValueError(f"dispatch.levels must be 1 or 2, not {levels!r}")
    platforms = data.get("platforms") or []
    if not isinstance(platforms, list) or not all(isinstance(p, str | int) for p in platforms):
        raise ValueError("dispatch.platforms must be a list of district or street codes")
    return DispatchPolicy(levels=levels, platforms=frozenset(str(p) for p in platforms))


@dataclass(frozen=True)
class Policy:
    """The parsed policy a use case works with."""

    calendar: WorkingCalendar
    steps: Mapping[str, TimeLimit]
    sources: Mapping[Source, SourceRule] = field(default_factory=dict)
    yellow_at: float = 0.8
    red_at: float = 1.0
    supervise_note: str = "超期未处置，系统自动督办"
    places: PlacesPolicy = field(default_factory=PlacesPolicy)
    limits: LimitsPolicy = field(default_factory=LimitsPolicy)
    #: 返工: the limit a case sent back by a failed check gets from the check; None: the
    #: filing condition's limit again (``rework: {limit: condition}``).
    rework: TimeLimit | None = None
    #: 二级派遣: one level (the default) or two, and the regions that run a platform.
    dispatch: DispatchPolicy = field(default_factory=DispatchPolicy)

    def rework_limit(self, amount: float | None, unit: str | None) -> TimeLimit | None:
        """The limit of a reworked case whose limit was ``amount`` ``unit`` (None: the
        case has no limit and the policy none of its own)."""
        if self.rework is not None:
            return self.rework
        if amount is None or not unit:
            return None
        return TimeLimit(amount, LimitUnit(unit))

    @property
    def tz(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.calendar.tz_name)

    def light(self, fraction_used: float) -> Light:
        """Green / yellow / red for a share of a limit used."""
        return light_for(fraction_used, yellow_at=self.yellow_at, red_at=self.red_at)

    def step_limit(self, step: str) -> TimeLimit | None:
        """The limit of ``step``; a platform's dispatch (二级派遣) without a limit of its
        own has the city's."""
        limit = self.steps.get(step)
        if limit is None and step == PLATFORM_DISPATCH_STEP:
            return self.steps.get("dispatch")
        return limit

    def step_timer(
        self, step: str | None, now: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """When the timer of ``step`` (entered ``now``) started and runs out: ``(now,
        due)``, the due time None if the step has no limit; ``(None, None)`` for no step."""
        if step is None:
            return None, None
        limit = self.step_limit(step)
        return now, (self.calendar.due_at(now, limit) if limit else None)

    def case_due_at(self, source: Source, start: datetime, limit: TimeLimit) -> datetime:
        """The unit's deadline for a case from ``source`` dispatched at ``start``."""
        due = self.calendar.due_at(start, limit)
        rule = self.sources.get(source)
        if rule is None:
            return due
        if rule.max_limit is not None:
            due = min(due, self.calendar.due_at(start, rule.max_limit))
        if rule.by_month_end:
            local = start.astimezone(self.tz)
            last_day = _calendar.monthrange(local.year, local.month)[1]
            end = datetime.combine(
                local.date().replace(day=last_day), time(23, 59, 59), tzinfo=self.tz
            )
            due = min(due, end.astimezone(UTC))
        return due


def shipped_policy_data() -> dict[str, Any]:
    """The default policy shipped in the package."""
    text = resources.files("duban.data").joinpath("policy.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Validate a policy mapping; raise :class:`PolicyError` naming what is wrong."""
    try:
        cal = WorkingCalendar.from_mapping(data.get("calendar") or {})
        steps = {str(k): TimeLimit.parse(v) for k, v in (data.get("steps") or {}).items()}
        sources: dict[Source, SourceRule] = {}
        for key, rule in (data.get("sources") or {}).items():
            src = Source(key)
            by = rule.get("by")
            if by not in (None, "month_end"):
                raise ValueError(f"sources.{key}.by must be 'month_end', not {by!r}")
            max_limit = TimeLimit.parse(rule["max"]) if rule.get("max") else None
            sources[src] = SourceRule(max_limit=max_limit, by_month_end=by == "month_end")
        lights = data.get("lights") or {}
        sweep = data.get("sweep") or {}
        rework = (data.get("rework") or {}).get("limit", "condition")
        rework_limit = None if rework == "condition" else TimeLimit.parse(rework)
        return Policy(
            calendar=cal,
            steps=steps,
            sources=sources,
            yellow_at=float(lights.get("yellow_at", 0.8)),
            red_at=float(lights.get("red_at", 1.0)),
            supervise_note=str(sweep.get("supervise_note", "超期未处置，系统自动督办")),
            places=parse_places_policy(data.get("places")),
            limits=parse_limits_policy(data.get("limits")),
            rework=rework_limit,
            dispatch=parse_dispatch_policy(data.get("dispatch")),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise PolicyError(
            Msg("the policy is invalid: {err}", err=cause(err)), field="policy", cause=str(err)
        ) from err


_cache: StampedCache[Policy] = StampedCache()


def load_policy(session: Session) -> Policy:
    """The live policy (from the settings table, else the shipped default), cached."""
    memo = request_memo(session)
    if memo is not None and POLICY_KEY in memo:
        memoized: Policy = memo[POLICY_KEY]
        return memoized
    policy = _load_policy(session)
    if memo is not None:
        memo[POLICY_KEY] = policy
    return policy


def cached_policy(database: str, updated_at: datetime | None) -> Policy | None:
    """The policy this process holds for ``database`` if its stamp is ``updated_at``."""
    return _cache.get(database, updated_at)


def _load_policy(session: Session) -> Policy:
    bind_key = database_key(session.get_bind().engine)
    # Only the stamp is read while the cached copy is current; the value is read on a change.
    cached = cached_policy(bind_key, stamp(session, POLICY_KEY).updated_at)
    if cached is not None:
        return cached
    row = session.execute(
        select(Setting.value, Setting.updated_at).where(Setting.key == POLICY_KEY)
    ).first()
    policy = parse_policy(row.value if row else shipped_policy_data())
    return _cache.put(bind_key, row.updated_at if row else None, policy)


def _forget_policy(session: Session) -> None:
    """Drop the request's policy and stamps: at a change, so that the rest of the unit of
    work reads the new policy, and after its commit, so that nothing uncommitted is kept."""
    memo = request_memo(session)
    if memo is not None:
        memo.pop(POLICY_KEY, None)
    forget_stamps(session)


def save_policy(session: Session, data: Mapping[str, Any], *, now: datetime) -> Policy:
    """Validate and store a new policy (admins)."""
    policy = parse_policy(data)
    with writing(session):
        _forget_policy(session)
        after_commit(session, lambda: _forget_policy(session))
        row = session.get(Setting, POLICY_KEY)
        stamp = next_stamp(row.updated_at if row is not None else None, now)
        if row is None:
            session.add(Setting(key=POLICY_KEY, value=dict(data), updated_at=stamp))
        else:
            row.value = dict(data)
            row.updated_at = stamp
        return policy
