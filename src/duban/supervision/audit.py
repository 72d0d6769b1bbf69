"""Verify every chain of supervision's record at once: the orders' events, the joint
sessions' and revisits' records and the campaigns' events (``duban audit verify``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import AuditKeys, ChainReport, collect, verify_links
from duban.supervision.events import campaign_row, order_row
from duban.supervision.models import (
    Campaign,
    CampaignEvent,
    JointSession,
    Revisit,
    SupervisionEvent,
    SupervisionOrder,
    SupervisionRecord,
)
from duban.supervision.records import REVISIT, SESSION, record_row


def _subject_label(kind: str, subject: Any) -> str:
    return f"{kind} {subject.id}"


def _walk(
    subjects: Sequence[Any],
    events: Sequence[Any],
    subject_of: Callable[[Any], int],
    row: Callable[[Any], dict[str, Any]],
    label: Callable[[Any], str],
    keys: AuditKeys | None,
    noun: str,
) -> Iterator[tuple[str, int, list[str]]]:
    by_subject: dict[int, list[Any]] = {}
    for event in events:
        by_subject.setdefault(subject_of(event), []).append(event)
    for subject in subjects:
        links = by_subject.pop(subject.id, [])
        yield label(subject), len(links), verify_links(subject, links, row, keys=keys, noun=noun)
    for orphan, links in sorted(by_subject.items()):
        yield f"#{orphan}", len(links), [f"{noun}s of a subject that is not in the database"]


def verify_supervision_chains(session: Session, keys: AuditKeys | None) -> list[ChainReport]:
    """One report per kind of chain: orders, joint sessions, revisits, campaigns."""
    orders = session.scalars(select(SupervisionOrder).order_by(SupervisionOrder.id)).all()
    order_events = session.scalars(
        select(SupervisionEvent).order_by(SupervisionEvent.order_id, SupervisionEvent.seq)
    ).all()
    reports = [
        collect(
            "supervision orders",
            _walk(
                orders,
                order_events,
                lambda e: e.order_id,
                order_row,
                lambda o: f"order {o.number} (id {o.id})",
                keys,
                "event",
            ),
        )
    ]
    for kind, model, name in (
        (SESSION, JointSession, "joint sessions"),
        (REVISIT, Revisit, "revisits"),
    ):
        subjects = session.scalars(select(model).order_by(model.id)).all()
        records = session.scalars(
            select(SupervisionRecord)
            .where(SupervisionRecord.subject_kind == kind)
            .order_by(SupervisionRecord.subject_id, SupervisionRecord.seq)
        ).all()
        reports.append(
            collect(
                name,
                _walk(
                    subjects,
                    records,
                    lambda r: r.subject_id,
                    record_row,
                    partial(_subject_label, kind),
                    keys,
                    "record",
                ),
            )
        )
    campaigns = session.scalars(select(Campaign).order_by(Campaign.id)).all()
    campaign_events = session.scalars(
        select(CampaignEvent).order_by(CampaignEvent.campaign_id, CampaignEvent.seq)
    ).all()
    reports.append(
        collect(
            "campaigns",
            _walk(
                campaigns,
                campaign_events,
                lambda e: e.campaign_id,
                campaign_row,
                lambda c: f"campaign {c.name} (id {c.id})",
                keys,
                "event",
            ),
        )
    )
    return reports
