"""The append-only, signed, hash-chained event log of every case.

Each case's events form a chain: ``hash = HMAC(key, prev_hash || canonical(row))``,
starting from :data:`GENESIS`, under the audit key (:mod:`duban.cases.auditkey`), which
is kept outside the database: whoever can write the database can not recompute a link.
The case row keeps the head (``event_count``, ``last_event_hash``), and each event seals
the case row as the event left it (``case_digest``: an HMAC over the columns the
workflow writes), so a changed event, a deleted or renumbered event, a deleted last
event and a case row edited without an event are all detected. What the database alone
can not show — a whole case deleted, or a case rewound to an earlier state with its
later events — a signed checkpoint kept outside the database shows
(:func:`take_checkpoint`, ``duban audit checkpoint``).

Rows written before the audit key (``key_id`` NULL) are plain sha256 links; they verify
only when the caller accepts them (``--accept-unkeyed``).

:func:`event_row` is the one place an event row is built and sealed: every writer (the
workflow's :func:`append_event`, intake, bulk imports) goes through it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Float, Table, func, select
from sqlalchemy.orm import Session

from duban import notify
from duban.cases.auditkey import AuditKeyError, AuditKeys, audit_keys
from duban.cases.facts import record_event
from duban.cases.mapcounts import count_case
from duban.cases.models import Case, CaseEvent
from duban.kernel.context import Actor
from duban.kernel.errors import Msg, cause

GENESIS = "0" * 64

_CASES = cast(Table, Case.__table__)
_EVENTS = cast(Table, CaseEvent.__table__)

#: The columns of ``cases`` an event seals: those only the workflow writes, each time
#: together with an event. (Not the place codes or routing suggestion, which a change of
#: the map may recompute; not ``code``, drawn by the database; not ``updated_at`` or the
#: chain head.)
SEALED_COLUMNS: tuple[str, ...] = (
    "source",
    "status",
    "kind",
    "category_code",
    "condition_code",
    "lat",
    "lon",
    "address",
    "description",
    "reporter_name",
    "reporter_phone",
    "reporter_id",
    "unit_id",
    "assignee_id",
    "task",
    "rework_count",
    "is_supervised",
    "supervise_note",
    "overdue_marked_at",
    "limit_amount",
    "limit_unit",
    "clock_started_at",
    "due_at",
    "parked_at",
    "paused_seconds",
    "handled_at",
    "step",
    "step_started_at",
    "step_due_at",
    "pending_extension_until",
    "pending_extension_reason",
    "pending_park_reason",
    "duplicate_of_id",
    "dispatched_at",
    "closed_at",
    "created_at",
    "created_by_id",
)
#: Sealed columns added later: sealed only when set, so the cases written before they
#: existed (all unset) keep their seals.
SEALED_WHEN_SET: tuple[str, ...] = ("fixed_on_site", "hotline_ticket", "platform_code")
_FLOAT_COLUMNS = frozenset(c.key for c in _CASES.c if isinstance(c.type, Float))


def canonical_json(payload: dict[str, Any]) -> str:
    """The one JSON spelling used for payloads, so the stored text hashes the same forever."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _sealed_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _stamp(value)
    if name in _FLOAT_COLUMNS:
        return float(value)
    return value


