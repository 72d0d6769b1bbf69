"""The category search box of intake forms: subclasses by code, name and keywords.

(Places come from :mod:`duban.places.search`; possible duplicates nearby from
:mod:`duban.cases.nearby`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from duban.reference.categories import live_taxonomy

CATEGORY_RESULTS_MAX = 30


@dataclass(frozen=True)
class CategoryHit:
    """A subclass that matches a search, with its major class."""

    code: str
    kind: str
    name: str
    name_en: str
    parent_name: str
    parent_name_en: str
    keywords: tuple[str, ...]


def search_categories(session: Session, query: str) -> list[CategoryHit]:
    """Active subclasses matching ``query`` — code, name, keywords and everyday synonyms
    (摆摊, 井盖丢了), pinyin initials (``ld`` 路灯) — best first
    (:mod:`duban.reference.wording`).

    An empty query, or one that matches nothing, lists nothing: the form then shows the
    browsable tree ("no match — choose from the tree").
    """
    if not (query or "").strip():
        return []
    taxonomy = live_taxonomy(session)
    hits: list[CategoryHit] = []
    for found in taxonomy.matcher.search(query, limit=CATEGORY_RESULTS_MAX):
        cat = taxonomy.categories[found.code]
        parent = taxonomy.categories.get(cat.parent_code or "")
        hits.append(
            CategoryHit(
                code=cat.code,
                kind=cat.kind,
                name=cat.name,
                name_en=cat.name_en,
                parent_name=parent.name if parent else "",
                parent_name_en=parent.name_en if parent else "",
                keywords=cat.keywords,
            )
        )
    return hits
