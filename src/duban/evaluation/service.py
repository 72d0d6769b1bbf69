"""Use cases of the evaluation: the table of an object kind over a period (indicators,
scores, grades, ranks, 环比), the cases behind a number, and scores entered by hand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.accounts import Unit, User
from duban.evaluation.definitions import (
    OBJECTS,
    POSITIONS,
    REGION_LEVELS,
    Definitions,
    Indicator,
    Test,
    definitions,
)
from duban.evaluation.indicators import Table, cases_behind, compute
from duban.evaluation.missed import CODE as MISSED
from duban.evaluation.missed import LABEL as MISSED_LABEL
from duban.evaluation.missed import missed_cases, missed_counts
from duban.evaluation.models import ManualScore
from duban.evaluation.scoring import (
    Scheme,
    Value,
    change,
    competition_ranks,
    grade,
    parse_schemes,
    score,
)
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import InvalidInput, Msg, NotFound, PermissionDenied
from duban.kernel.parsing import parse_bound
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing
from duban.places import Region
from duban.reference import load_policy

DEFAULT_SCHEME: Final = "national"
MAX_DAYS: Final = 3 * 366
#: Who sees every row (the system: the scheduled bulletin); a unit's handler sees its
#: own unit's row only.
SEE_ALL: Final = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM})
ENTER_SCORES: Final = frozenset({Role.LEADER, Role.ADMIN})

# The messages a person reads (zh-CN in duban.web.messages_zh).
BAD_OBJECT = "'object' must be one of: {choices}"
MISSING = "'{field}' is required"
BAD_RANGE = "'from' must be before 'to'"
TOO_LONG = "the period may be at most {days} days long"
UNKNOWN_SCHEME = "unknown scheme '{scheme}'; one of: {choices}"
NO_VERSION = "scheme '{scheme}' has no version in effect on {day}"
UNKNOWN_INDICATOR = "'{indicator}' is not an indicator of {object}; one of: {choices}"
BAD_PART = "'part' must be numerator or denominator"
NO_DENOMINATOR = "'{indicator}' is a count: it has no denominator"
UNKNOWN_CODE = "no {object} with code '{code}'"
NOT_YOURS = "a unit sees only its own row of the unit evaluation"
NOT_ALLOWED = "only leaders, supervisors and administrators see evaluations"
NOT_ENTERED = "'{item}' is not an item of scheme '{scheme}' entered by hand for {object}"
BAD_SCORE = "'score' must be between 0 and {points}"
NO_NOTE = "'note' must say what the score rests on (the evidence)"
NOT_ENTERER = "only leaders and administrators enter scores"


#: 漏报数: a collectors' count, from the beats' grids and the patrol hours (not a case
#: fact, so not in ``data/evaluation.yaml``'s indicators).
MISSED_INDICATOR: Final = Indicator(
    code=MISSED,
    label_zh=MISSED_LABEL[0],
    label_en=MISSED_LABEL[1],
    kind="count",
    objects=("collector",),
    by="creator",
    numerator=Test(any=()),
    denominator=None,
)


def indicators_of(defs: Definitions, obj: str) -> list[Indicator]:
    """The indicators of ``obj``: the definitions', and 漏报数 for collectors."""
    inds = defs.for_object(obj)
    return [*inds, MISSED_INDICATOR] if obj in MISSED_INDICATOR.objects else inds


@cache
def schemes() -> Mapping[str, Scheme]:
    """The shipped schemes (``duban/data/evaluation_schemes.yaml``)."""
    defs = definitions()
    text = (
        resources.files("duban.data")
        .joinpath("evaluation_schemes.yaml")
        .read_text(encoding="utf-8")
    )
    known = {obj: [i.code for i in indicators_of(defs, obj)] for obj in OBJECTS}
    return parse_schemes(yaml.safe_load(text), known, OBJECTS)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    tz: tzinfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def last_day_exclusive(self) -> date:
        return self.end.astimezone(self.tz).date()

    def previous(self) -> Period:
        """The period of the same length just before (环比)."""
        return Period(self.start - (self.end - self.start), self.start, self.tz)

    def year_before(self) -> Period:
        """The same local dates a year earlier (同比; 29 February: the 28th)."""

        def back(at: datetime) -> datetime:
            local = at.astimezone(self.tz)
            day = min(local.day, 28) if (local.month, local.day) == (2, 29) else local.day
            return local.replace(year=local.year - 1, day=day)

        return Period(back(self.start), back(self.end), self.tz)


