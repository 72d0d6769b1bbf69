"""Nearby cases: possible duplicates of a new report (FixMyStreet shows at most 5 in 250 m).

Open cases reported within ``places.nearby.open_within_days`` and cases closed within
``closed_within_days``, no farther than the category's radius (``radius_by_category``,
else ``radius_m``), nearest first, at most ``max_results``. Rejected, voided and merged
cases are never suggested: merging into them is refused anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from duban.cases.models import Case
from duban.cases.workflow import TERMINAL, CaseStatus
from duban.reference import Category, NearbyPolicy

_EARTH_RADIUS_M: Final = 6_371_008.8
_METRES_PER_DEGREE_LAT: Final = 111_132.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; ample for a few hundred metres)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class NearbyCase:
    """A case near a point and how far it is."""

    case: Case
    distance_m: float


@dataclass(frozen=True)
class NearbyResult:
    """The search that was run and what it found."""

    radius_m: float
    open_since: datetime
    closed_since: datetime
    items: list[NearbyCase]


def nearby_cases(
    session: Session,
    *,
    lat: float,
    lon: float,
    now: datetime,
    policy: NearbyPolicy,
    category_code: str | None = None,
    exclude_case_id: int | None = None,
    limit: int | None = None,
) -> NearbyResult:
    """Open and recently closed cases near a WGS84 point, nearest first.

    With ``category_code`` (a subclass or a major class) only cases of that category are
    returned and its radius applies.
    """
    major = None
    if category_code:
        category = session.get(Category, category_code)
        if category is not None and category.level == 2:
            major = category.parent_code
    radius = policy.radius_for(category_code, major)
    open_since = now - timedelta(days=policy.open_within_days)
    closed_since = now - timedelta(days=policy.closed_within_days)
    dlat = radius / _METRES_PER_DEGREE_LAT
    dlon = radius / (_METRES_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 1e-6))
    open_statuses = [s for s in CaseStatus if s not in TERMINAL]
    stmt = (
        select(Case)
        .options(selectinload(Case.unit))
        .where(
            Case.lat.between(lat - dlat, lat + dlat),
            Case.lon.between(lon - dlon, lon + dlon),
            or_(
                and_(Case.status.in_(open_statuses), Case.created_at >= open_since),
                and_(Case.status == CaseStatus.CLOSED, Case.closed_at >= closed_since),
            ),
        )
    )
    if category_code:
        stmt = stmt.where(Case.category_code.startswith(category_code, autoescape=True))
    if exclude_case_id is not None:
        stmt = stmt.where(Case.id != exclude_case_id)
    found = [
        NearbyCase(case, distance_m(lat, lon, case.lat, case.lon)) for case in session.scalars(stmt)
    ]
    found = [item for item in found if item.distance_m <= radius]
    found.sort(key=lambda item: (item.distance_m, -item.case.id))
    cap = policy.max_results if limit is None else min(limit, policy.max_results)
    return NearbyResult(radius, open_since, closed_since, found[:cap])
