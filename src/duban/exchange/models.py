"""The exchange with a higher platform: links, the cases taken from it, the pushes back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duban.kernel.db.base import Base, UTCDateTime
from duban.kernel.db.sealed import SealedText


class ExchangeLink(Base):
    """A link to a higher platform (the city's Duban or any Open311 server with the
    FixMyStreet update extension), kept on the lower (district) instance.

    ``api_key`` is the key the higher platform issued to us (``duban apikey create NAME
    --unit CODE`` there); it and ``staff_token`` are credentials of ours that we send, so
    they are kept sealed (encrypted, :class:`~duban.kernel.db.sealed.SealedText`) and
    never shown back.
    """

    __tablename__ = "exchange_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, comment="our name for the link")
    base_url: Mapped[str] = mapped_column(String(300), comment="the Open311 endpoint, …/open311/v2")
    api_key: Mapped[str] = mapped_column(SealedText(), comment="sealed")
    jurisdiction_id: Mapped[str | None] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(
        String(64), comment="the higher platform's unit code that stands for us"
    )
    service_codes: Mapped[list[str]] = mapped_column(
        JSON, default=list, comment="the service codes taken (empty: all)"
    )
    code_map: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, comment="their service code -> our category code, where they differ"
    )
    source: Mapped[str] = mapped_column(String(20), comment="the source our cases are given")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="the last updated_datetime pulled"
    )
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    staff_token: Mapped[str | None] = mapped_column(
        SealedText(),
        comment="sealed: bearer token of our unit's handler account on the higher platform's API",
    )


class ExchangeCase(Base):
    """A case of ours taken from a higher platform: its id there, unique per link, so a
    case is taken once whatever the number of pulls (also pulls running at once)."""

    __tablename__ = "exchange_cases"
    __table_args__ = (UniqueConstraint("link_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("exchange_links.id"))
    external_id: Mapped[str] = mapped_column(String(64), comment="service_request_id upstream")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    external_status: Mapped[str] = mapped_column(String(40), comment="status_extended upstream")
    external_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExchangePush(Base):
    """A result of ours to post to the higher platform (POST servicerequestupdates), or
    our answer to one of its supervision orders' problems (``problem_id``; POST
    …/supervision-orders/{id}/problems/{id}/reply on its staff API).

    One row per event of ours that is a result (unique ``event_id``); ``update_id`` is
    what the higher platform deduplicates on, so a push sent twice is applied once.
    Failed sends are retried with exponential backoff until ``MAX_ATTEMPTS``.
    """

    __tablename__ = "exchange_pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("exchange_links.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), unique=True)
    problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_problems.id"), index=True, comment="an answer to an order's problem"
    )
    update_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), comment="pending | sent | failed")
    status: Mapped[str] = mapped_column(String(40), comment="the extended status sent")
    description: Mapped[str] = mapped_column(Text)
    photo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(64), comment="the update's id upstream")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ExchangeProblem(Base):
    """A problem of a higher platform's supervision order (督办单) addressed to our unit
    there: its id there, unique per link (pulled once), the case of ours it is about when
    that case came down the link, and our answer (sent up through ``exchange_pushes``)."""

    __tablename__ = "exchange_problems"
    __table_args__ = (UniqueConstraint("link_id", "external_problem_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("exchange_links.id"))
    external_order_id: Mapped[int] = mapped_column(Integer)
    order_number: Mapped[str] = mapped_column(String(100), comment="督查通知单〔2026〕第12期")
    order_title: Mapped[str] = mapped_column(String(200))
    external_problem_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    description: Mapped[str] = mapped_column(Text)
    external_status: Mapped[str] = mapped_column(
        String(20), comment="open | answered | sent_back | accepted upstream"
    )
    send_back_reason: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    measures: Mapped[str | None] = mapped_column(Text, comment="our last answer")
    done: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer_count: Mapped[int] = mapped_column(Integer, default=0)
    local_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("supervision_orders.id"), comment="our order relaying it to our unit"
    )
    local_problem_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_problems.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
