"""Territorial units (属地单位): which unit answers for a region, set and listed."""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from duban.accounts import Unit
from duban.kernel.errors import InvalidInput, Msg
from duban.kernel.unitofwork import writing
from duban.places.models import Region, RegionUnit


def set_territorial_unit(session: Session, region_code: str, unit_code: str) -> RegionUnit:
    """Make ``unit_code`` the territorial unit (属地) of a region."""
    with writing(session):
        region = session.scalars(
            select(Region).where(Region.code == region_code, Region.valid_to.is_(None))
        ).first()
        if region is None:
            raise InvalidInput(
                Msg("no current region has the code '{region_code}'", region_code=region_code),
                field="region",
            )
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None or not unit.is_active:
            raise InvalidInput(Msg("unknown unit '{unit_code}'", unit_code=unit_code), field="unit")
        row = session.get(RegionUnit, region_code)
        if row is None:
            row = RegionUnit(region_code=region_code, unit_id=unit.id)
            session.add(row)
        else:
            row.unit_id = unit.id
        session.flush()
        return row


def territorial_units(session: Session) -> list[tuple[str, str | None, str, str]]:
    """``(region code, region name, unit code, unit name)`` of every territorial mapping."""
    current = and_(Region.code == RegionUnit.region_code, Region.valid_to.is_(None))
    rows = session.execute(
        select(RegionUnit.region_code, Region.name, Unit.code, Unit.name)
        .join(Unit, Unit.id == RegionUnit.unit_id)
        .outerjoin(Region, current)
        .order_by(RegionUnit.region_code)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


#: The region levels a person's territory may be (staff of a district or a street).
TERRITORY_LEVELS = ("district", "street")


def territory_level(session: Session, code: str) -> str | None:
    """``district`` or ``street`` if ``code`` names a current region of that level (a
    territory staff may belong to), else None."""
    level = session.scalar(
        select(Region.level).where(
            Region.code == code,
            Region.valid_to.is_(None),
            Region.level.in_(TERRITORY_LEVELS),
        )
    )
    return str(level) if level is not None else None


def territory_units(session: Session, region_code: str) -> set[int]:
    """The territorial units (属地) of ``region_code`` and of the current regions within it
    (a district's streets…): whose work a district's or a street's staff see."""
    codes = {region_code}
    frontier = {region_code}
    while frontier:
        below = set(
            session.scalars(
                select(Region.code).where(
                    Region.parent_code.in_(frontier), Region.valid_to.is_(None)
                )
            )
        )
        frontier = below - codes
        codes |= frontier
    return set(session.scalars(select(RegionUnit.unit_id).where(RegionUnit.region_code.in_(codes))))
