"""Typical cases of a month (典型案例) for the bulletin: the longest overdue, the most
reworked and the best handled, each with thumbnails of its before and after photos.

A bulletin is made for one kind of object; its typical cases are cases of those objects
(a district bulletin's cases in a district, a unit bulletin's with a lead unit, a
position's those a staff member of that position acted on), each naming its object.

These are examples picked for the reader, not indicators: they read the cases' own
fields (deadline, fix time, rework count) and never change what an indicator counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.cases import OPEN, Case, CaseEvent, CasePhoto, CaseStatus
from duban.evidence import Photo, thumbnail_bytes
from duban.kernel.ports import PhotoStore
from duban.reference import Category

#: How many candidates of each kind are read to pick the one shown.
CANDIDATES: Final = 200
#: Characters of a case's description the bulletin quotes.
QUOTE_CHARS: Final = 80

OVERDUE: Final = "最长超期"
REWORKED: Final = "返工最多"
BEST: Final = "处置最佳"


@dataclass(frozen=True)
class TypicalCase:
    """One example case as the bulletin prints it."""

    kind: str
    #: the name of the bulletin's object the case is of ("" when none is named)
    object: str
    case_id: int
    code: str
    category: str
    address: str
    unit: str
    description: str
    why: str
    before: bytes | None
    after: bytes | None


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 0.05:
        return "不到0.1小时"
    return f"{hours / 24:.1f}天" if hours >= 48 else f"{hours:.1f}小时"


REGION_KINDS: Final = ("district", "street", "community", "grid")


def _scope(kind: str | None) -> ColumnElement[bool]:
    """The cases of a bulletin's kind of object."""
    if kind in REGION_KINDS:
        column: Any = getattr(Case, f"{kind}_code")
        scoped: ColumnElement[bool] = column.is_not(None)
        return scoped
    if kind == "unit":
        return Case.unit_id.is_not(None)
    if kind is not None:  # a position: the cases its staff acted on
        return Case.id.in_(
            select(CaseEvent.case_id).where(
                CaseEvent.actor_role == kind, CaseEvent.actor_id.is_not(None)
            )
        )
    return true()


def _object(session: Session, case: Case, kind: str | None, names: Mapping[str, str]) -> str:
    """The name of the bulletin's object ``case`` is of."""
    if kind in REGION_KINDS:
        code = getattr(case, f"{kind}_code")
        return names.get(code, code or "")
    if kind == "unit":
        return names.get(str(case.unit_id), "")
    if kind is None:
        return ""
    actor = session.scalars(
        select(CaseEvent.actor_id)
        .where(CaseEvent.case_id == case.id, CaseEvent.actor_role == kind)
        .where(CaseEvent.actor_id.is_not(None))
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    ).first()
    return names.get(str(actor), "") if actor is not None else ""


def _overdue(
    session: Session, start: datetime, end: datetime, scope: ColumnElement[bool]
) -> tuple[Case, str] | None:
    """The case due in the period that was the most late: fixed late, or still open at the
    period's end (a parked case: when it was parked)."""
    rows = session.scalars(
        select(Case)
        .where(Case.due_at >= start, Case.due_at < end, scope)
        .where(
            (Case.handled_at > Case.due_at)
            | (Case.handled_at.is_(None) & Case.status.in_(sorted(OPEN)))
        )
        .order_by(Case.due_at, Case.id)
        .limit(CANDIDATES)
    ).all()
    best: tuple[timedelta, Case] | None = None
    for case in rows:
        assert case.due_at is not None
        # A parked case's clock stopped when it was parked (挂账): late until then.
        late = min(case.handled_at or case.parked_at or end, end) - case.due_at
        if late > timedelta(0) and (best is None or late > best[0]):
            best = (late, case)
    return None if best is None else (best[1], f"超期{_hours(best[0])}")


def _reworked(
    session: Session, start: datetime, end: datetime, scope: ColumnElement[bool]
) -> tuple[Case, str] | None:
    """The case fixed in the period that was sent back the most times."""
    case = session.scalars(
        select(Case)
        .where(Case.rework_count > 0, Case.handled_at >= start, Case.handled_at < end, scope)
        .order_by(Case.rework_count.desc(), Case.id)
        .limit(1)
    ).first()
    return None if case is None else (case, f"返工{case.rework_count}次")


def _best(
    session: Session, start: datetime, end: datetime, scope: ColumnElement[bool]
) -> tuple[Case, str] | None:
    """The case closed in the period, on time and never sent back, fixed the fastest."""
    rows = session.scalars(
        select(Case)
        .where(
            Case.status == CaseStatus.CLOSED,
            Case.closed_at >= start,
            Case.closed_at < end,
            Case.rework_count == 0,
            Case.dispatched_at.is_not(None),
            Case.handled_at <= Case.due_at,
            scope,
        )
        .order_by(Case.closed_at, Case.id)
        .limit(CANDIDATES)
    ).all()
    best: tuple[timedelta, Case] | None = None
    for case in rows:
        assert case.handled_at is not None
        assert case.dispatched_at is not None
        took = case.handled_at - case.dispatched_at
        if best is None or took < best[0]:
            best = (took, case)
    return None if best is None else (best[1], f"派遣后{_hours(best[0])}处置完毕，一次通过核查")


def _thumb(session: Session, store: PhotoStore | None, case_id: int, stage: str) -> bytes | None:
    if store is None:
        return None
    photo = session.scalars(
        select(Photo)
        .join(CasePhoto, CasePhoto.photo_id == Photo.id)
        .where(CasePhoto.case_id == case_id, CasePhoto.stage == stage)
        .order_by(CasePhoto.id.desc() if stage == "after" else CasePhoto.id)
        .limit(1)
    ).first()
    if photo is None:
        return None
    try:
        return thumbnail_bytes(store, photo)
    except (FileNotFoundError, OSError):  # a lost file leaves the case without its picture
        return None


def typical_cases(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    store: PhotoStore | None,
    kind: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[TypicalCase]:
    """The month's typical cases: at most one of each kind, a case shown once; of the
    objects of ``kind`` (district, street… unit, a position; None: any case), named by
    ``names`` (key → name: a region's code, a unit's or user's id as text)."""
    out: list[TypicalCase] = []
    seen: set[int] = set()
    scope = _scope(kind)
    for what, pick in ((OVERDUE, _overdue), (REWORKED, _reworked), (BEST, _best)):
        found = pick(session, start, end, scope)
        if found is None or found[0].id in seen:
            continue
        case, why = found
        seen.add(case.id)
        unit = session.get(Unit, case.unit_id) if case.unit_id is not None else None
        category = session.get(Category, case.category_code)
        text = case.description.strip().replace("\n", " ")
        out.append(
            TypicalCase(
                kind=what,
                object=_object(session, case, kind, names or {}),
                case_id=case.id,
                code=case.code,
                category=category.name if category is not None else case.category_code,
                address=case.address or "—",
                unit=unit.name if unit is not None else "—",
                description=text[:QUOTE_CHARS] + ("…" if len(text) > QUOTE_CHARS else ""),
                why=why,
                before=_thumb(session, store, case.id, "before"),
                after=_thumb(session, store, case.id, "after"),
            )
        )
    return out
