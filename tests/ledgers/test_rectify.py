"""Rectification: status, notes, sign-off against evidence (approved, refused and kept),
the sweep's 逾期, links to cases, weekly snapshots, and the append-only event table."""

from __future__ import annotations

import io
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from duban.jobs.sweep import sweep_overdue
from duban.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from duban.ledgers.exports import progress_workbook
from duban.ledgers.models import LedgerEvent, LedgerNode, LedgerSignoff, LedgerSnapshot
from duban.ledgers.queries import items_of_case, ledger_signoffs, progress
from duban.ledgers.rectify import (
    EvidenceFile,
    add_note,
    approve_signoff,
    link_case,
    refuse_signoff,
    request_signoff,
    set_status,
    take_snapshot,
)
from tests.factories.evidence import jpeg
from tests.factories.ledgers import imported
from tests.factories.world import World


def _docx() -> bytes:
    document = Document()
    document.add_paragraph("整改完成情况说明：已建立巡查保洁台账。")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _ledger(world: World) -> int:
    return imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger.id


def _measure(
    world: World, ledger_id: int, unit: str = "SZGC", status: str | None = "未开始"
) -> LedgerNode:
    unit_id = world.units[unit].id
    query = select(LedgerNode).where(
        LedgerNode.ledger_id == ledger_id,
        LedgerNode.kind == "measure",
        LedgerNode.lead_unit_id == unit_id,
    )
    if status:
        query = query.where(LedgerNode.status == status)
    node = world.session.scalars(query.order_by(LedgerNode.id)).first()
    assert node is not None
    return node


def _events(session: Session, node_id: int) -> list[tuple[str, dict[str, Any]]]:
    rows = session.scalars(
        select(LedgerEvent).where(LedgerEvent.node_id == node_id).order_by(LedgerEvent.id)
    )
    return [(e.kind, e.payload) for e in rows]


