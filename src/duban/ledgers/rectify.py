"""Use cases of rectification: status, progress notes, sign-off against evidence (对账销号),
links to cases, weekly snapshots. Each writes one event per change."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.cases import Case
from duban.kernel.context import Actor, Clock
from duban.kernel.errors import Conflict, InvalidInput, Msg, NotFound
from duban.kernel.ports import PhotoStore
from duban.kernel.unitofwork import writing
from duban.ledgers.access import require_manager, require_progress, require_reviewer
from duban.ledgers.events import record
from duban.ledgers.files import sniff
from duban.ledgers.models import (
    Ledger,
    LedgerEvent,
    LedgerEvidence,
    LedgerNode,
    LedgerNoteFile,
    LedgerSignoff,
    LedgerSnapshot,
)
from duban.ledgers.policy import LedgerPolicy, ledger_policy
from duban.ledgers.rules import (
    DONE,
    SET_BY_HAND,
    BadMilestone,
    LedgerStatus,
    NodeKind,
    clean_milestones,
    iso_week,
    roll_up,
)
from duban.ledgers.scope import node_visible
from duban.reference import load_policy


@dataclass(frozen=True)
class EvidenceFile:
    """An uploaded evidence file: its name as sent and its bytes."""

    filename: str
    data: bytes


def _node(session: Session, node_id: int, *, lock: bool = False) -> LedgerNode:
    query = select(LedgerNode).where(LedgerNode.id == node_id)
    if lock:
        query = query.with_for_update()
    node = session.scalars(query).first()
    if node is None:
        raise NotFound(Msg("no ledger entry {id}", id=node_id))
    return node


def _in_scope(session: Session, actor: Actor, node: LedgerNode) -> None:
    """An entry outside the actor's territory is not found (as a case is)."""
    if not node_visible(session, actor, node):
        raise NotFound(Msg("no ledger entry {id}", id=node.id))


#: The kinds of entry that carry a status, milestones and cases.
MEASURE_ONLY = frozenset({NodeKind.MEASURE.value})
ITEM_OR_MEASURE = frozenset({NodeKind.ITEM.value, NodeKind.MEASURE.value})
#: Why an entry of another kind is refused, by what the use case wanted of it.
REFUSALS: Final = {
    "status": "only a measure has a status of its own; an item's follows its measures",
    "milestones": "only an item or a measure has milestones",
    "link": "only an item (a specific problem) links to a case",
    "raise": "only a measure or an item raises a case",
}


def entry_for_change(
    session: Session,
    actor: Actor,
    node_id: int,
    *,
    kinds: frozenset[str] = MEASURE_ONLY,
    refusal: str = "status",
    allowed: Callable[[Actor, LedgerNode], None] | None = require_progress,
) -> LedgerNode:
    """The entry a use case changes, locked (inside its unit of work): of one of
    ``kinds`` (else the refusal of :data:`REFUSALS` named ``refusal``), in the actor's
    territory (else not found) and ``allowed`` for them (by default: a manager, or the
    unit that leads it).

    Raises:
        NotFound, InvalidInput, PermissionDenied.
    """
    node = _node(session, node_id, lock=True)
    if node.kind not in kinds:
        raise InvalidInput(REFUSALS[refusal], field="node_id")
    _in_scope(session, actor, node)
    if allowed is not None:
        allowed(actor, node)
    return node


def refresh_item(session: Session, measure: LedgerNode, *, actor: Actor, clock: Clock) -> None:
    """Roll the measure's item status up again; an event if it changed."""
    if measure.parent_id is None:
        return
    item = _node(session, measure.parent_id)
    statuses = session.scalars(
        select(LedgerNode.status).where(LedgerNode.parent_id == item.id)
    ).all()
    new = roll_up(LedgerStatus(s) for s in statuses if s).value
    if new != item.status:
        record(
            session,
            ledger_id=item.ledger_id,
            node_id=item.id,
            kind="status",
            actor=actor,
            clock=clock,
            old=item.status,
            new=new,
            rolled_up=True,
        )
        item.status = new
        item.updated_at = clock.now()


def _set(
    session: Session,
    node: LedgerNode,
    status: LedgerStatus,
    *,
    actor: Actor,
    clock: Clock,
    **why: object,
) -> None:
    if node.status == status.value:
        return
    record(
        session,
        ledger_id=node.ledger_id,
        node_id=node.id,
        kind="status",
        actor=actor,
        clock=clock,
        old=node.status,
        new=status.value,
        **why,
    )
    node.status = status.value
    node.updated_at = clock.now()
    session.flush()
    refresh_item(session, node, actor=actor, clock=clock)