@dataclass
class Row:
    object: str
    key: str
    code: str
    name: str
    indicators: dict[str, Value]
    score: float | None = None
    grade: str | None = None
    rank: int | None = None
    change: float | None = None
    change_yoy: float | None = None
    items: dict[str, float] = field(default_factory=dict)
    #: The English name of a unit or a region, where it has one (the English face's).
    name_en: str | None = None


def parse_object(obj: str | None) -> str:
    if obj is None or obj not in OBJECTS:
        raise InvalidInput(Msg(BAD_OBJECT, choices=", ".join(OBJECTS)), field="object")
    return obj


def parse_period(session: Session, start: str | None, end: str | None) -> Period:
    """``from``/``to``: local dates (``to`` exclusive) or ISO 8601 times."""
    tz = load_policy(session).tz
    bounds = []
    for text, name in ((start, "from"), (end, "to")):
        value = parse_bound(text, name, tz, end=False)
        if value is None:
            raise InvalidInput(Msg(MISSING, field=name), field=name)
        bounds.append(value)
    if bounds[0] >= bounds[1]:
        raise InvalidInput(BAD_RANGE, field="to")
    if bounds[1] - bounds[0] > timedelta(days=MAX_DAYS):
        raise InvalidInput(Msg(TOO_LONG, days=MAX_DAYS), field="to")
    return Period(bounds[0], bounds[1], tz)


def _scheme(code: str | None) -> Scheme:
    all_schemes = schemes()
    code = code or DEFAULT_SCHEME
    if code not in all_schemes:
        raise InvalidInput(
            Msg(UNKNOWN_SCHEME, scheme=code, choices=", ".join(all_schemes)), field="scheme"
        )
    return all_schemes[code]


def _check_viewer(actor: Actor, obj: str) -> None:
    if actor.role in SEE_ALL:
        return
    if actor.role == Role.HANDLER and obj == "unit" and actor.unit_id is not None:
        return
    raise PermissionDenied(NOT_ALLOWED if actor.role != Role.HANDLER else NOT_YOURS)


def _names(session: Session, obj: str) -> dict[str, tuple[str, str, str | None]]:
    """key → (code, name, English name) of every object of the kind."""
    if obj in REGION_LEVELS:
        rows = session.execute(
            select(Region.code, Region.name, Region.name_en).where(
                Region.level == obj, Region.valid_to.is_(None)
            )
        )
        return {code: (code, name, name_en) for code, name, name_en in rows}
    if obj == "unit":
        units = session.execute(select(Unit.id, Unit.code, Unit.name, Unit.name_en))
        return {str(i): (code, name, name_en) for i, code, name, name_en in units}
    users = session.execute(
        select(User.id, User.username, User.display_name).where(User.role == Role(obj))
    )
    return {str(i): (u, d or u, None) for i, u, d in users}


def _manual(
    session: Session, scheme: Scheme, obj: str, period: Period
) -> dict[str, dict[str, float]]:
    """object code → item → the mean of the entries within the period."""
    rows = session.execute(
        select(ManualScore.object_code, ManualScore.item, func.avg(ManualScore.score))
        .where(
            ManualScore.scheme == scheme.code,
            ManualScore.object == obj,
            ManualScore.period_start >= period.first_day,
            ManualScore.period_end <= period.last_day_exclusive,
        )
        .group_by(ManualScore.object_code, ManualScore.item)
    )
    out: dict[str, dict[str, float]] = {}
    for code, item, avg in rows:
        out.setdefault(code, {})[item] = float(avg)
    return out


