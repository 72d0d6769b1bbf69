"""The category search box of intake forms: subclasses by code, name and keywords.

(Places come from :mod:`duban.places.search`; possible duplicates nearby from
:mod:`duban.cases.nearby`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.reference.models import Category

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
    """Active subclasses whose code, name, English name or keywords contain ``query``.

    Names come first, then keywords; an empty query lists nothing (the form then shows
    the browsable tree).
    """
    text = (query or "").strip().lower()
    if not text:
        return []
    cats = session.scalars(
        select(Category).where(Category.is_active).order_by(Category.position, Category.code)
    ).all()
    parents = {c.code: c for c in cats if c.level == 1}
    ranked: list[tuple[int, CategoryHit]] = []
    for cat in cats:
        if cat.level != 2:
            continue
        keywords = tuple(cat.keywords or ())
        if text in cat.name.lower() or text == cat.code.lower():
            rank = 0
        elif text in cat.name_en.lower() or any(text in k.lower() for k in keywords):
            rank = 1
        elif (parent := parents.get(cat.parent_code or "")) and text in parent.name.lower():
            rank = 2
        else:
            continue
        parent = parents.get(cat.parent_code or "")
        ranked.append(
            (
                rank,
                CategoryHit(
                    code=cat.code,
                    kind=cat.kind,
                    name=cat.name,
                    name_en=cat.name_en,
                    parent_name=parent.name if parent else "",
                    parent_name_en=parent.name_en if parent else "",
                    keywords=keywords,
                ),
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return [hit for _rank, hit in ranked[:CATEGORY_RESULTS_MAX]]