def case_state(case_id: int, values: Mapping[str, Any]) -> str:
    """The canonical text of the sealed columns of case ``case_id`` (missing ones: NULL)."""
    later = [[c, _sealed_value(c, values.get(c))] for c in SEALED_WHEN_SET if values.get(c)]
    return json.dumps(
        [case_id, *[_sealed_value(c, values.get(c)) for c in SEALED_COLUMNS], *later],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def case_digest(keys: AuditKeys, key_id: str, case_id: int, values: Mapping[str, Any]) -> str:
    """The seal of a case row's workflow columns under audit key ``key_id``."""
    return keys.sign(key_id, "case:" + case_state(case_id, values))


def case_values(case: Case) -> dict[str, Any]:
    """The sealed columns of an ORM case, as they stand."""
    return {c: getattr(case, c) for c in (*SEALED_COLUMNS, *SEALED_WHEN_SET)}


def event_digest(
    prev_hash: str,
    *,
    case_id: int,
    seq: int,
    action: str,
    from_status: str | None,
    to_status: str,
    actor_id: int | None,
    actor_role: str,
    occurred_at: datetime,
    note: str,
    payload: str,
    key_id: str | None = None,
    case_digest: str | None = None,
    keys: AuditKeys | None = None,
) -> str:
    """The chained hash of one event row: an HMAC under audit key ``key_id``, or without
    one the plain sha256 of the rows written before the audit key."""
    fields: list[Any] = [
        case_id,
        seq,
        action,
        from_status,
        to_status,
        actor_id,
        actor_role,
        _stamp(occurred_at),
        note,
        payload,
    ]
    if key_id is None:
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()
    fields += [key_id, case_digest or ""]
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return (keys or audit_keys()).sign(key_id, prev_hash + body)


def event_row(
    *,
    case_id: int,
    seq: int,
    prev_hash: str,
    action: str,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    payload: dict[str, Any] | None = None,
    case: Mapping[str, Any] | None = None,
    keys: AuditKeys | None = None,
) -> dict[str, Any]:
    """The columns of one ``case_events`` row, signed with the current audit key and
    chained from ``prev_hash``; ``case`` (the case's columns as this event leaves them)
    is sealed into it. Every event row is built here."""
    keys = keys or audit_keys()
    key_id = keys.current
    text = canonical_json(payload or {})
    # Stored timestamps keep microseconds on both databases; hash exactly what is stored.
    at = at.astimezone(UTC)
    sealed = case_digest(keys, key_id, case_id, case) if case is not None else None
    digest = event_digest(
        prev_hash,
        case_id=case_id,
        seq=seq,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.user_id,
        actor_role=actor.role.value,
        occurred_at=at,
        note=note,
        payload=text,
        key_id=key_id,
        case_digest=sealed,
        keys=keys,
    )
    return {
        "case_id": case_id,
        "seq": seq,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "actor_id": actor.user_id,
        "actor_role": actor.role.value,
        "occurred_at": at,
        "note": note,
        "payload": text,
        "prev_hash": prev_hash,
        "hash": digest,
        "key_id": key_id,
        "case_digest": sealed,
    }


def append_event(
    session: Session,
    case: Case,
    *,
    action: str,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> CaseEvent:
    """Add the next event of ``case`` to the session and move the case's chain head.

    Call it after the action has set the case's columns: the event seals them."""
    event = CaseEvent(
        **event_row(
            case_id=case.id,
            seq=case.event_count + 1,
            prev_hash=case.last_event_hash or GENESIS,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            at=at,
            note=note,
            payload=payload,
            case=case_values(case),
        )
    )
    session.add(event)
    case.event_count = event.seq
    case.last_event_hash = event.hash
    record_event(
        session,
        case,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.user_id,
        actor_role=actor.role.value,
        at=at,
        payload=payload or {},
    )
    count_case(session, case)
    # The messages this event causes, in its transaction (sent after commit).
    notify.case_changed(
        session,
        notify.CaseChange.of(
            case, action=action, to_status=to_status, at=at, note=note, payload=payload
        ),
    )
    return event


# --------------------------------------------------------------------------- checkpoints

CHECKPOINT_FORMAT = "duban-audit-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file that can not be read or whose signature is wrong; ``text`` is the
    catalogue template of what is wrong."""

    def __init__(self, message: str | Msg) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        super().__init__(str(self.text))


@dataclass(frozen=True)
class Checkpoint:
    """Each case's chain head at one moment, signed: kept outside the database, it shows
    cases deleted, and cases rewound (last events deleted, head moved back) since."""

    taken_at: datetime
    key_id: str
    cases: int
    events: int
    #: case id -> (case number, last event's seq, its hash)
    heads: dict[int, tuple[str, int, str]]

    def body(self) -> dict[str, Any]:
        """Everything the signature covers."""
        return {
            "format": CHECKPOINT_FORMAT,
            "taken_at": _stamp(self.taken_at),
            "key_id": self.key_id,
            "cases": self.cases,
            "events": self.events,
            "heads": [[i, *self.heads[i]] for i in sorted(self.heads)],
        }

    def signature(self, keys: AuditKeys) -> str:
        """The checkpoint's HMAC under its key."""
        return keys.sign(self.key_id, "checkpoint:" + canonical_json(self.body()))

    def dumps(self, keys: AuditKeys) -> str:
        """The checkpoint file's text: the body and its signature."""
        return canonical_json({**self.body(), "signature": self.signature(keys)}) + "\n"

    @classmethod
    def loads(cls, text: str, keys: AuditKeys) -> Checkpoint:
        """Read a checkpoint file's text, checking its signature."""
        try:
            data = json.loads(text)
            if data.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(
                    Msg("not a {file_format} file", file_format=CHECKPOINT_FORMAT)
                )
            point = cls(
                taken_at=datetime.fromisoformat(data["taken_at"]),
                key_id=str(data["key_id"]),
                cases=int(data["cases"]),
                events=int(data["events"]),
                heads={int(i): (str(c), int(s), str(h)) for i, c, s, h in data["heads"]},
            )
            signature = str(data["signature"])
        except CheckpointError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(Msg("not a readable checkpoint: {err}", err=cause(exc))) from exc
        try:
            expected = point.signature(keys)
        except AuditKeyError as exc:
            raise CheckpointError(exc.text) from exc
        if not _same(expected, signature):
            raise CheckpointError("the checkpoint's signature is wrong (the file was changed)")
        return point


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def take_checkpoint(
    session: Session,
    *,
    now: datetime,
    accept_unkeyed: bool = False,
    keys: AuditKeys | None = None,
) -> tuple[AuditReport, Checkpoint | None]:
    """Verify every chain and, if all hold, the checkpoint of the heads just verified."""
    keys = keys or audit_keys()
    heads: dict[int, tuple[str, int, str]] = {}
    report = verify_chain(session, accept_unkeyed=accept_unkeyed, keys=keys, _heads=heads)
    if not report.ok:
        return report, None
    point = Checkpoint(
        taken_at=now,
        key_id=keys.current,
        cases=len(heads),
        events=sum(n for _, n, _ in heads.values()),
        heads=heads,
    )
    return report, point


def write_checkpoint(point: Checkpoint, path: Path, keys: AuditKeys | None = None) -> None:
    """Write ``point`` to ``path`` (whole or not at all)."""
    text = point.dumps(keys or audit_keys())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: Path, keys: AuditKeys | None = None) -> Checkpoint:
    """Read and check the checkpoint in ``path``."""
    return Checkpoint.loads(path.read_text(encoding="utf-8"), keys or audit_keys(create=False))


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Break:
    """The first broken link found in the chain (``seq`` 0: the case as a whole)."""

    case_id: int
    case_code: str
    seq: int
    problem: str

    def __str__(self) -> str:
        where = f"case {self.case_code} (id {self.case_id})"
        return (
            f"{where}, event #{self.seq}: {self.problem}"
            if self.seq
            else f"{where}: {self.problem}"
        )


@dataclass(frozen=True)
class AuditReport:
    """The outcome of :func:`verify_chain`."""

    cases_checked: int
    events_checked: int
    first_break: Break | None
    unkeyed_events: int = 0
    checkpoint: Checkpoint | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when every chain is intact."""
        return self.first_break is None


_CASE_COLUMNS = [
    _CASES.c.id,
    _CASES.c.code,
    _CASES.c.status,
    _CASES.c.event_count,
    _CASES.c.last_event_hash,
    *[_CASES.c[c] for c in (*SEALED_COLUMNS, *SEALED_WHEN_SET) if c != "status"],
]
_EVENT_COLUMNS = [
    _EVENTS.c[c]
    for c in (
        "case_id",
        "seq",
        "action",
        "from_status",
        "to_status",
        "actor_id",
        "actor_role",
        "occurred_at",
        "note",
        "payload",
        "prev_hash",
        "hash",
        "key_id",
        "case_digest",
    )
]


class _Verifier:
    def __init__(
        self, keys: AuditKeys | None, accept_unkeyed: bool, checkpoint: Checkpoint | None
    ) -> None:
        self._keys = keys
        self.accept_unkeyed = accept_unkeyed
        self.checkpoint = checkpoint
        self.taken = _stamp(checkpoint.taken_at) if checkpoint is not None else ""
        self.unkeyed = 0
        self.events = 0

    @property
    def keys(self) -> AuditKeys:
        if self._keys is None:
            self._keys = audit_keys(create=False)
        return self._keys

    def case(self, case: Any, events: Sequence[Any]) -> Break | None:
        """Check one case's chain, head, seal and checkpoint entry."""
        case_id, code = case.id, case.code
        point = self.checkpoint
        mark = point.heads.get(case_id) if point is not None else None
        taken = self.taken
        prev, count, last = GENESIS, 0, None
        for event in events:
            self.events += 1
            if event.seq != count + 1:
                return Break(case_id, code, count + 1, f"event #{count + 1} is missing (deleted?)")
            if event.prev_hash != prev:
                return Break(case_id, code, event.seq, "link to the previous event is broken")
            if event.key_id is None:
                self.unkeyed += 1
                if last is not None and last.key_id is not None:
                    # Rows from before the key all come before the first signed one.
                    return Break(
                        case_id,
                        code,
                        event.seq,
                        "event is not signed with an audit key but follows signed ones (forged)",
                    )
                if not self.accept_unkeyed:
                    return Break(
                        case_id,
                        code,
                        event.seq,
                        "event is not signed with an audit key (a plain sha256 link from "
                        "before the key; accept such links with --accept-unkeyed)",
                    )
            elif event.key_id not in self.keys.secrets:
                return Break(
                    case_id,
                    code,
                    event.seq,
                    f"signed with audit key {event.key_id!r}, which is not configured",
                )
            expected = event_digest(
                prev,
                case_id=case_id,
                seq=event.seq,
                action=event.action,
                from_status=event.from_status,
                to_status=event.to_status,
                actor_id=event.actor_id,
                actor_role=event.actor_role,
                occurred_at=event.occurred_at,
                note=event.note,
                payload=event.payload,
                key_id=event.key_id,
                case_digest=event.case_digest,
                keys=None if event.key_id is None else self.keys,
            )
            if expected != event.hash:
                return Break(case_id, code, event.seq, "row was changed after it was written")
            if mark is not None and event.seq == mark[1] and event.hash != mark[2]:
                return Break(
                    case_id,
                    code,
                    event.seq,
                    f"differs from the checkpoint of {taken} (rewritten or renumbered)",
                )
            prev, count, last = event.hash, event.seq, event
        if count != case.event_count or (count and prev != case.last_event_hash):
            return Break(
                case_id,
                code,
                count + 1,
                f"the case records {case.event_count} events but {count} intact ones remain "
                "(the latest were deleted or changed)",
            )
        if mark is not None:
            if mark[0] != code:
                return Break(case_id, code, 0, f"the case was numbered {mark[0]} at the checkpoint")
            if count < mark[1]:
                return Break(
                    case_id,
                    code,
                    count + 1,
                    f"the checkpoint of {taken} saw event #{mark[1]}; the chain now ends at "
                    f"#{count} (events deleted, head moved back)",
                )
        if last is None:
            return None
        status = case.status.value if isinstance(case.status, Enum) else case.status
        if last.to_status != status:
            return Break(
                case_id,
                code,
                count,
                f"the case's status is {status!r} but its latest event left it "
                f"{last.to_status!r} (edited without an event)",
            )
        if last.key_id is None:
            return None  # a case last touched before the audit key: no seal to check
        seal = case_digest(self.keys, last.key_id, case_id, case._mapping)
        if last.case_digest is None or seal != last.case_digest:
            return Break(
                case_id,
                code,
                count,
                "the case row differs from the state its latest event sealed "
                "(edited without an event)",
            )
        return None


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row.case_id, []).append(row)
    return out


