"""Signed event chains of the other records (supervision orders, joint sessions,
revisits, campaigns, ledgers): one way to sign a link and one way to walk a chain.

A link's ``hash`` is the HMAC, under the audit key that signs case events (SECURITY.md
"Audit trail"), of the previous link's hash and the canonical row (with ``key_id``);
the subject keeps the head (``event_count``, ``last_event_hash``). Rows written before a
table was chained (``key_id`` NULL, migration 0020 for ledger events) are plain sha256
links; they verify only before every signed one and only when accepted, as case events
written before the audit key do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from duban.cases.audit import canonical_json
from duban.cases.auditkey import AuditKeyError, AuditKeys, audit_keys


def link_digest(keys: AuditKeys | None, key_id: str | None, prev: str, row: dict[str, Any]) -> str:
    """The hash of one link: signed with ``key_id``, or a plain sha256 without a key."""
    if key_id is None:
        return hashlib.sha256((prev + canonical_json(row)).encode("utf-8")).hexdigest()
    return (keys or audit_keys()).sign(key_id, prev + canonical_json({**row, "key_id": key_id}))


def sign_link(prev: str, row: dict[str, Any]) -> tuple[str, str]:
    """The hash and key id of a new link after ``prev`` (signed with the current key)."""
    keys = audit_keys()
    return link_digest(keys, keys.current, prev, row), keys.current


class Link(Protocol):
    """A stored link of a chain."""

    seq: int
    prev_hash: str | None
    hash: str | None
    key_id: str | None


class Head(Protocol):
    """A subject that keeps the head of its chain."""

    event_count: int
    last_event_hash: str


def verify_links(
    head: Head,
    links: Sequence[Any],
    row: Any,
    *,
    keys: AuditKeys | None = None,
    accept_unkeyed: bool = False,
    noun: str = "event",
) -> list[str]:
    """The breaks in one subject's chain (empty when intact): ``links`` in ``seq`` order,
    ``row(link)`` the canonical row that was signed."""
    if keys is None and any(link.key_id is not None for link in links):
        try:
            keys = audit_keys(create=False)
        except AuditKeyError as err:
            return [str(err)]
    breaks: list[str] = []
    prev = ""
    signed_seen = False
    for expected, link in enumerate(links, start=1):
        if link.seq != expected:
            breaks.append(f"{noun} {expected} is missing")
        if link.key_id is None:
            if signed_seen:
                breaks.append(f"{noun} {link.seq} is not signed but follows signed ones (forged)")
            elif not accept_unkeyed:
                breaks.append(
                    f"{noun} {link.seq} is not signed with an audit key (written before the "
                    "chain; accept such links with --accept-unkeyed)"
                )
        else:
            signed_seen = True
        try:
            good = link.prev_hash == prev and hmac.compare_digest(
                link.hash or "", link_digest(keys, link.key_id, prev, row(link))
            )
        except AuditKeyError:
            good = False
        if not good:
            breaks.append(f"{noun} {link.seq} was changed")
        prev = link.hash or ""
    if head.event_count != len(links) or head.last_event_hash != prev:
        breaks.append(f"the head does not match the last {noun}")
    return breaks


@dataclass
class ChainReport:
    """The outcome of verifying every chain of one kind (``name``: what they record)."""

    name: str
    subjects: int = 0
    events: int = 0
    #: ``"<subject>: <break>"``, the first ones only (``limit`` of :func:`collect`).
    breaks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every chain of the kind is intact."""
        return not self.breaks


def collect(
    name: str, checked: Iterable[tuple[str, int, list[str]]], *, limit: int = 20
) -> ChainReport:
    """A report from ``(subject label, links checked, breaks)`` per subject."""
    report = ChainReport(name)
    for label, count, breaks in checked:
        report.subjects += 1
        report.events += count
        for problem in breaks:
            if len(report.breaks) < limit:
                report.breaks.append(f"{label}: {problem}")
    return report
