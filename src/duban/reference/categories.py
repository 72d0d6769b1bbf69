"""Reference data: the 部件/事件 taxonomy with filing conditions, and the policy.

Shipped defaults live under ``duban/data/``. A city replaces the whole taxonomy by
loading its own file: classes missing from the new file are deactivated (old cases keep
their codes), the rest are inserted or updated, and the taxonomy's fingerprint changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duban.kernel.db.models import Setting
from duban.kernel.db.session import request_memo
from duban.kernel.db.stamps import (
    POLICY_KEY,
    TAXONOMY_KEY,
    StampedCache,
    database_key,
    forget_stamps,
    next_stamp,
    stamp,
)
from duban.kernel.errors import PolicyError
from duban.kernel.unitofwork import after_commit, writing
from duban.reference.calendar import LimitUnit, TimeLimit
from duban.reference.models import Category, FilingCondition
from duban.reference.policy import shipped_policy_data
from duban.reference.taxonomy import Category as TaxonomyCategory
from duban.reference.taxonomy import CategoryLevel, Kind, Taxonomy, TaxonomyError, load_taxonomy
from duban.reference.taxonomy import FilingCondition as TaxonomyCondition


def shipped_taxonomy_data() -> dict[str, Any]:
    """The national-practice taxonomy shipped in the package."""
    text = resources.files("duban.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def parse_taxonomy(data: Mapping[str, Any]) -> Taxonomy:
    """Validate taxonomy data, turning every problem into one :class:`PolicyError`."""
    try:
        return load_taxonomy(data)
    except TaxonomyError as err:
        raise PolicyError(err.text, field="taxonomy", problems=list(err.problem_texts)) from err


@dataclass(frozen=True)
class TaxonomyLoad:
    """What :func:`install_taxonomy` changed."""

    fingerprint: str
    categories: int
    conditions: int
    deactivated: int


def install_taxonomy(session: Session, data: Mapping[str, Any], *, now: datetime) -> TaxonomyLoad:
    """Make ``data`` the live taxonomy (validated first; all or nothing)."""
    taxonomy = parse_taxonomy(data)
    with writing(session):
        existing = {c.code: c for c in session.scalars(select(Category))}
        existing_conditions = {c.code: c for c in session.scalars(select(FilingCondition))}
        # Majors before subclasses, so parents exist when children point at them.
        ordered = sorted(taxonomy.categories.values(), key=lambda c: (c.level, c.code))
        for position, cat in enumerate(ordered):
            row = existing.get(cat.code)
            if row is None:
                row = Category(code=cat.code)
                session.add(row)
            row.kind = cat.kind
            row.level = cat.level
            row.parent_code = cat.parent_code
            row.name = cat.name
            row.name_en = cat.name_en
            # The database keeps the everyday synonyms with the keywords: both are searched.
            row.keywords = list(dict.fromkeys((*cat.keywords, *cat.synonyms)))
            row.position = position
            row.is_active = True
        session.flush()
        for cat in ordered:
            for position, cond in enumerate(cat.conditions):
                crow = existing_conditions.get(cond.code)
                if crow is None:
                    crow = FilingCondition(code=cond.code)
                    session.add(crow)
                crow.category_code = cat.code
                crow.name = cond.name
                crow.name_en = cond.name_en
                crow.limit_amount = cond.limit.amount
                crow.limit_unit = cond.limit.unit.value
                crow.close_rule = cond.close_rule
                crow.is_urgent = cond.urgent
                crow.position = position
                crow.is_active = True
        gone = [code for code in existing if code not in taxonomy.categories]
        gone_conditions = [code for code in existing_conditions if code not in taxonomy.conditions]
        if gone:
            session.execute(update(Category).where(Category.code.in_(gone)).values(is_active=False))
        if gone_conditions:
            session.execute(
                update(FilingCondition)
                .where(FilingCondition.code.in_(gone_conditions))
                .values(is_active=False)
            )
        fingerprint = taxonomy.fingerprint()
        meta = {
            "fingerprint": fingerprint,
            "name": str(data.get("name", "")),
            "version": data.get("version"),
            "name_en": taxonomy.name_en,
            "kinds": {
                key: {"name": kind.name, "name_en": kind.name_en, "code_prefix": kind.code_prefix}
                for key, kind in taxonomy.kinds.items()
            },
        }
        forget_taxonomy_memo(session)
        row_meta = session.get(Setting, TAXONOMY_KEY)
        if row_meta is None:
            session.add(Setting(key=TAXONOMY_KEY, value=meta, updated_at=now))
        elif row_meta.value != meta:
            row_meta.value = meta
            row_meta.updated_at = next_stamp(row_meta.updated_at, now)
        return TaxonomyLoad(
            fingerprint, len(taxonomy.categories), len(taxonomy.conditions), len(gone)
        )


def install_defaults(session: Session, *, now: datetime) -> TaxonomyLoad | None:
    """Load shipped reference data where none is installed yet (``duban init``)."""
    result = None
    with writing(session):
        if session.get(Setting, TAXONOMY_KEY) is None:
            result = install_taxonomy(session, shipped_taxonomy_data(), now=now)
        if session.get(Setting, POLICY_KEY) is None:
            session.add(Setting(key=POLICY_KEY, value=shipped_policy_data(), updated_at=now))
        return result


def category_tree(session: Session) -> list[dict[str, Any]]:
    """The active taxonomy as a tree: kinds → major classes → subclasses → conditions."""
    taxonomy = live_taxonomy(session)

    def node(category: TaxonomyCategory) -> dict[str, Any]:
        kind = taxonomy.kinds.get(category.kind)
        return {
            "code": category.code,
            "kind": category.kind,
            "kind_name": kind.name if kind else category.kind,
            "level": int(category.level),
            "name": category.name,
            "name_en": category.name_en,
            "keywords": list(category.keywords),
            "children": [node(child) for child in taxonomy.children(category.code)],
            "conditions": [
                {
                    "code": condition.code,
                    "name": condition.name,
                    "name_en": condition.name_en,
                    "limit": {"amount": condition.limit.amount, "unit": condition.limit.unit.value},
                    "close_rule": condition.close_rule,
                    "urgent": condition.urgent,
                }
                for condition in category.conditions
            ],
        }

    return [node(major) for major in taxonomy.roots()]


# --------------------------------------------------------------------------- live taxonomy

#: The two kinds of the national practice, for a database installed before the taxonomy's
#: kinds were kept with it.
_STANDARD_KINDS: Final = {
    "component": Kind("component", "部件", "Component", "C"),
    "event": Kind("event", "事件", "Event", "E"),
}

_live: StampedCache[Taxonomy] = StampedCache()
_LIVE_MEMO: Final = "duban.taxonomy"


def live_taxonomy(session: Session) -> Taxonomy:
    """The taxonomy in force: the active categories and filing conditions of the database,
    with the limits admins set, as one :class:`Taxonomy`.

    The one in-memory taxonomy every face reads (reports, filing, the category tree,
    Open311's services, the bulk import). Built once per process and taxonomy stamp, and
    checked once per request, so a report looks its codes up in memory.
    """
    memo = request_memo(session)
    if memo is not None and _LIVE_MEMO in memo:
        memoized: Taxonomy = memo[_LIVE_MEMO]
        return memoized
    database = database_key(session.get_bind().engine)
    at = stamp(session, TAXONOMY_KEY).updated_at
    taxonomy = _live.get(database, at)
    if taxonomy is None:
        taxonomy = _live.put(database, at, _read_taxonomy(session))
    if memo is not None:
        memo[_LIVE_MEMO] = taxonomy
    return taxonomy


def forget_live_taxonomies() -> None:
    """Drop every taxonomy this process holds (tests; the next use reloads)."""
    _live.clear()


def _read_taxonomy(session: Session) -> Taxonomy:
    row = session.get(Setting, TAXONOMY_KEY)
    meta: Mapping[str, Any] = row.value if row is not None and isinstance(row.value, dict) else {}
    kinds = {
        key: Kind(key, str(raw["name"]), str(raw.get("name_en", "")), str(raw["code_prefix"]))
        for key, raw in (meta.get("kinds") or {}).items()
    } or dict(_STANDARD_KINDS)
    conditions_of: dict[str, list[TaxonomyCondition]] = {}
    for cond in session.scalars(
        select(FilingCondition)
        .where(FilingCondition.is_active)
        .order_by(FilingCondition.position, FilingCondition.code)
    ):
        conditions_of.setdefault(cond.category_code, []).append(
            TaxonomyCondition(
                code=cond.code,
                name=cond.name,
                name_en=cond.name_en,
                limit=TimeLimit(cond.limit_amount, LimitUnit(cond.limit_unit)),
                close_rule=cond.close_rule,
                urgent=cond.is_urgent,
                subclass_code=cond.category_code,
            )
        )
    categories: dict[str, TaxonomyCategory] = {}
    rows = session.scalars(
        select(Category).where(Category.is_active).order_by(Category.position, Category.code)
    )
    for cat in rows:
        parent = cat.parent_code
        if cat.level != CategoryLevel.MAJOR and parent not in categories:
            continue  # a subclass of a retired major class is retired with it
        categories[cat.code] = TaxonomyCategory(
            code=cat.code,
            kind=cat.kind,
            level=CategoryLevel(cat.level),
            name=cat.name,
            name_en=cat.name_en,
            parent_code=parent if cat.level != CategoryLevel.MAJOR else None,
            keywords=tuple(cat.keywords or ()),
            conditions=tuple(conditions_of.get(cat.code, ())),
        )
    conditions = {
        condition.code: condition
        for category in categories.values()
        for condition in category.conditions
    }
    version = meta.get("version")
    return Taxonomy(
        version=version if isinstance(version, int) else 0,
        name=str(meta.get("name", "")),
        name_en=str(meta.get("name_en", "")),
        kinds=MappingProxyType(kinds),
        categories=MappingProxyType(categories),
        conditions=MappingProxyType(conditions),
    )


def forget_taxonomy_memo(session: Session) -> None:
    """Drop the request's taxonomy and stamps (whoever changes the taxonomy calls it).

    At once, so that the rest of the unit of work reads the new taxonomy, and again once
    it has committed, so that what was read meanwhile is read afresh from what is now
    in force (and an uncommitted taxonomy, rolled back, is never kept).
    """

    def forget() -> None:
        memo = request_memo(session)
        if memo is not None:
            memo.pop(_LIVE_MEMO, None)
        forget_stamps(session)

    forget()
    after_commit(session, forget)
