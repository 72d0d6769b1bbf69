"""Policies as data: the working calendar, step limits and source rules.

The shipped defaults live in ``duban/data/policy.yaml``; the live copy is the ``policy``
row of the ``settings`` table, which admins may edit. It is parsed once per change and
cached per process (the row's ``updated_at`` tells when to re-read).
"""

from __future__ import annotations

import calendar as _calendar
import math
from collections.abc import Callable, Mapping
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
from duban.kernel.errors import BadSetting, Msg, PolicyError, cause
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


#: What a setting must be, as a refusal says it (see :class:`BadSetting`).
NUMBER = Msg("a number")
POSITIVE = Msg("a number greater than 0")
NOT_NEGATIVE = Msg("a number, 0 or more")
WHOLE_POSITIVE = Msg("a whole number greater than 0")
SETTINGS = Msg("a mapping of settings")
TIME_LIMIT = Msg("a time limit such as '2 work_days' or '4 hours'")
RATE = Msg("a rate such as '30/hour' or '5/10 minutes'")


def _choice(choices: tuple[str, ...]) -> Msg:
    return Msg("one of {choices}", choices=", ".join(choices))


def _mapping(setting: str, value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping of settings (absent or empty: ``{}``), else refused."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise BadSetting.wrong(setting, SETTINGS, value)
    return value


def _number(
    setting: str,
    value: Any,
    must_be: Msg = NUMBER,
    *,
    whole: bool = False,
    check: Callable[[float], bool] = lambda _: True,
) -> Any:
    """``value`` read as ``float`` (``int`` if ``whole``), refused naming ``setting`` if it
    is not one or fails ``check``."""
    try:
        number = int(value) if whole else float(value)
    except (TypeError, ValueError) as err:
        raise BadSetting.wrong(setting, must_be, value) from err
    if not check(number):
        raise BadSetting.wrong(setting, must_be, value)
    return number


def _positive(value: float) -> bool:
    return value > 0


def _time_limit(setting: str, value: Any) -> TimeLimit:
    """A time limit read from ``value``; the refusal names ``setting`` (or its ``amount``
    or ``unit``) and says what it must be."""
    if isinstance(value, Mapping):
        for key in value:
            if key not in ("amount", "unit"):
                raise BadSetting.unknown(f"{setting}.{key}", "amount, unit")
        units = _choice(tuple(unit.value for unit in LimitUnit))
        if "amount" not in value:
            raise BadSetting.missing(f"{setting}.amount", POSITIVE)
        if "unit" not in value:
            raise BadSetting.missing(f"{setting}.unit", units)
        amount = value["amount"]
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not math.isfinite(amount)
            or amount <= 0
        ):
            raise BadSetting.wrong(f"{setting}.amount", POSITIVE, amount)
        try:
            return TimeLimit.parse(value)
        except ValueError as err:
            raise BadSetting.wrong(f"{setting}.unit", units, value["unit"]) from err
    try:
        return TimeLimit.parse(value)
    except (TypeError, ValueError) as err:
        raise BadSetting.wrong(setting, TIME_LIMIT, value) from err


