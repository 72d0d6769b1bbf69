"""Routing: which unit is responsible for a case (责任主体唯一, 属地兜底).

A rule says: cases of this category or filing condition, at this place, go to this lead
unit (主办) with these helper units (协办). Empty parts mean "any". Of the active rules that
match a case, the most specific wins — compared part by part, in this order:

1. what the rule says about the case: filing condition (立案条件) > subclass (小类) >
   major class (大类) > any category;
2. where: unit grid > responsibility zone (leader grid, road segment, shopfront) >
   community > street > district > anywhere;
3. the rule's ``priority`` (higher wins);
4. the older rule (lower id), so the answer never depends on the order rows come back in.

When no rule matches, the case falls to the territorial unit (属地) of its street (or of
the first level in ``places.territorial_levels`` that has one). When nothing applies,
there is no suggestion and the dispatcher chooses.

Routing runs when a case is filed and again whenever its category or location changes;
the suggestion and the reason (which rule, or the territorial fallback) are stored on the
case and written into the event, and a dispatcher who sends the case elsewhere must say
why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.cases import Case
from duban.kernel.errors import InvalidInput, Msg, Name, NotFound
from duban.kernel.unitofwork import writing
from duban.places.index import Location, case_location
from duban.places.models import RULE_PLACE_LEVELS, Region, RegionUnit, RoutingRule, Zone
from duban.places.reasons import Ref, Refs, dump, named, names_of, refs_of, resolve
from duban.places.regions import CODE_LENGTH, RegionLevel
from duban.reference import Category, FilingCondition, PlacesPolicy

#: How much a rule says about the case (higher is more specific).
CATEGORY_RANK: Final = {"condition": 3, "subclass": 2, "major": 1, "any": 0}
#: How precisely a rule names the place (higher is more specific).
PLACE_RANK: Final = {"grid": 6, "zone": 5, "community": 4, "street": 3, "district": 2, None: 0}


@dataclass(frozen=True)
class Suggestion:
    """Who routing suggests, and why."""

    unit: Unit | None
    helper_units: tuple[str, ...] = ()
    rule_id: int | None = None
    basis: str = "none"  # rule | territorial | none
    #: Why, with things named by code (:class:`~duban.places.reasons.Ref`): stored on the
    #: case as it is, and named in the reader's language when read.
    stored: Msg | None = None
    #: Names of the things ``stored`` refers to, looked up once (see :attr:`reason`).
    names: Mapping[tuple[str, str], Name] = field(default_factory=dict)

    @property
    def reason(self) -> Msg | None:
        """Why, named: shown in the reader's language (``translate``)."""
        return named(self.stored, self.names) if self.stored else None

    def payload(self) -> dict[str, Any]:
        """For the event payload (the audit keeps what the dispatcher was shown)."""
        return {
            "unit": self.unit.code if self.unit else None,
            "helper_units": list(self.helper_units),
            "rule": self.rule_id,
            "basis": self.basis,
            "reason": str(self.reason or ""),
        }


def _category_rank(rule: RoutingRule, levels: Mapping[str, int]) -> int:
    if rule.condition_code:
        return CATEGORY_RANK["condition"]
    if rule.category_code is None:
        return CATEGORY_RANK["any"]
    # Taxonomy level 2 is a subclass (小类), 1 a major class (大类).
    return (
        CATEGORY_RANK["subclass"]
        if levels.get(rule.category_code, 2) >= 2
        else CATEGORY_RANK["major"]
    )


def specificity(rule: RoutingRule, levels: Mapping[str, int]) -> tuple[int, int, int, int]:
    """The sort key of the precedence above (larger wins); ``levels`` maps category codes
    to their taxonomy level."""
    return (_category_rank(rule, levels), PLACE_RANK[rule.place_level], rule.priority, -rule.id)


def _place_matches(rule: RoutingRule, location: Location) -> bool:
    if rule.place_level is None:
        return True
    if rule.place_level == "zone":
        return any(zone.code == rule.place_code for zone in location.zones)
    return location.code_at(rule.place_level) == rule.place_code


#: How a rule reads (routing reasons, the admin page, the command line).
RULE_TEXT: Final = "rule #{rule_id}: {what} · {where} → {unit}"


def rule_reason(rule: RoutingRule) -> Msg:
    """A rule in one line, its category, place and units named by code (:class:`Ref`):
    ``rule #3: 暴露垃圾 · 西大街道 → 环卫处`` once :func:`~duban.places.reasons.resolve`
    has named them."""
    what: Msg | Ref = Msg("any category")
    if rule.condition_code:
        what = Ref("condition", rule.condition_code)
    elif rule.category_code:
        what = Ref("category", rule.category_code)
    where: Msg | Ref = Msg("anywhere")
    if rule.place_level and rule.place_code:
        where = Ref("zone" if rule.place_level == "zone" else "region", rule.place_code)
    unit = Ref("unit", rule.unit.code) if rule.unit else Ref("unit", "?")
    text = Msg(RULE_TEXT, rule_id=rule.id, what=what, where=where, unit=unit)
    if rule.helper_units:
        text = Msg(
            "{rule}, helped by {helpers}", rule=text, helpers=Refs("unit", tuple(rule.helper_units))
        )
    if rule.priority:
        text = Msg("{rule} (priority {priority})", rule=text, priority=rule.priority)
    return text