def set_status(
    session: Session, *, actor: Actor, clock: Clock, node_id: int, status: str
) -> LedgerNode:
    """Set a measure 未开始 or 推进中 (done needs a sign-off; 逾期 is the sweep's).

    Raises:
        NotFound, PermissionDenied, InvalidInput.
    """
    try:
        wanted = LedgerStatus(status)
    except ValueError as err:
        raise InvalidInput(
            Msg(
                "not a status: one of {statuses}", statuses="、".join(s.value for s in LedgerStatus)
            ),
            field="status",
        ) from err
    with writing(session):
        node = entry_for_change(session, actor, node_id)
        if wanted == LedgerStatus.OVERDUE:
            raise InvalidInput("Overdue is set by the deadline sweep", field="status")
        if wanted not in SET_BY_HAND:
            raise InvalidInput(
                Msg("set {status} through a sign-off request with evidence", status=wanted.value),
                field="status",
            )
        if node.status in {s.value for s in DONE}:
            raise Conflict("this measure is already signed off")
        _set(session, node, wanted, actor=actor, clock=clock)
    return node


def _checked(
    files: Sequence[EvidenceFile], policy: LedgerPolicy
) -> list[tuple[EvidenceFile, str, tuple[str, str]]]:
    """Each file with its name and ``(content type, extension)`` read from its bytes.

    Raises:
        InvalidInput: too many, too large, not a photo/PDF/DOCX/XLSX.
    """
    if len(files) > policy.evidence_max_files:
        raise InvalidInput(
            Msg("at most {limit} evidence files in one request", limit=policy.evidence_max_files),
            field="files",
        )
    out = []
    for f in files:
        name = (f.filename or "evidence")[-200:]
        if len(f.data) > policy.evidence_max_bytes:
            raise InvalidInput(
                Msg(
                    "evidence '{name}' is larger than the limit of {limit} bytes",
                    name=name,
                    limit=policy.evidence_max_bytes,
                ),
                field="files",
            )
        kind = sniff(f.data)
        if kind is None:
            raise InvalidInput(
                Msg("evidence '{name}' is not a photo, PDF, DOCX or XLSX", name=name),
                field="files",
            )
        out.append((f, name, kind))
    return out


_Stored = tuple[str, str, str, str, int, str]  # id, name, content type, key, size, sha256


def _put(
    store: PhotoStore,
    checked: list[tuple[EvidenceFile, str, tuple[str, str]]],
    put: list[str],
    folder: str,
) -> list[_Stored]:
    """Store the files; every key stored is added to ``put`` (to remove them again if the
    unit of work fails)."""
    out = []
    for f, name, (content_type, ext) in checked:
        file_id = str(uuid.uuid4())
        key = f"{folder}/{file_id}.{ext}"
        store.put(key, f.data)
        put.append(key)
        out.append(
            (file_id, name, content_type, key, len(f.data), hashlib.sha256(f.data).hexdigest())
        )
    return out


def add_note(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    node_id: int,
    note: str,
    files: Sequence[EvidenceFile] = (),
    store: PhotoStore | None = None,
) -> LedgerNode:
    """A progress note (进展情况) on a measure (see :func:`write_note`); the measure."""
    return write_note(
        session, actor=actor, clock=clock, node_id=node_id, note=note, files=files, store=store
    )[0]


def write_note(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    node_id: int,
    note: str,
    files: Sequence[EvidenceFile] = (),
    store: PhotoStore | None = None,
) -> tuple[LedgerNode, LedgerEvent]:
    """A progress note (进展情况) on a measure, with files if any (photos, PDF, DOCX, XLSX,
    checked by content and size as evidence is): one event; 未开始 becomes 推进中.

    Raises:
        NotFound, PermissionDenied; InvalidInput: no text, too long, a bad file.
    """
    note = (note or "").strip()
    if not note:
        raise InvalidInput("a note is required", field="text")
    if len(note) > 4000:
        raise InvalidInput(Msg("longer than {limit} characters", limit=4000), field="text")
    checked = _checked(files, ledger_policy())
    if checked and store is None:
        raise ValueError("a note with files needs the file store")
    put: list[str] = []
    try:
        with writing(session):
            node = entry_for_change(session, actor, node_id)
            stored = _put(store, checked, put, "ledger-notes") if store and checked else []
            event = record(
                session,
                ledger_id=node.ledger_id,
                node_id=node.id,
                kind="note",
                actor=actor,
                clock=clock,
                text=note,
                files=[{"id": i, "filename": n, "content_type": c} for i, n, c, *_ in stored],
            )
            if stored:
                session.flush()
                now = clock.now()
                session.add_all(
                    LedgerNoteFile(
                        id=file_id,
                        node_id=node.id,
                        event_id=event.id,
                        filename=name,
                        content_type=content_type,
                        size_bytes=size,
                        sha256=digest,
                        storage_key=key,
                        created_at=now,
                    )
                    for file_id, name, content_type, key, size, digest in stored
                )
            if node.status == LedgerStatus.NOT_STARTED.value:
                _set(session, node, LedgerStatus.IN_PROGRESS, actor=actor, clock=clock)
    except BaseException:
        for key in put:
            if store is not None:
                store.delete(key)
        raise
    return node, event


