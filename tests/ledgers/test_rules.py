"""The ledgers' pure rules: statuses, their roll-up, dates written in a sheet, the catalogue."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from duban.ledgers.messages import ZH, text
from duban.ledgers.rules import (
    LedgerStatus,
    NotADate,
    iso_week,
    parse_deadline,
    parse_status,
    roll_up,
)

S = LedgerStatus


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-31", date(2026, 12, 31)),
        ("2026年12月31日", date(2026, 12, 31)),
        ("2026/12/31", date(2026, 12, 31)),
        ("2026/3/1", date(2026, 3, 1)),
        (" 2026-12-31 ", date(2026, 12, 31)),
        (datetime(2026, 12, 31), date(2026, 12, 31)),  # noqa: DTZ001 -- as openpyxl reads it
        (date(2026, 12, 31), date(2026, 12, 31)),
        (None, None),
        ("", None),
    ],
)
def test_deadlines_in_the_forms_people_write(raw: object, expected: date | None) -> None:
    assert parse_deadline(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["年底前", "2026-13-01", "2026-02-30", "31/12/2026", "next week", 46387, 3.5, "2026年12月"],
)
def test_nonsense_is_no_date(raw: object) -> None:
    with pytest.raises(NotADate):
        parse_deadline(raw)


def test_statuses_by_their_chinese_or_english_names() -> None:
    assert parse_status("") == S.NOT_STARTED
    assert parse_status("已整改需长期坚持") == S.DONE_LONG_TERM
    assert parse_status("in progress") == S.IN_PROGRESS
    assert parse_status("差不多了") is None


def test_an_item_rolls_up_its_measures() -> None:
    assert roll_up([]) == S.NOT_STARTED
    assert roll_up([S.NOT_STARTED, S.NOT_STARTED]) == S.NOT_STARTED
    assert roll_up([S.NOT_STARTED, S.DONE]) == S.IN_PROGRESS
    assert roll_up([S.DONE, S.DONE]) == S.DONE
    assert roll_up([S.DONE, S.DONE_LONG_TERM]) == S.DONE_LONG_TERM
    assert roll_up([S.DONE, S.OVERDUE]) == S.OVERDUE


def test_weeks_are_iso_weeks() -> None:
    assert iso_week(date(2026, 11, 23)) == "2026-W48"
    assert iso_week(date(2027, 1, 1)) == "2026-W53"


def test_every_message_has_its_chinese() -> None:
    import re
    from pathlib import Path

    import duban.ledgers

    folder = Path(duban.ledgers.__file__).parent
    source = "".join(p.read_text("utf-8") for p in folder.glob("*.py") if p.name != "messages.py")
    used = set(re.findall(r'\btext\(\s*"([^"]+)"', source))
    used |= set(re.findall(r'CellError\([^"]*?"([^"]+)"', source))
    used |= set(re.findall(r'FileRefused\(\s*"([^"]+)"', source))
    used |= set(re.findall(r'BadMilestone\([^"]*?"([^"]+)"', source))
    assert len(used) > 20
    missing = sorted(k for k in used if k not in ZH)
    assert not missing
    assert text("no ledger {id}", "zh", id=3) == "台账 3 不存在"