def test_a_measure_is_signed_off_only_against_evidence(world: World) -> None:
    ledger_id = _ledger(world)
    node = _measure(world, ledger_id)
    handler, supervisor = world.actor("handler"), world.actor("supervisor")
    clock, store = world.clock, world.store
    assert store is not None
    # the unit reports progress
    add_note(
        world.session, actor=handler, clock=clock, node_id=node.id, note="已完成排查，建立台账"
    )
    assert node.status == "推进中"
    # done is never set by hand, 逾期 never by a person
    for status in ("已整改", "已整改需长期坚持", "逾期"):
        with pytest.raises(InvalidInput):
            set_status(world.session, actor=handler, clock=clock, node_id=node.id, status=status)
    # no evidence, no request
    with pytest.raises(InvalidInput, match="at least one evidence file"):
        request_signoff(
            world.session, actor=handler, clock=clock, store=store, node_id=node.id, files=[]
        )
    with pytest.raises(InvalidInput, match="not a photo, PDF, DOCX or XLSX"):
        request_signoff(
            world.session,
            actor=handler,
            clock=clock,
            store=store,
            node_id=node.id,
            files=[EvidenceFile("照片.jpg", b"MZ\x90\x00 not a photo")],
        )
    first = request_signoff(
        world.session,
        actor=handler,
        clock=clock,
        store=store,
        node_id=node.id,
        files=[EvidenceFile("现场.jpg", jpeg()), EvidenceFile("说明.docx", _docx())],
        note="已整改到位",
    )
    stored = sorted(store.root.rglob("*.*"))
    assert len(stored) == 2
    with pytest.raises(Conflict):  # one request waits at a time; its files are not kept
        request_signoff(
            world.session,
            actor=handler,
            clock=clock,
            store=store,
            node_id=node.id,
            files=[EvidenceFile("a.pdf", PDF)],
        )
    assert sorted(store.root.rglob("*.*")) == stored
    with pytest.raises(PermissionDenied):  # a unit does not review its own
        approve_signoff(world.session, actor=handler, clock=clock, signoff_id=first.id)
    with pytest.raises(InvalidInput):
        refuse_signoff(
            world.session, actor=supervisor, clock=clock, signoff_id=first.id, reason=" "
        )
    refuse_signoff(
        world.session,
        actor=supervisor,
        clock=clock,
        signoff_id=first.id,
        reason="照片不能反映整改效果",
    )
    assert node.status == "推进中"
    with pytest.raises(Conflict):  # decided once
        approve_signoff(world.session, actor=supervisor, clock=clock, signoff_id=first.id)
    second = request_signoff(
        world.session,
        actor=handler,
        clock=clock,
        store=store,
        node_id=node.id,
        files=[
            EvidenceFile("整改前后对比.pdf", PDF),
            EvidenceFile("台账.xlsx", progress_workbook(_figures(world, ledger_id))),
        ],
        long_term=True,
    )
    approve_signoff(world.session, actor=supervisor, clock=clock, signoff_id=second.id)
    world.session.expire_all()
    node = world.session.get(LedgerNode, node.id)
    assert node is not None
    assert node.status == "已整改需长期坚持"
    # the refusal is kept beside the approval, with its reason and evidence
    found = ledger_signoffs(world.session, actor=supervisor, ledger_id=ledger_id)
    assert [(s.state, s.reason, len(files)) for s, files in found] == [
        ("refused", "照片不能反映整改效果", 2),
        ("approved", "", 2),
    ]
    assert {f.content_type for _, files in found for f in files} == {
        "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    photo = next(f for f in found[0][1] if f.filename == "现场.jpg")
    assert store.get(photo.storage_key) == jpeg()
    kinds = [k for k, _ in _events(world.session, node.id)]
    assert kinds == [
        "note",
        "status",
        "signoff_requested",
        "signoff_refused",
        "signoff_requested",
        "signoff_approved",
        "status",
    ]
    with pytest.raises(Conflict):  # signed off: no more requests, no status by hand
        set_status(world.session, actor=handler, clock=clock, node_id=node.id, status="推进中")


def _figures(world: World, ledger_id: int) -> dict[str, Any]:
    return progress(
        world.session, actor=world.actor("leader"), clock=world.clock, ledger_id=ledger_id
    )


def test_a_unit_changes_only_its_own_measures(world: World) -> None:
    ledger_id = _ledger(world)
    theirs = _measure(world, ledger_id, unit="HWC")
    with pytest.raises(PermissionDenied):
        set_status(
            world.session,
            actor=world.actor("handler"),
            clock=world.clock,
            node_id=theirs.id,
            status="推进中",
        )
    with pytest.raises(PermissionDenied):
        add_note(
            world.session,
            actor=world.actor("citizen"),
            clock=world.clock,
            node_id=theirs.id,
            note="x",
        )
    set_status(
        world.session,
        actor=world.actor("handler2"),
        clock=world.clock,
        node_id=theirs.id,
        status="推进中",
    )
    assert theirs.status == "推进中"
    with pytest.raises(NotFound):
        set_status(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            node_id=999999,
            status="推进中",
        )


def test_an_item_follows_its_measures(world: World) -> None:
    ledger_id = _ledger(world)
    node = _measure(world, ledger_id)
    item = world.session.get(LedgerNode, node.parent_id)
    assert item is not None
    with pytest.raises(InvalidInput):
        set_status(
            world.session,
            actor=world.actor("supervisor"),
            clock=world.clock,
            node_id=item.id,
            status="推进中",
        )
    siblings = world.session.scalars(
        select(LedgerNode).where(LedgerNode.parent_id == item.id)
    ).all()
    before = item.status
    for sibling in siblings:
        if sibling.status == "未开始":
            set_status(
                world.session,
                actor=world.actor("supervisor"),
                clock=world.clock,
                node_id=sibling.id,
                status="推进中",
            )
    world.session.refresh(item)
    assert item.status in ("推进中", "逾期")
    assert before != item.status or before == "推进中"


def test_the_sweep_marks_measures_past_their_deadline_once(world: World) -> None:
    ledger_id = _ledger(world)
    figures = _figures(world, ledger_id)
    assert figures["overdue"] > 0  # past the deadline, not yet marked: counted all the same
    assert figures["by_status"]["逾期"] == 0
    first = sweep_overdue(world.session, clock=world.clock)
    assert first.ledger_overdue > 0
    assert "ledger measure(s) newly 逾期" in str(first)
    again = sweep_overdue(world.session, clock=world.clock)
    assert again.ledger_overdue == 0
    after = _figures(world, ledger_id)
    assert after["overdue"] == figures["overdue"]
    assert after["by_status"]["逾期"] == first.ledger_overdue
    late = world.session.scalars(
        select(LedgerNode).where(LedgerNode.status == "逾期", LedgerNode.kind == "measure")
    ).first()
    assert late is not None
    assert _events(world.session, late.id)[-1][1]["new"] == "逾期"
    item = world.session.get(LedgerNode, late.parent_id)
    assert item is not None
    assert item.status == "逾期"


def test_progress_by_unit_and_leader_as_json_and_xlsx(world: World) -> None:
    ledger_id = _ledger(world)
    figures = _figures(world, ledger_id)
    assert (figures["items"], figures["measures"]) == (79, 242)  # as the import counts them
    assert sum(figures["by_status"].values()) == 242
    assert sum(figures["items_by_status"].values()) == 79
    assert figures["done_percent"] == 0.0
    assert sum(g["measures"] for g in figures["by_unit"]) == 242
    assert all(0 < g["items"] <= g["measures"] for g in figures["by_unit"])
    assert {g["leader"] for g in figures["by_leader"]} == {
        "刘局长",
        "王副局长",
        "张副局长",
        "李副局长",
        "赵组长",
    }
    book = load_workbook(io.BytesIO(progress_workbook(figures)), read_only=True)
    assert book.sheetnames == ["总体进度", "按责任单位", "按责任领导"]
    rows = list(book["按责任领导"].iter_rows(values_only=True))
    assert rows[0] == ("责任领导", "具体表现数", "措施数", "已完成", "逾期", "完成率(%)")
    assert len(rows) == 6


def test_a_snapshot_is_taken_once_a_week_and_kept_unchanged(world: World) -> None:
    ledger_id = _ledger(world)
    supervisor = world.actor("supervisor")
    snap = take_snapshot(world.session, actor=supervisor, clock=world.clock, ledger_id=ledger_id)
    assert snap.week == "2026-W48"
    assert (snap.figures["items"], snap.figures["measures"]) == (79, 242)
    with pytest.raises(Conflict, match="2026-W48"):
        take_snapshot(world.session, actor=supervisor, clock=world.clock, ledger_id=ledger_id)
    with pytest.raises(PermissionDenied):
        take_snapshot(
            world.session, actor=world.actor("handler"), clock=world.clock, ledger_id=ledger_id
        )
    # progress moves on; the snapshot does not
    node = _measure(world, ledger_id)
    set_status(world.session, actor=supervisor, clock=world.clock, node_id=node.id, status="推进中")
    world.clock.advance(days=7)
    later = take_snapshot(world.session, actor=supervisor, clock=world.clock, ledger_id=ledger_id)
    assert later.week == "2026-W49"
    world.session.expire_all()
    kept = world.session.get(LedgerSnapshot, snap.id)
    assert kept is not None
    assert kept.figures == snap.figures
    # the database itself refuses to change or remove a snapshot or an event
    for statement in (
        "UPDATE ledger_snapshots SET week = 'x'",
        "DELETE FROM ledger_snapshots",
        "UPDATE ledger_events SET kind = 'x'",
        "DELETE FROM ledger_events",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            world.session.execute(text(statement))
        world.session.rollback()


def test_an_item_links_to_a_case_and_a_case_lists_its_items(world: World) -> None:
    ledger_id = _ledger(world)
    case = world.report()
    node = _measure(world, ledger_id)
    supervisor = world.actor("supervisor")
    with pytest.raises(InvalidInput):  # a measure is not an item
        link_case(
            world.session, actor=supervisor, clock=world.clock, node_id=node.id, case_id=case.id
        )
    assert node.parent_id is not None
    with pytest.raises(NotFound):
        link_case(
            world.session,
            actor=supervisor,
            clock=world.clock,
            node_id=node.parent_id,
            case_id=987654,
        )
    link_case(
        world.session, actor=supervisor, clock=world.clock, node_id=node.parent_id, case_id=case.id
    )
    assert [i.id for i in items_of_case(world.session, case.id)] == [node.parent_id]
    link_case(
        world.session, actor=supervisor, clock=world.clock, node_id=node.parent_id, case_id=None
    )
    assert items_of_case(world.session, case.id) == []
    assert [k for k, _ in _events(world.session, node.parent_id)] == ["case_link", "case_link"]


def test_every_change_is_an_event(world: World) -> None:
    ledger_id = _ledger(world)
    node = _measure(world, ledger_id)
    set_status(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        node_id=node.id,
        status="推进中",
    )
    set_status(
        world.session,
        actor=world.actor("supervisor"),
        clock=world.clock,
        node_id=node.id,
        status="未开始",
    )
    events = _events(world.session, node.id)
    assert [(k, p["old"], p["new"]) for k, p in events] == [
        ("status", "未开始", "推进中"),
        ("status", "推进中", "未开始"),
    ]
    assert world.session.scalars(select(LedgerSignoff)).all() == []