def set_milestones(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    node_id: int,
    milestones: Sequence[tuple[object, object, object]],
) -> LedgerNode:
    """Replace the milestones (时间节点) of an item or a measure: ``(date, text, done)``
    each; an event with the old and the new list when they differ.

    Raises:
        NotFound, PermissionDenied; InvalidInput: a bad milestone (named by its number),
        or an entry that is neither an item nor a measure.
    """
    try:
        cleaned = clean_milestones(milestones)
    except BadMilestone as err:
        raise InvalidInput(
            Msg(
                "milestone {number}: {message}",
                number=err.index + 1,
                message=Msg(err.key, **err.values),
            ),
            field="milestones",
        ) from err
    with writing(session):
        node = entry_for_change(
            session,
            actor,
            node_id,
            kinds=ITEM_OR_MEASURE,
            refusal="milestones",
        )
        old = list(node.milestones or [])
        if old != cleaned:
            record(
                session,
                ledger_id=node.ledger_id,
                node_id=node.id,
                kind="milestones",
                actor=actor,
                clock=clock,
                old=old,
                new=cleaned,
            )
            node.milestones = cleaned
            node.updated_at = clock.now()
    return node


def request_signoff(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    store: PhotoStore,
    node_id: int,
    files: Sequence[EvidenceFile],
    note: str = "",
    long_term: bool = False,
) -> LedgerSignoff:
    """Ask for a measure to be signed off (销号申请) with evidence files.

    Raises:
        InvalidInput: no file, too many, too large, not a photo/PDF/DOCX/XLSX.
        Conflict: already signed off, or a request is already waiting.
    """
    if not files:
        raise InvalidInput("a sign-off needs at least one evidence file", field="files")
    checked = _checked(files, ledger_policy())
    put: list[str] = []  # files stored; removed again if the unit of work fails
    try:
        with writing(session):
            node = entry_for_change(session, actor, node_id)
            if node.status in {s.value for s in DONE}:
                raise Conflict("this measure is already signed off")
            waiting = session.scalar(
                select(LedgerSignoff.id).where(
                    LedgerSignoff.node_id == node.id, LedgerSignoff.state == "pending"
                )
            )
            if waiting is not None:
                raise Conflict("this measure already has a sign-off request waiting")
            now = clock.now()
            signoff = LedgerSignoff(
                node_id=node.id,
                state="pending",
                long_term=long_term,
                note=(note or "").strip()[:4000],
                requested_by_id=actor.user_id,
                requested_at=now,
            )
            session.add(signoff)
            session.flush()
            stored = _put(store, checked, put, "ledger-evidence")
            session.add_all(
                LedgerEvidence(
                    id=evidence_id,
                    signoff_id=signoff.id,
                    filename=name,
                    content_type=content_type,
                    size_bytes=size,
                    sha256=digest,
                    storage_key=key,
                    created_at=now,
                )
                for evidence_id, name, content_type, key, size, digest in stored
            )
            record(
                session,
                ledger_id=node.ledger_id,
                node_id=node.id,
                kind="signoff_requested",
                actor=actor,
                clock=clock,
                signoff_id=signoff.id,
                long_term=long_term,
                evidence=[{"id": i, "filename": n, "content_type": c} for i, n, c, *_ in stored],
            )
            if node.status == LedgerStatus.NOT_STARTED.value:
                _set(session, node, LedgerStatus.IN_PROGRESS, actor=actor, clock=clock)
    except BaseException:
        for key in put:
            store.delete(key)
        raise
    return signoff


def approve_signoff(
    session: Session, *, actor: Actor, clock: Clock, signoff_id: int
) -> LedgerSignoff:
    """销号: the measure becomes 已整改 (or 已整改需长期坚持); only with evidence on file."""
    return decide_signoff(session, actor=actor, clock=clock, signoff_id=signoff_id, approve=True)


def refuse_signoff(
    session: Session, *, actor: Actor, clock: Clock, signoff_id: int, reason: str
) -> LedgerSignoff:
    """不予销号 with a reason; the request is kept, the measure stays as it was."""
    return decide_signoff(
        session, actor=actor, clock=clock, signoff_id=signoff_id, approve=False, reason=reason
    )