def matching_rules(
    session: Session,
    *,
    category_code: str,
    condition_code: str | None,
    location: Location,
) -> list[RoutingRule]:
    """The active rules that match, most specific first."""
    category = session.get(Category, category_code)
    major = category.parent_code if category is not None else None
    wanted = [c for c in (category_code, major) if c]
    stmt = (
        select(RoutingRule)
        .join(Unit, Unit.id == RoutingRule.unit_id)
        .where(
            RoutingRule.is_active,
            Unit.is_active,
            or_(RoutingRule.category_code.is_(None), RoutingRule.category_code.in_(wanted)),
        )
    )
    if condition_code:
        stmt = stmt.where(
            or_(
                RoutingRule.condition_code.is_(None),
                RoutingRule.condition_code == condition_code,
            )
        )
    else:
        stmt = stmt.where(RoutingRule.condition_code.is_(None))
    rules = [rule for rule in session.scalars(stmt) if _place_matches(rule, location)]
    levels = {category_code: 2, **({major: 1} if major else {})}
    rules.sort(key=lambda rule: specificity(rule, levels), reverse=True)
    return rules


def _active_units(session: Session, codes: Sequence[str]) -> tuple[str, ...]:
    if not codes:
        return ()
    found = {
        code
        for (code,) in session.execute(
            select(Unit.code).where(Unit.code.in_(list(codes)), Unit.is_active)
        )
    }
    return tuple(code for code in codes if code in found)


def suggest(
    session: Session,
    *,
    category_code: str,
    condition_code: str | None,
    location: Location,
    policy: PlacesPolicy,
) -> Suggestion:
    """The unit routing suggests for a case of this category at this location, with the
    names its reason refers to."""
    found = _suggest(
        session,
        category_code=category_code,
        condition_code=condition_code,
        location=location,
        policy=policy,
    )
    if found.stored is None:
        return found
    return replace(found, names=names_of(session, refs_of(found.stored)))


def _suggest(
    session: Session,
    *,
    category_code: str,
    condition_code: str | None,
    location: Location,
    policy: PlacesPolicy,
) -> Suggestion:
    rules = matching_rules(
        session, category_code=category_code, condition_code=condition_code, location=location
    )
    if rules:
        rule = rules[0]
        helpers = tuple(
            code for code in _active_units(session, rule.helper_units) if code != rule.unit.code
        )
        reason = rule_reason(rule)
        if len(rules) > 1:
            reason = Msg(
                "{rule}; the most specific of {count} matching rules",
                rule=reason,
                count=len(rules),
            )
        return Suggestion(rule.unit, helpers, rule.id, "rule", reason)
    what = Ref("category", category_code)
    tried: list[Ref] = []
    for level in policy.territorial_levels:
        ref = location.at(level)
        if ref is None:
            continue
        place = Ref("region", ref.code)
        tried.append(place)
        row = session.get(RegionUnit, ref.code)
        if row is not None and row.unit.is_active:
            return Suggestion(
                row.unit,
                (),
                None,
                "territorial",
                Msg(
                    "no routing rule matches {category} here; the territorial unit of "
                    "{place} takes it: {unit}",
                    category=what,
                    place=place,
                    unit=Ref("unit", row.unit.code),
                ),
            )
    return Suggestion(
        None,
        (),
        None,
        "none",
        Msg(
            "no routing rule matches {category} here and {place} has no territorial unit; "
            "the dispatcher chooses the unit",
            category=what,
            place=tried[0] if tried else Msg("this place (it is in no known street)"),
        ),
    )


def route_case(session: Session, case: Case, *, policy: PlacesPolicy, now: datetime) -> Suggestion:
    """Compute the suggestion for a case from its category and location, and store it."""
    suggestion = suggest(
        session,
        category_code=case.category_code,
        condition_code=case.condition_code,
        location=case_location(session, case),
        policy=policy,
    )
    case.routing_unit = suggestion.unit
    case.routing_unit_id = suggestion.unit.id if suggestion.unit else None
    case.routing_helpers = list(suggestion.helper_units)
    case.routing_rule_id = suggestion.rule_id
    case.routing_reason = str(suggestion.reason or "")
    case.routing_reason_data = dump(suggestion.stored) if suggestion.stored else None
    case.routed_at = now
    return suggestion


# --------------------------------------------------------------------------- managing rules


