"""Campaigns: regions to scope them by, cases placed in them, campaigns made through the
real use cases."""

from __future__ import annotations

from datetime import date
from typing import Any

from shapely.geometry import box
from sqlalchemy import update
from sqlalchemy.orm import Session

from duban.cases.models import Case
from duban.places.models import Region
from duban.supervision.campaigns import CampaignInput, create_campaign
from duban.supervision.models import Campaign
from tests.factories.world import World
from tests.fakes import local

DISTRICT = "411002"
EAST, WEST = "411002001", "411002002"
REGION_NAMES = {DISTRICT: "魏都区", EAST: "东大街街道", WEST: "西大街街道"}
#: English names of the regions; the west street has none (the English face falls back).
REGION_NAMES_EN = {DISTRICT: "Weidu District", EAST: "Dongdajie Subdistrict"}


def make_regions(session: Session) -> None:
    """A district with two streets (their shapes do not matter here)."""
    shape = box(113.8, 34.0, 113.9, 34.1)
    for code, name in REGION_NAMES.items():
        session.add(
            Region(
                code=code,
                level="district" if code == DISTRICT else "street",
                name=name,
                name_en=REGION_NAMES_EN.get(code),
                parent_code=None if code == DISTRICT else DISTRICT,
                geometry=shape.wkb,
                min_lon=113.8,
                min_lat=34.0,
                max_lon=113.9,
                max_lat=34.1,
                area_m2=1.0,
                attributes={},
                source="test",
                valid_from=local(2020, 1, 1, 0, 0),
            )
        )
    session.commit()


def place(session: Session, case: Case, street: str) -> Case:
    """Put a case in ``street`` of :data:`DISTRICT` (as locating it there would)."""
    session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(district_code=DISTRICT, street_code=street)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(case)
    return case


def campaign(world: World, **kw: Any) -> Campaign:
    """A campaign made by the supervisor: 市容环境 (E01) in the east street, November 2026."""
    kw.setdefault("name", "市容环境专项整治")
    kw.setdefault("kind", "rectification")
    kw.setdefault("starts_on", date(2026, 11, 20))
    kw.setdefault("ends_on", date(2026, 11, 30))
    kw.setdefault("categories", ["E01"])
    kw.setdefault("regions", [EAST])
    return create_campaign(
        world.session,
        actor=world.actor(kw.pop("by", "supervisor")),
        clock=world.clock,
        data=CampaignInput(**kw),
    )