def _rows(session: Session, defs: Definitions, obj: str, period: Period, table: Table) -> list[Row]:
    names = _names(session, obj)
    keys = set(names) | set(table.get(obj, {}))
    if obj in POSITIONS:
        keys &= set(names)  # a key of another role's user is not this position's
    inds = defs.for_object(obj)
    rows = []
    for key in sorted(keys):
        values = table.get(obj, {}).get(key, {})
        code, name, name_en = names.get(key, (key, key, None))
        full = {
            i.code: values.get(i.code)
            or Value(None if i.kind == "rate" else 0.0, 0, 0 if i.kind == "rate" else None)
            for i in inds
        }
        rows.append(Row(obj, key, code, name, full, name_en=name_en))
    if obj in MISSED_INDICATOR.objects and rows:  # 漏报: the beats' grids, not a fact
        missed = missed_counts(session, period.start, period.end, period.tz)
        for row in rows:
            n = missed.get(row.key, 0)
            row.indicators[MISSED] = Value(float(n), n, None)
    return rows


def _scored(
    session: Session,
    defs: Definitions,
    obj: str,
    period: Period,
    scheme: Scheme,
    table: Table | None = None,
) -> list[Row]:
    if table is None:
        table = compute(session, defs, [obj], period.start, period.end)
    rows = _rows(session, defs, obj, period, table)
    version = scheme.version_on(period.first_day)
    if version is None or obj not in version.objects:
        return rows
    manual = _manual(session, scheme, obj, period)
    for row in rows:
        result = score(version, obj, row.indicators, manual.get(row.code, {}))
        row.score, row.items = result.score, dict(result.items)
        row.grade = grade(version, result.percent)
    for row, rank in zip(rows, competition_ranks([r.score or 0.0 for r in rows]), strict=True):
        row.rank = rank
    return rows


def evaluate_all(session: Session, period: Period, scheme: Scheme) -> dict[str, list[Row]]:
    """Every object of every kind, scored and ranked: the two statements of
    :func:`~duban.evaluation.indicators.compute` once for all of them (the bulletin's and
    the benchmark's path; no access check, no 环比)."""
    defs = definitions()
    table = compute(session, defs, list(OBJECTS), period.start, period.end)
    return {obj: _scored(session, defs, obj, period, scheme, table) for obj in OBJECTS}


def evaluate(
    session: Session,
    *,
    actor: Actor,
    obj: str | None,
    start: str | None,
    end: str | None,
    scheme_code: str | None = None,
) -> tuple[Period, Scheme, list[Row]]:
    """The evaluation table of one kind of object over ``[start, end)``, ranked, with the
    change of each score against the period of the same length before (环比) and against
    the same dates a year earlier (同比)."""
    obj = parse_object(obj)
    _check_viewer(actor, obj)
    period = parse_period(session, start, end)
    scheme = _scheme(scheme_code)
    if scheme.version_on(period.first_day) is None:
        raise InvalidInput(
            Msg(NO_VERSION, scheme=scheme.code, day=period.first_day.isoformat()),
            field="scheme",
        )
    defs = definitions()
    rows = _scored(session, defs, obj, period, scheme)
    previous = {r.key: r.score for r in _scored(session, defs, obj, period.previous(), scheme)}
    last_year = period.year_before()
    year_ago: dict[str, float | None] = {}
    if scheme.version_on(last_year.first_day) is not None:
        year_ago = {r.key: r.score for r in _scored(session, defs, obj, last_year, scheme)}
    for row in rows:
        if row.score is not None:
            row.change = change(row.score, previous.get(row.key))
            row.change_yoy = change(row.score, year_ago.get(row.key))
    rows.sort(key=lambda r: (r.rank if r.rank is not None else 10**9, r.code))
    if actor.role not in SEE_ALL:
        rows = [r for r in rows if r.key == str(actor.unit_id)]
    return period, scheme, rows


def _key_of(session: Session, obj: str, code: str) -> str:
    found: object
    if obj in REGION_LEVELS:
        found = session.scalar(
            select(Region.code).where(Region.level == obj, Region.code == code).limit(1)
        )
    elif obj == "unit":
        found = session.scalar(select(Unit.id).where(Unit.code == code))
    else:
        found = session.scalar(select(User.id).where(User.username == code, User.role == Role(obj)))
    if found is None:
        raise NotFound(Msg(UNKNOWN_CODE, object=obj, code=code))
    return str(found)


