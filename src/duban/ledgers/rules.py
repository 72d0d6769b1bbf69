"""Pure rules of the ledgers: statuses, their roll-up, dates written in a sheet, weeks.

No database and no framework: the use cases load, call these, and write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Final


class LedgerStatus(StrEnum):
    """The status of a measure (整改措施) or an item (具体表现)."""

    NOT_STARTED = "未开始"
    IN_PROGRESS = "推进中"
    DONE = "已整改"
    DONE_LONG_TERM = "已整改需长期坚持"  # done, and kept up for good (signed off all the same)
    OVERDUE = "逾期"  # set by the deadline sweep only


STATUS_LABELS_EN: Final[dict[LedgerStatus, str]] = {
    LedgerStatus.NOT_STARTED: "Not started",
    LedgerStatus.IN_PROGRESS: "In progress",
    LedgerStatus.DONE: "Done",
    LedgerStatus.DONE_LONG_TERM: "Done, to be kept up",
    LedgerStatus.OVERDUE: "Overdue",
}

DONE: Final = frozenset({LedgerStatus.DONE, LedgerStatus.DONE_LONG_TERM})
#: What a person may set by hand: the done ones need a sign-off, 逾期 is the sweep's.
SET_BY_HAND: Final = frozenset({LedgerStatus.NOT_STARTED, LedgerStatus.IN_PROGRESS})


class NodeKind(StrEnum):
    """The levels of the tree, top down."""

    ASPECT = "aspect"  # 方面
    CATEGORY = "category"  # 类别
    PROBLEM = "problem"  # 问题
    ITEM = "item"  # 具体表现
    MEASURE = "measure"  # 整改措施


LEVELS: Final = (
    NodeKind.ASPECT,
    NodeKind.CATEGORY,
    NodeKind.PROBLEM,
    NodeKind.ITEM,
    NodeKind.MEASURE,
)


def parse_status(raw: str | None) -> LedgerStatus | None:
    """The status written in a cell (empty → 未开始); ``None`` if it is not one."""
    value = (raw or "").strip()
    if not value:
        return LedgerStatus.NOT_STARTED
    for status in LedgerStatus:
        if value in (status.value, status.name.lower(), STATUS_LABELS_EN[status].lower()):
            return status
    return None


def roll_up(statuses: Iterable[LedgerStatus]) -> LedgerStatus:
    """An item's status from its measures': overdue if any is, done when all are (kept up
    if any must be), not started when none has begun, else in progress."""
    found = list(statuses)
    if not found:
        return LedgerStatus.NOT_STARTED
    if LedgerStatus.OVERDUE in found:
        return LedgerStatus.OVERDUE
    if all(s in DONE for s in found):
        if LedgerStatus.DONE_LONG_TERM in found:
            return LedgerStatus.DONE_LONG_TERM
        return LedgerStatus.DONE
    if all(s == LedgerStatus.NOT_STARTED for s in found):
        return LedgerStatus.NOT_STARTED
    return LedgerStatus.IN_PROGRESS


_DATE_TEXT: Final = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


class NotADate(ValueError):
    """A deadline cell that is no date."""


def parse_deadline(raw: object) -> date | None:
    """A deadline cell: a real date, or text ``2026-12-31``, ``2026/12/31``,
    ``2026年12月31日``; empty → ``None``.

    Raises:
        NotADate: anything else (a number, nonsense text, an impossible day).
    """
    if raw is None:
        return None
    if isinstance(raw, datetime):
        if raw.time() != datetime.min.time():
            raise NotADate(str(raw))
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        raise NotADate(str(raw))
    value = raw.strip()
    if not value:
        return None
    value = value.removesuffix(" 00:00:00")
    for pattern in _DATE_TEXT:
        found = pattern.match(value)
        if found:
            year, month, day = (int(g) for g in found.groups())
            try:
                return date(year, month, day)
            except ValueError as err:
                raise NotADate(value) from err
    raise NotADate(value)


def split_units(raw: str | None) -> list[str]:
    """Helper units written in one cell, split on 、，,；; and new lines."""
    parts = re.split(r"[、，,；;\n]+", raw or "")
    return [p.strip() for p in parts if p.strip()]


def iso_week(day: date) -> str:
    """The ISO week of ``day``, e.g. ``2026-W49`` (a snapshot is one per ledger and week)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def done_percent(done: int, total: int) -> float:
    """Done out of total, in percent with one decimal (0 of 0 is 0)."""
    return round(100.0 * done / total, 1) if total else 0.0


#: Milestones (时间节点) one item or measure may carry, and the length of one's text.
MAX_MILESTONES: Final = 50
MAX_MILESTONE_CHARS: Final = 500


class BadMilestone(ValueError):
    """A milestone that is none: ``key`` is the message, ``index`` its place (0-based)."""

    def __init__(self, index: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.index = index
        self.key = key
        self.values = values


def clean_milestones(raw: Iterable[tuple[object, object, object]]) -> list[dict[str, object]]:
    """Milestones ``(date, text, done)`` as kept: ``{"date": "2026-12-31", "text", "done"}``,
    in date order (a stable sort: same-day ones keep their order).

    Raises:
        BadMilestone: no date or not one, no text, text too long, too many.
    """
    out: list[tuple[date, str, bool]] = []
    for index, (day, text, done) in enumerate(raw):
        if index >= MAX_MILESTONES:
            raise BadMilestone(index, "at most {limit} milestones", limit=MAX_MILESTONES)
        try:
            when = parse_deadline(day.strip() if isinstance(day, str) else day)
        except NotADate:
            when = None
        if when is None:
            raise BadMilestone(index, "not a date: write 2026-12-31, 2026/12/31 or 2026年12月31日")
        words = text.strip() if isinstance(text, str) else ""
        if not words:
            raise BadMilestone(index, "a milestone needs its text")
        if len(words) > MAX_MILESTONE_CHARS:
            raise BadMilestone(index, "longer than {limit} characters", limit=MAX_MILESTONE_CHARS)
        out.append((when, words, bool(done)))
    out.sort(key=lambda m: m[0])
    return [{"date": d.isoformat(), "text": t, "done": f} for d, t, f in out]


_DONE_MARK: Final = re.compile(r"^\[(?P<mark>[ xX✓√])\]\s*")


def milestone_lines(raw: str) -> list[tuple[str, str, bool]]:
    """Milestones written one a line, as the ledger page's box takes them:
    ``[x] 2026-12-31 建立巡查台账`` (``[x]`` done, ``[ ]`` or nothing not done)."""
    out: list[tuple[str, str, bool]] = []
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        done = False
        found = _DONE_MARK.match(line)
        if found:
            done = found.group("mark").strip() != ""
            line = line[found.end() :]
        day, _, text = line.partition(" ")
        out.append((day, text, done))
    return out


def milestone_text(milestones: Iterable[dict[str, object]]) -> str:
    """Milestones back as the lines :func:`milestone_lines` reads."""
    return "\n".join(
        f"[{'x' if m.get('done') else ' '}] {m.get('date')} {m.get('text')}" for m in milestones
    )
