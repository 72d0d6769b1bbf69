"""Reference data: the taxonomy, the policy and the working calendar.

This is the capability's public face: other capabilities import from here, never
from its modules. Names load on first use (PEP 562), so importing the face imports
nothing and no import cycle passes through it. To offer a name, add it to the
TYPE_CHECKING imports, _EXPORTS and __all__ (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from duban.kernel.faces import lazy_face

if TYPE_CHECKING:
    from duban.reference.admin import require_admin
    from duban.reference.calendar import LimitUnit, TimeLimit
    from duban.reference.categories import category_tree, live_taxonomy
    from duban.reference.models import Category, FilingCondition
    from duban.reference.policy import (
        NearbyPolicy,
        PlacesPolicy,
        Policy,
        cached_policy,
        load_policy,
    )
    from duban.reference.search import search_categories
    from duban.reference.taxonomy import Taxonomy, TaxonomyCategory, TaxonomyCondition

_EXPORTS: dict[str, str] = {
    "Category": "duban.reference.models",
    "FilingCondition": "duban.reference.models",
    "LimitUnit": "duban.reference.calendar",
    "NearbyPolicy": "duban.reference.policy",
    "PlacesPolicy": "duban.reference.policy",
    "Policy": "duban.reference.policy",
    "Taxonomy": "duban.reference.taxonomy",
    "TaxonomyCategory": "duban.reference.taxonomy",
    "TaxonomyCondition": "duban.reference.taxonomy",
    "TimeLimit": "duban.reference.calendar",
    "cached_policy": "duban.reference.policy",
    "category_tree": "duban.reference.categories",
    "live_taxonomy": "duban.reference.categories",
    "load_policy": "duban.reference.policy",
    "require_admin": "duban.reference.admin",
    "search_categories": "duban.reference.search",
}

__all__ = [
    "Category",
    "FilingCondition",
    "LimitUnit",
    "NearbyPolicy",
    "PlacesPolicy",
    "Policy",
    "Taxonomy",
    "TaxonomyCategory",
    "TaxonomyCondition",
    "TimeLimit",
    "cached_policy",
    "category_tree",
    "live_taxonomy",
    "load_policy",
    "require_admin",
    "search_categories",
]

if not TYPE_CHECKING:  # mypy reads the imports above; an unknown name stays an error
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS, __all__)
