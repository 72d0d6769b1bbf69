"""Reference data: the taxonomy tree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from duban.api.deps import ActorDep, SessionDep
from duban.reference.categories import category_tree

router = APIRouter(tags=["reference"])


@router.get("/categories", summary="The 部件/事件 taxonomy with filing conditions")
def categories(session: SessionDep, _actor: ActorDep) -> list[dict[str, Any]]:
    """Major classes with their subclasses and each subclass's filing conditions and limits."""
    return category_tree(session)