def parse_places_policy(data: Mapping[str, Any] | None) -> PlacesPolicy:
    """Validate the ``places:`` part of a policy (raises :class:`BadSetting` naming the
    setting)."""
    data = _mapping("places", data)
    outside = str(data.get("outside_grids", "reject"))
    if outside not in OUTSIDE_GRIDS_CHOICES:
        raise BadSetting.wrong("places.outside_grids", _choice(OUTSIDE_GRIDS_CHOICES), outside)
    catch_all = data.get("catch_all_grid")
    catch_all = str(catch_all) if catch_all not in (None, "") else None
    grid_code = Msg("a grid code of 15 digits")
    if catch_all is not None and not (
        len(catch_all) == 15 and catch_all.isascii() and catch_all.isdigit()
    ):
        raise BadSetting.wrong("places.catch_all_grid", grid_code, catch_all)
    if outside == "catch_all" and catch_all is None:
        raise BadSetting.missing(
            "places.catch_all_grid",
            Msg("a grid code of 15 digits, as places.outside_grids is catch_all"),
        )
    levels = tuple(str(x) for x in (data.get("territorial_levels") or ("street", "district")))
    for level in levels:
        if level not in TERRITORIAL_LEVELS:
            raise BadSetting.wrong("places.territorial_levels", _choice(TERRITORIAL_LEVELS), level)
    buffer_m = _number(
        "places.road_buffer_m", data.get("road_buffer_m", 30.0), POSITIVE, check=_positive
    )
    nearby_data = _mapping("places.nearby", data.get("nearby"))
    by_category = _mapping(
        "places.nearby.radius_by_category", nearby_data.get("radius_by_category")
    )

    def days(name: str, default: float) -> float:
        number: float = _number(
            f"places.nearby.{name}",
            nearby_data.get(name, default),
            NOT_NEGATIVE,
            check=lambda v: v >= 0,
        )
        return number

    nearby = NearbyPolicy(
        radius_m=_number(
            "places.nearby.radius_m", nearby_data.get("radius_m", 250.0), POSITIVE, check=_positive
        ),
        max_results=_number(
            "places.nearby.max_results",
            nearby_data.get("max_results", 5),
            WHOLE_POSITIVE,
            whole=True,
            check=_positive,
        ),
        open_within_days=days("open_within_days", 30.0),
        closed_within_days=days("closed_within_days", 7.0),
        radius_by_category={
            str(k): _number(f"places.nearby.radius_by_category.{k}", v, POSITIVE, check=_positive)
            for k, v in by_category.items()
        },
    )
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
    """Validate the ``limits:`` part of a policy (raises :class:`BadSetting` naming the
    setting)."""
    data = _mapping("limits", data)
    body = _mapping("limits.body", data.get("body"))
    rates = _mapping("limits.rates", data.get("rates"))
    failures = _mapping("limits.sign_in_failures", data.get("sign_in_failures"))
    default = LimitsPolicy()

    def rate(name: str, fallback: Rate) -> Rate:
        value = rates.get(name)
        if value in (None, ""):
            return fallback
        try:
            return Rate.parse(str(value))
        except ValueError as err:
            raise BadSetting.wrong(f"limits.rates.{name}", RATE, value) from err

    def positive(name: str, value: Any) -> int:
        number: int = _number(
            f"limits.{name}", value, WHOLE_POSITIVE, whole=True, check=lambda v: v >= 1
        )
        return number

    def failure(name: str, default: float, must_be: Msg = POSITIVE, **how: Any) -> Any:
        setting = f"limits.sign_in_failures.{name}"
        return _number(setting, failures.get(name, default), must_be, **how)

    backoff = Backoff(
        free=failure(
            "free",
            default.sign_in_failures.free,
            Msg("a whole number, 0 or more"),
            whole=True,
            check=lambda v: v >= 0,
        ),
        base=failure("base_seconds", default.sign_in_failures.base, check=_positive),
        cap=failure("max_seconds", default.sign_in_failures.cap),
        forget=failure("forget_seconds", default.sign_in_failures.forget, NUMBER),
    )
    if not backoff.cap >= backoff.base:
        raise BadSetting.wrong(
            "limits.sign_in_failures.max_seconds",
            Msg("a number no smaller than base_seconds ({base})", base=backoff.base),
            failures.get("max_seconds", backoff.cap),
        )
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
    data = _mapping("dispatch", data)
    one_or_two = Msg("1 or 2")
    levels = _number(
        "dispatch.levels",
        data.get("levels", 1),
        one_or_two,
        whole=True,
        check=lambda v: v in (1, 2),
    )
    platforms = data.get("platforms") or []
    if not isinstance(platforms, list) or not all(isinstance(p, str | int) for p in platforms):
        raise BadSetting.wrong(
            "dispatch.platforms", Msg("a list of district or street codes"), platforms
        )
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
        try:
            cal = WorkingCalendar.from_mapping(data.get("calendar") or {})
        except BadSetting as err:
            raise err.under("calendar") from err
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise BadSetting(
                "calendar",
                Msg(
                    "the setting {setting} cannot be used: {err}",
                    setting="calendar",
                    err=cause(err),
                ),
            ) from err
        steps = {
            str(k): _time_limit(f"steps.{k}", v)
            for k, v in _mapping("steps", data.get("steps")).items()
        }
        sources: dict[Source, SourceRule] = {}
        for key, rule in _mapping("sources", data.get("sources")).items():
            try:
                src = Source(key)
            except ValueError as err:
                raise BadSetting.unknown(
                    f"sources.{key}", ", ".join(source.value for source in Source)
                ) from err
            if not isinstance(rule, Mapping):
                raise BadSetting.wrong(f"sources.{key}", SETTINGS, rule)
            by = rule.get("by")
            if by not in (None, "month_end"):
                raise BadSetting.wrong(f"sources.{key}.by", Msg("month_end or nothing"), by)
            max_limit = _time_limit(f"sources.{key}.max", rule["max"]) if rule.get("max") else None
            sources[src] = SourceRule(max_limit=max_limit, by_month_end=by == "month_end")
        lights = _mapping("lights", data.get("lights"))
        sweep = _mapping("sweep", data.get("sweep"))
        rework = _mapping("rework", data.get("rework")).get("limit", "condition")
        rework_limit = None if rework == "condition" else _time_limit("rework.limit", rework)
        return Policy(
            calendar=cal,
            steps=steps,
            sources=sources,
            yellow_at=_number("lights.yellow_at", lights.get("yellow_at", 0.8)),
            red_at=_number("lights.red_at", lights.get("red_at", 1.0)),
            supervise_note=str(sweep.get("supervise_note", "超期未处置，系统自动督办")),
            places=parse_places_policy(data.get("places")),
            limits=parse_limits_policy(data.get("limits")),
            rework=rework_limit,
            dispatch=parse_dispatch_policy(data.get("dispatch")),
        )
    except BadSetting as err:
        raise PolicyError(
            Msg("the policy is invalid: {err}", err=err.text),
            field="policy",
            setting=err.setting,
            cause=_words(err),
        ) from err
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise PolicyError(
            Msg("the policy is invalid: {err}", err=cause(err)), field="policy", cause=str(err)
        ) from err


def _words(err: BadSetting) -> str:
    """The refusal's English, with the library's own words where one refused first."""
    first = err.__cause__
    while isinstance(first, BadSetting):
        first = first.__cause__
    return f"{err} ({first})" if first is not None else str(err)


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
