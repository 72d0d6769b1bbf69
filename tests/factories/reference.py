"""Reference data: the category cases default to and the shipped filing conditions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.reference.models import Category, FilingCondition

CATEGORY = "E0102"  # 暴露垃圾


def condition(session: Session, amount: float, unit: str) -> FilingCondition:
    """An active shipped filing condition (立案条件) with this time limit."""
    found = session.scalars(
        select(FilingCondition)
        .join(Category, Category.code == FilingCondition.category_code)
        .where(
            FilingCondition.limit_amount == amount,
            FilingCondition.limit_unit == unit,
            FilingCondition.is_active,
            Category.is_active,
            Category.level == 2,
        )
        .order_by(FilingCondition.code)
        .limit(1)
    ).first()
    assert found is not None, f"the shipped taxonomy has no condition of {amount} {unit}"
    return found