def drill_down(
    session: Session,
    *,
    actor: Actor,
    obj: str | None,
    code: str | None,
    indicator: str | None,
    part: str | None,
    start: str | None,
    end: str | None,
) -> tuple[Indicator, list[tuple[int, str]]]:
    """The cases counted in one number of the evaluation table."""
    obj = parse_object(obj)
    _check_viewer(actor, obj)
    defs = definitions()
    choices = [i.code for i in indicators_of(defs, obj)]
    if indicator not in choices:
        raise InvalidInput(
            Msg(UNKNOWN_INDICATOR, indicator=indicator, object=obj, choices=", ".join(choices)),
            field="indicator",
        )
    ind = MISSED_INDICATOR if indicator == MISSED else defs.indicators[indicator]
    part = part or "numerator"
    if part not in ("numerator", "denominator"):
        raise InvalidInput(BAD_PART, field="part")
    if part == "denominator" and ind.denominator is None:
        raise InvalidInput(Msg(NO_DENOMINATOR, indicator=indicator), field="part")
    if not code:
        raise InvalidInput(Msg(MISSING, field="code"), field="code")
    period = parse_period(session, start, end)
    key = _key_of(session, obj, code)
    if actor.role not in SEE_ALL and key != str(actor.unit_id):
        raise PermissionDenied(NOT_YOURS)
    if ind is MISSED_INDICATOR:
        if part == "denominator":
            return ind, []
        return ind, missed_cases(session, int(key), period.start, period.end, period.tz)
    return ind, cases_behind(session, defs, obj, key, ind, part, period.start, period.end)


def record_manual_score(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    scheme_code: str,
    item: str,
    obj: str,
    code: str,
    start: date,
    end: date,
    points: float,
    note: str,
) -> ManualScore:
    """Enter (or replace) the points of a manual or bonus item, with its evidence."""
    if actor.role not in ENTER_SCORES:
        raise PermissionDenied(NOT_ENTERER)
    obj = parse_object(obj)
    scheme = _scheme(scheme_code)
    if start >= end:
        raise InvalidInput(BAD_RANGE, field="to")
    entered = [
        i
        for v in scheme.versions
        for i in v.items(obj)
        if i.code == item and i.kind in ("manual", "bonus")
    ]
    if not entered:
        raise InvalidInput(
            Msg(NOT_ENTERED, item=item, scheme=scheme.code, object=obj), field="item"
        )
    maximum = max(i.points for i in entered)
    if not 0 <= points <= maximum:
        raise InvalidInput(Msg(BAD_SCORE, points=f"{maximum:g}"), field="score")
    if not note or not note.strip():
        raise InvalidInput(NO_NOTE, field="note")
    with writing(session):
        _key_of(session, obj, code)
        row = session.scalar(
            select(ManualScore).where(
                ManualScore.scheme == scheme.code,
                ManualScore.item == item,
                ManualScore.object == obj,
                ManualScore.object_code == code,
                ManualScore.period_start == start,
                ManualScore.period_end == end,
            )
        )
        if row is None:
            row = ManualScore(
                scheme=scheme.code,
                item=item,
                object=obj,
                object_code=code,
                period_start=start,
                period_end=end,
            )
            session.add(row)
        row.score = float(points)
        row.note = note.strip()
        row.entered_by_id = actor.user_id
        row.entered_at = clock.now().astimezone(UTC)
    return row


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    """The rows as the API gives them."""
    return [
        {
            "object": r.object,
            "code": r.code,
            "name": r.name,
            "indicators": {
                code: {"value": v.value, "numerator": v.numerator, "denominator": v.denominator}
                for code, v in r.indicators.items()
            },
            "score": r.score,
            "grade": r.grade,
            "rank": r.rank,
            "change": r.change,
            "change_yoy": r.change_yoy,
        }
        for r in rows
    ]