def _unit(session: Session, code: str, field_name: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None or not unit.is_active:
        raise InvalidInput(Msg("unknown unit '{code}'", code=code), field=field_name)
    return unit


def add_rule(
    session: Session,
    *,
    unit_code: str,
    now: datetime,
    helper_units: Sequence[str] = (),
    category_code: str | None = None,
    condition_code: str | None = None,
    place_level: str | None = None,
    place_code: str | None = None,
    priority: int = 0,
    note: str = "",
) -> RoutingRule:
    """Add a routing rule; every part is checked first."""
    with writing(session):
        unit = _unit(session, unit_code, "unit")
        helpers = list(dict.fromkeys(h.strip() for h in helper_units if h.strip()))
        for code in helpers:
            _unit(session, code, "helper_units")
        if unit.code in helpers:
            raise InvalidInput("the lead unit cannot also be a helper unit", field="helper_units")
        category_code = (category_code or "").strip() or None
        condition_code = (condition_code or "").strip() or None
        if condition_code:
            condition = session.get(FilingCondition, condition_code)
            if condition is None:
                raise InvalidInput(
                    Msg(
                        "unknown filing condition '{condition_code}'", condition_code=condition_code
                    ),
                    field="condition",
                )
            if category_code and category_code != condition.category_code:
                raise InvalidInput(
                    Msg(
                        "filing condition '{condition_code}' belongs to category "
                        "'{category_code}', not '{category_code2}'",
                        condition_code=condition_code,
                        category_code=condition.category_code,
                        category_code2=category_code,
                    ),
                    field="condition",
                )
            category_code = condition.category_code
        if category_code:
            category = session.get(Category, category_code)
            if category is None:
                raise InvalidInput(
                    Msg(
                        "unknown category '{category_code}'; see GET /api/v1/categories",
                        category_code=category_code,
                    ),
                    field="category",
                )
        place_level = (place_level or "").strip() or None
        place_code = (place_code or "").strip() or None
        if (place_level is None) != (place_code is None):
            raise InvalidInput(
                "give both the place level and the place code, or neither (anywhere)", field="place"
            )
        if place_level is not None and place_code is not None:
            if place_level not in RULE_PLACE_LEVELS:
                raise InvalidInput(
                    Msg(
                        "unknown place level '{place_level}'; one of: {choices}",
                        place_level=place_level,
                        choices=", ".join(RULE_PLACE_LEVELS),
                    ),
                    field="place_level",
                )
            if place_level == "zone":
                if session.scalars(select(Zone).where(Zone.code == place_code)).first() is None:
                    raise InvalidInput(
                        Msg("no zone has the code '{place_code}'", place_code=place_code),
                        field="place",
                    )
            else:
                length = CODE_LENGTH[RegionLevel(place_level)]
                if len(place_code) != length or not place_code.isdigit():
                    raise InvalidInput(
                        Msg(
                            "a {place_level} code has {length} digits, not '{place_code}'",
                            place_level=place_level,
                            length=length,
                            place_code=place_code,
                        ),
                        field="place",
                    )
                exists = session.scalars(
                    select(Region.id).where(Region.code == place_code, Region.level == place_level)
                ).first()
                if exists is None:
                    raise InvalidInput(
                        Msg(
                            "no {place_level} has the code '{place_code}'; "
                            "import the regions first",
                            place_level=place_level,
                            place_code=place_code,
                        ),
                        field="place",
                    )
        rule = RoutingRule(
            category_code=category_code,
            condition_code=condition_code,
            place_level=place_level,
            place_code=place_code,
            unit_id=unit.id,
            helper_units=helpers,
            priority=int(priority),
            note=(note or "").strip(),
            is_active=True,
            created_at=now,
        )
        rule.unit = unit
        session.add(rule)
        session.flush()
        return rule


def list_rules(session: Session, *, include_inactive: bool = False) -> list[RoutingRule]:
    """Rules, most specific first (the order they are tried in)."""
    stmt = select(RoutingRule)
    if not include_inactive:
        stmt = stmt.where(RoutingRule.is_active)
    rules = list(session.scalars(stmt))
    codes = {rule.category_code for rule in rules if rule.category_code}
    levels = {
        code: level
        for code, level in session.execute(
            select(Category.code, Category.level).where(Category.code.in_(sorted(codes)))
        )
    }
    rules.sort(key=lambda rule: specificity(rule, levels), reverse=True)
    return rules


def deactivate_rule(session: Session, rule_id: int) -> RoutingRule:
    """Switch a rule off; cases keep the reason they were given."""
    with writing(session):
        rule = session.get(RoutingRule, rule_id)
        if rule is None:
            raise NotFound(Msg("routing rule {rule_id} does not exist", rule_id=rule_id))
        rule.is_active = False
        return rule


def rule_description(session: Session, rule: RoutingRule) -> Msg:
    """:func:`rule_reason` with the names of the category, place and units."""
    return resolve(session, rule_reason(rule))