def decide_signoff(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    signoff_id: int,
    approve: bool,
    reason: str = "",
) -> LedgerSignoff:
    """A reviewer's decision on a waiting sign-off request: approve (销号: the measure
    becomes 已整改, or 已整改需长期坚持; only with evidence on file) or refuse (不予销号,
    with a reason; the request is kept, the measure stays as it was).

    Raises:
        PermissionDenied, NotFound; Conflict: already decided; InvalidInput: no reason.
    """
    require_reviewer(actor)
    reason = (reason or "").strip()[:4000]
    if not approve and not reason:
        raise InvalidInput("a refusal needs a reason", field="reason")
    with writing(session):
        signoff = session.scalars(
            select(LedgerSignoff).where(LedgerSignoff.id == signoff_id).with_for_update()
        ).first()
        if signoff is None:
            raise NotFound(Msg("no sign-off request {id}", id=signoff_id))
        if signoff.state != "pending":
            raise Conflict("this sign-off request was already decided")
        node = _node(session, signoff.node_id, lock=True)
        _in_scope(session, actor, node)
        evidence = session.scalar(
            select(LedgerEvidence.id).where(LedgerEvidence.signoff_id == signoff.id).limit(1)
        )
        if approve and evidence is None:  # never: a request is refused without files
            raise InvalidInput("a sign-off needs at least one evidence file", field="files")
        signoff.state = "approved" if approve else "refused"
        signoff.reason = "" if approve else reason
        signoff.reviewed_by_id = actor.user_id
        signoff.reviewed_at = clock.now()
        why: dict[str, object] = {"signoff_id": signoff.id}
        if not approve:
            why["reason"] = reason
        record(
            session,
            ledger_id=node.ledger_id,
            node_id=node.id,
            kind="signoff_approved" if approve else "signoff_refused",
            actor=actor,
            clock=clock,
            **why,
        )
        if approve:
            done = LedgerStatus.DONE_LONG_TERM if signoff.long_term else LedgerStatus.DONE
            _set(session, node, done, actor=actor, clock=clock, signoff_id=signoff.id)
    return signoff


def link_case(
    session: Session, *, actor: Actor, clock: Clock, node_id: int, case_id: int | None
) -> LedgerNode:
    """Link an item (具体表现) to a case, or unlink it (``case_id`` None)."""
    require_manager(actor)
    with writing(session):
        node = entry_for_change(
            session,
            actor,
            node_id,
            kinds=frozenset({NodeKind.ITEM.value}),
            refusal="link",
            allowed=None,
        )
        if case_id is not None and session.get(Case, case_id) is None:
            raise NotFound(Msg("no case {id}", id=case_id))
        if node.case_id != case_id:
            record(
                session,
                ledger_id=node.ledger_id,
                node_id=node.id,
                kind="case_link",
                actor=actor,
                clock=clock,
                old=node.case_id,
                new=case_id,
            )
            node.case_id = case_id
            node.updated_at = clock.now()
    return node


def take_snapshot(
    session: Session, *, actor: Actor, clock: Clock, ledger_id: int
) -> LedgerSnapshot:
    """This week's progress of a ledger, kept as taken (one per ledger and ISO week).

    Raises:
        Conflict: this week's snapshot was already taken.
    """
    from duban.ledgers.queries import progress  # the read the snapshot keeps

    require_manager(actor)
    tz = load_policy(session).tz
    week = iso_week(clock.now().astimezone(tz).date())
    with writing(session):
        if session.get(Ledger, ledger_id) is None:
            raise NotFound(Msg("no ledger {id}", id=ledger_id))
        taken = session.scalar(
            select(LedgerSnapshot.id).where(
                LedgerSnapshot.ledger_id == ledger_id, LedgerSnapshot.week == week
            )
        )
        if taken is not None:
            raise Conflict(Msg("the snapshot of week {week} was already taken", week=week))
        figures = progress(session, actor=actor, clock=clock, ledger_id=ledger_id)
        snapshot = LedgerSnapshot(
            ledger_id=ledger_id,
            week=week,
            taken_at=clock.now(),
            taken_by_id=actor.user_id,
            figures=figures,
        )
        session.add(snapshot)
        try:
            session.flush()
        except IntegrityError as err:  # taken at the same moment by someone else
            raise Conflict(Msg("the snapshot of week {week} was already taken", week=week)) from err
        record(
            session,
            ledger_id=ledger_id,
            node_id=None,
            kind="snapshot",
            actor=actor,
            clock=clock,
            week=week,
        )
    return snapshot
