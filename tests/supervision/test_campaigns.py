"""Campaigns: cases inside the scope (period, category, region, source) are tagged, and
those just outside are not; a case may be in several; edits re-tag, the sweep tags new
cases, closing freezes; figures by unit, category and day; each viewer sees only the
cases it may see; every change is a chained event."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from duban.accounts.users import actor_of
from duban.cases.models import Case
from duban.cases.workflow import CaseStatus, Source
from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.supervision.campaigns import (
    CampaignInput,
    campaign_cases,
    campaign_stats,
    campaigns_of_case,
    close_campaign,
    get_campaign,
    update_campaign,
)
from duban.supervision.events import verify_campaign_chain
from duban.supervision.models import CampaignCase, CampaignEvent
from tests.factories.campaigns import EAST, WEST, campaign, make_regions, place
from tests.factories.world import World
from tests.fakes import local


@pytest.fixture
def city(world: World) -> World:
    make_regions(world.session)
    return world


def tagged(world: World, campaign_id: int) -> set[int]:
    return set(
        world.session.scalars(
            select(CampaignCase.case_id).where(CampaignCase.campaign_id == campaign_id)
        )
    )


def at(world: World, when: tuple[int, ...], street: str = EAST, **kw: object) -> Case:
    world.clock.set(local(*when))
    return place(world.session, world.report(**kw), street)


def test_scope_edges_decide_what_is_tagged(city: World) -> None:
    inside = at(city, (2026, 11, 20, 0, 0))  # the first local minute
    last = at(city, (2026, 11, 30, 23, 59))  # the last local minute
    before = at(city, (2026, 11, 19, 23, 59))  # a minute too early (local)
    after = at(city, (2026, 12, 1, 0, 0))  # a minute too late
    west = at(city, (2026, 11, 25, 9, 0), WEST)  # the other street
    other_class = at(city, (2026, 11, 25, 9, 0), category="C0102")  # 部件, not 市容环境
    city.clock.set(local(2026, 12, 2, 9, 0))
    made = campaign(city)
    assert tagged(city, made.id) == {inside.id, last.id}
    assert {before.id, after.id, west.id, other_class.id}.isdisjoint(tagged(city, made.id))
    assert made.starts_at == local(2026, 11, 20, 0, 0)
    assert made.ends_at == local(2026, 12, 1, 0, 0)


def test_a_case_may_be_in_two_campaigns_and_the_case_knows(city: World) -> None:
    case = at(city, (2026, 11, 25, 9, 0))
    first = campaign(city)
    second = campaign(
        city, name="东大街攻坚月", kind="assault_month", categories=[], regions=["411002"]
    )
    assert case.id in tagged(city, first.id)
    assert case.id in tagged(city, second.id)
    assert [c.id for c in campaigns_of_case(city.session, case.id)] == [first.id, second.id]


def test_sources_narrow_the_scope(city: World) -> None:
    hotline = at(city, (2026, 11, 25, 9, 0))
    patrol = at(city, (2026, 11, 25, 10, 0), by="collector", source=Source.PATROL)
    made = campaign(city, sources=["patrol"])
    assert tagged(city, made.id) == {patrol.id}
    assert hotline.id not in tagged(city, made.id)


def test_the_sweep_tags_new_cases_once_and_closing_freezes(city: World) -> None:
    city.clock.set(local(2026, 11, 21, 9, 0))
    made = campaign(city)
    assert tagged(city, made.id) == set()
    new = at(city, (2026, 11, 22, 9, 0))
    assert sweep_overdue(city.session, clock=city.clock).campaign_tags == {made.id: 1}
    assert sweep_overdue(city.session, clock=city.clock).campaign_tags == {}
    assert tagged(city, made.id) == {new.id}
    late = at(city, (2026, 11, 23, 9, 0))
    closed = close_campaign(
        city.session, actor=city.actor("supervisor"), clock=city.clock, campaign_id=made.id
    )
    assert late.id in tagged(city, made.id)  # closing tags a last time
    assert closed.closed_at == city.clock.now()
    at(city, (2026, 11, 24, 9, 0))
    sweep_overdue(city.session, clock=city.clock)
    assert tagged(city, made.id) == {new.id, late.id}
    with pytest.raises(Conflict):
        close_campaign(
            city.session, actor=city.actor("supervisor"), clock=city.clock, campaign_id=made.id
        )
    actions = city.session.scalars(
        select(CampaignEvent.action)
        .where(CampaignEvent.campaign_id == made.id)
        .order_by(CampaignEvent.seq)
    ).all()
    assert actions == ["create", "tag", "close"]
    assert verify_campaign_chain(city.session, made.id) == []


def test_an_edit_retags_for_the_new_scope(city: World) -> None:
    east = at(city, (2026, 11, 25, 9, 0))
    west = at(city, (2026, 11, 25, 9, 0), WEST)
    made = campaign(city)
    assert tagged(city, made.id) == {east.id}
    update_campaign(
        city.session,
        actor=city.actor("supervisor"),
        clock=city.clock,
        campaign_id=made.id,
        data=CampaignInput(
            name="市容环境专项整治（西）",
            kind="rectification",
            starts_on=date(2026, 11, 20),
            ends_on=date(2026, 11, 30),
            categories=["E0102"],
            regions=[WEST],
        ),
    )
    assert tagged(city, made.id) == {west.id}
    assert verify_campaign_chain(city.session, made.id) == []


def test_figures_by_unit_category_and_day(city: World) -> None:
    city.clock.set(local(2026, 11, 24, 9, 0))
    done = place(city.session, city.case_in(CaseStatus.CLOSED), EAST)
    city.clock.set(local(2026, 11, 25, 9, 0))
    handling = place(city.session, city.case_in(CaseStatus.HANDLING), EAST)
    fresh = at(city, (2026, 11, 25, 10, 0))
    made = campaign(city)
    assert tagged(city, made.id) == {done.id, handling.id, fresh.id}
    city.clock.set(local(2026, 12, 20, 9, 0))  # the handling case is long overdue
    stats = campaign_stats(
        city.session, actor=city.actor("leader"), campaign=made, now=city.clock.now()
    )
    assert (stats.found, stats.fixed, stats.open, stats.overdue) == (3, 1, 2, 1)
    by_unit = {r.label: (r.found, r.fixed, r.open, r.overdue) for r in stats.by_unit}
    assert by_unit == {"市政工程管理处": (2, 1, 1, 1), "未派遣": (1, 0, 1, 0)}
    assert [r.key for r in stats.by_category] == ["E0102"]
    assert stats.by_day == [(date(2026, 11, 24), 1), (date(2026, 11, 25), 2)]


def test_each_viewer_sees_only_its_cases(city: World) -> None:
    east = at(city, (2026, 11, 25, 9, 0))
    west = at(city, (2026, 11, 25, 9, 0), WEST)
    city.clock.set(local(2026, 11, 25, 10, 0))
    mine = place(city.session, city.case_in(CaseStatus.HANDLING), WEST)
    made = campaign(city, regions=["411002"])
    assert tagged(city, made.id) == {east.id, west.id, mine.id}
    street = city.user("dispatcher")
    street.region_code = EAST
    city.session.commit()
    seen, total = campaign_cases(
        city.session, actor=actor_of(street), campaign=made, now=city.clock.now()
    )
    assert total == 1
    assert [c.id for c, _ in seen] == [east.id]
    stats = campaign_stats(
        city.session, actor=actor_of(street), campaign=made, now=city.clock.now()
    )
    assert stats.found == 1
    unit_seen, _ = campaign_cases(
        city.session, actor=city.actor("handler"), campaign=made, now=city.clock.now()
    )
    assert [c.id for c, _ in unit_seen] == [mine.id]
    with pytest.raises(PermissionDenied):
        get_campaign(city.session, actor=city.actor("citizen"), campaign_id=made.id)
    with pytest.raises(NotFound):
        get_campaign(city.session, actor=city.actor("leader"), campaign_id=made.id + 99)


def test_bad_campaigns_are_refused_and_write_nothing(city: World) -> None:
    with pytest.raises(PermissionDenied):
        campaign(city, by="dispatcher")
    for bad, field in (
        ({"name": " "}, "name"),
        ({"kind": "party"}, "kind"),
        ({"ends_on": date(2026, 11, 1)}, "ends_on"),
        ({"ends_on": date(2028, 1, 1)}, "ends_on"),
        ({"categories": ["NOPE"]}, "categories"),
        ({"regions": ["999999"]}, "regions"),
        ({"categories": [], "regions": []}, "categories"),
        ({"sources": ["rumour"]}, "sources"),
    ):
        with pytest.raises(InvalidInput) as err:
            campaign(city, **bad)
        assert err.value.field == field, bad
    campaign(city)
    with pytest.raises(Conflict):
        campaign(city)
    assert len(city.session.scalars(select(CampaignEvent)).all()) == 1


def test_the_closing_report_tells_period_scope_figures_units_and_cases(city: World) -> None:
    import io

    from docx import Document

    from duban.supervision.campaign_report import report_file

    city.clock.set(local(2026, 11, 24, 9, 0))
    done = place(city.session, city.case_in(CaseStatus.CLOSED), EAST)
    at(city, (2026, 11, 25, 10, 0), description="人行道上堆放建筑垃圾")
    made = campaign(city)
    city.clock.set(local(2026, 12, 1, 9, 0))
    close_campaign(
        city.session, actor=city.actor("supervisor"), clock=city.clock, campaign_id=made.id
    )
    file = report_file(
        city.session, actor=city.actor("leader"), campaign_id=made.id, now=city.clock.now()
    )
    assert file.filename == f"campaign-{made.id}-report.docx"
    doc = Document(io.BytesIO(file.data))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "关于市容环境专项整治情况的报告" in text
    assert "专项整治" in text
    assert "2026年11月20日至2026年11月30日" in text
    assert "东大街街道" in text
    assert "市容环境" in text
    assert "共发现问题2个，已整改1个，未结1个，其中超期0个，整改率50.0%" in text
    assert "2026年12月1日" in text
    units, typical = doc.tables
    assert [c.text for c in units.rows[0].cells] == [
        "序号",
        "责任单位",
        "发现",
        "已整改",
        "未结",
        "超期",
        "整改率",
    ]
    body = {tuple(c.text for c in r.cells) for r in units.rows[1:]}
    assert ("1", "市政工程管理处", "1", "1", "0", "0", "100.0%") in body or (
        "2",
        "市政工程管理处",
        "1",
        "1",
        "0",
        "0",
        "100.0%",
    ) in body
    codes = [r.cells[0].text for r in typical.rows[1:]]
    assert done.code in codes
    assert any("人行道上堆放建筑垃圾" in r.cells[1].text for r in typical.rows[1:])
    assert len(doc.inline_shapes) == 1  # the chart