def verify_chain(
    session: Session,
    *,
    batch: int = 2000,
    accept_unkeyed: bool = False,
    checkpoint: Checkpoint | None = None,
    keys: AuditKeys | None = None,
    _heads: dict[int, tuple[str, int, str]] | None = None,
) -> AuditReport:
    """Recompute every case's chain, compare it with the stored hashes, heads and seals
    (and with ``checkpoint``, if given); stop at the first break.

    Reads the cases ``batch`` at a time in id order, each batch's events with them."""
    check = _Verifier(keys, accept_unkeyed, checkpoint)
    cases_checked = 0
    seen: set[int] = set()
    last_id: int | None = None
    first: Break | None = None
    while first is None:
        stmt = select(*_CASE_COLUMNS).order_by(_CASES.c.id).limit(batch)
        events_stmt = select(*_EVENT_COLUMNS).order_by(_EVENTS.c.case_id, _EVENTS.c.seq)
        if last_id is not None:
            stmt = stmt.where(_CASES.c.id > last_id)
            events_stmt = events_stmt.where(_EVENTS.c.case_id > last_id)
        cases = session.execute(stmt).all()
        if not cases:
            break
        hi = cases[-1].id
        by_case = _grouped(session.execute(events_stmt.where(_EVENTS.c.case_id <= hi)))
        for case in cases:
            cases_checked += 1
            seen.add(case.id)
            first = check.case(case, by_case.pop(case.id, []))
            if first is not None:
                break
            if _heads is not None:
                _heads[case.id] = (case.code, case.event_count, case.last_event_hash)
        if first is None and by_case:
            orphan = min(by_case)
            first = Break(orphan, "?", 0, "events of a case that is not in the database")
        last_id = hi
    if first is None:
        stray = session.scalar(
            select(func.min(_EVENTS.c.case_id)).where(_EVENTS.c.case_id > (last_id or 0))
        )
        if stray is not None:
            first = Break(stray, "?", 0, "events of a case that is not in the database")
    if first is None and checkpoint is not None:
        for case_id in sorted(set(checkpoint.heads) - seen):
            code, seq, _ = checkpoint.heads[case_id]
            first = Break(
                case_id,
                code,
                0,
                f"the case (with {seq} events) was in the checkpoint of "
                f"{_stamp(checkpoint.taken_at)} but is gone (deleted)",
            )
            break
    return AuditReport(cases_checked, check.events, first, check.unkeyed, checkpoint)
