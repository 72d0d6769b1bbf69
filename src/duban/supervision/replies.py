"""The one path a unit's answer and a supervisor's review take, for an order's problem
and a joint session's decision alike (both carry :class:`~models.ReplyFields`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.evidence import Photo
from duban.kernel.context import Actor
from duban.kernel.errors import Conflict, InvalidInput
from duban.supervision.rules import ProblemStatus, can_answer, can_review

#: At most this many photos per answer.
MAX_REPLY_PHOTOS = 10


@dataclass(frozen=True)
class ReplyInput:
    """A unit's answer to one problem or decision."""

    measures: str
    done: bool
    photo_ids: Sequence[str] = field(default_factory=tuple)


class Answerable(Protocol):
    """A task a unit answers and a supervisor reviews."""

    id: int
    unit_id: int
    status: ProblemStatus
    measures: str | None
    reply_photo_ids: list[str] | None
    done: bool | None
    answered_at: datetime | None
    answered_by_id: int | None
    reviewed_at: datetime | None
    reviewed_by_id: int | None
    send_back_reason: str | None
    send_back_count: int


def clean_text(value: str, name: str, limit: int, *, required: bool = True) -> str:
    """Stripped text of at most ``limit`` characters without control characters."""
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput("this field is required", field=name)
    if len(cleaned) > limit or any(ord(ch) < 32 and ch not in "\n\t" for ch in cleaned):
        raise InvalidInput("this text is too long or has control characters", field=name)
    return cleaned


def clean_reply(reply: ReplyInput) -> tuple[str, list[str]]:
    """The measures and the photo ids of an answer, checked before any transaction."""
    measures = clean_text(reply.measures, "measures", 4000)
    photo_ids = list(dict.fromkeys(reply.photo_ids))
    if len(photo_ids) > MAX_REPLY_PHOTOS:
        raise InvalidInput("at most 10 photos per answer", field="photo_ids")
    return measures, photo_ids


def require_own_photos(session: Session, actor: Actor, photo_ids: Sequence[str]) -> None:
    """Refuse photos the actor did not upload."""
    if not photo_ids:
        return
    own = set(
        session.scalars(
            select(Photo.id).where(Photo.id.in_(photo_ids), Photo.uploaded_by_id == actor.user_id)
        )
    )
    if set(photo_ids) - own:
        raise InvalidInput("attach only photos you uploaded", field="photo_ids")


def apply_answer(
    session: Session,
    task: Answerable,
    *,
    actor: Actor,
    now: datetime,
    measures: str,
    photo_ids: list[str],
    done: bool,
) -> None:
    """Record the unit's answer on ``task`` (locked by the caller)."""
    if not can_answer(task.status):
        raise Conflict("this problem is not waiting for an answer", status=task.status.value)
    require_own_photos(session, actor, photo_ids)
    task.status = ProblemStatus.ANSWERED
    task.measures = measures
    task.reply_photo_ids = photo_ids
    task.done = bool(done)
    task.answered_at = now
    task.answered_by_id = actor.user_id


def apply_review(
    task: Answerable, *, actor: Actor, now: datetime, accept: bool, reason: str
) -> None:
    """Accept the answer on ``task``, or send it back with ``reason`` (locked by the caller)."""
    if not can_review(task.status):
        raise Conflict("this problem has no answer to review", status=task.status.value)
    task.reviewed_at = now
    task.reviewed_by_id = actor.user_id
    if accept:
        task.status = ProblemStatus.ACCEPTED
        task.send_back_reason = None
    else:
        task.status = ProblemStatus.SENT_BACK
        task.send_back_reason = reason
        task.send_back_count += 1
