"""Change stamps (store/stamps.py): a change always moves its stamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from duban.kernel.db.stamps import next_stamp

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_a_change_within_one_tick_still_moves_the_stamp() -> None:
    assert next_stamp(None, AT) == AT
    assert next_stamp(AT - timedelta(seconds=1), AT) == AT
    # The same instant (a fixed clock, a coarse one): strictly later all the same.
    assert next_stamp(AT, AT) == AT + timedelta(microseconds=1)
    assert next_stamp(AT + timedelta(hours=1), AT) == AT + timedelta(hours=1, microseconds=1)
