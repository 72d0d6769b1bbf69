"""The one in-memory taxonomy (reference.categories.live_taxonomy) and its subclass checks."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from duban.kernel.context import Actor
from duban.kernel.errors import InvalidInput
from duban.kernel.roles import Role
from duban.reference.admin import set_condition_limit
from duban.reference.calendar import LimitUnit, TimeLimit
from duban.reference.categories import (
    category_tree,
    forget_live_taxonomies,
    install_defaults,
    live_taxonomy,
)
from duban.reference.models import Category
from duban.reference.taxonomy import CategoryLevel
from tests.fakes import FixedClock


@pytest.fixture
def taxonomy_session(session: Session, clock: FixedClock) -> Session:
    install_defaults(session, now=clock.now())
    return session


def test_the_live_taxonomy_holds_the_shipped_classes_with_their_kinds(
    taxonomy_session: Session,
) -> None:
    taxonomy = live_taxonomy(taxonomy_session)
    garbage = taxonomy.require_category("E0102")
    assert garbage.level is CategoryLevel.SUBCLASS
    assert garbage.parent_code == "E01"
    assert taxonomy.kinds["event"].name == "事件"
    assert garbage.conditions, "a subclass comes with its filing conditions"
    assert all(c.subclass_code == "E0102" for c in garbage.conditions)


def test_resolve_subclass_names_what_is_wrong(taxonomy_session: Session) -> None:
    taxonomy = live_taxonomy(taxonomy_session)
    first = taxonomy.require_category("E0102").conditions[0]
    assert taxonomy.resolve_subclass("E0102", first.code) == (
        taxonomy.require_category("E0102"),
        first,
    )
    with pytest.raises(InvalidInput, match="unknown category 'X99'") as unknown:
        taxonomy.resolve_subclass("X99")
    assert unknown.value.detail["field"] == "category_code"
    with pytest.raises(InvalidInput, match="is a major class"):
        taxonomy.resolve_subclass("E01")
    other = taxonomy.require_category("C0102").conditions[0]
    with pytest.raises(InvalidInput, match="belongs to category 'C0102'") as wrong:
        taxonomy.resolve_subclass("E0102", other.code)
    assert wrong.value.detail["field"] == "condition_code"


def test_an_admins_limit_is_in_the_next_live_taxonomy(
    taxonomy_session: Session, clock: FixedClock
) -> None:
    code = live_taxonomy(taxonomy_session).require_category("E0102").conditions[0].code
    admin = Actor(user_id=None, username="admin", role=Role.ADMIN)
    clock.advance(seconds=1)
    set_condition_limit(
        taxonomy_session, actor=admin, code=code, amount=3, unit="work_days", clock=clock
    )
    taxonomy_session.commit()
    assert live_taxonomy(taxonomy_session).require_condition(code).limit == TimeLimit(
        3, LimitUnit.WORK_DAYS
    )


def test_retired_classes_are_not_in_the_live_taxonomy(taxonomy_session: Session) -> None:
    taxonomy_session.execute(update(Category).where(Category.code == "E01").values(is_active=False))
    taxonomy_session.commit()
    forget_live_taxonomies()  # a direct edit moves no stamp; admins' edits do
    taxonomy = live_taxonomy(taxonomy_session)
    assert taxonomy.find_category("E01") is None
    assert taxonomy.find_category("E0102") is None, "retired with its major class"
    assert all(node["code"] != "E01" for node in category_tree(taxonomy_session))
