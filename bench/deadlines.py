"""Benchmark: deadline arithmetic on the working calendar.

    python bench/deadlines.py [--n 20000]

Times, per call, on a calendar parsed once (as a policy load does):

  (a) ``due_at`` of a 3-work-day limit from moments spread over 2026 and 2027 (the
      official year and the provisional one, across 元旦 and 春节);
  (b) ``fraction_used`` of the same limit (what every traffic light on a page costs);
  (c) ``working_seconds_between`` over spans of up to two years (the prefix sums);
  (d) parsing the calendar and its first look at both years (once per policy change).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

try:
    from duban.reference.calendar import TimeLimit, WorkingCalendar
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from duban.reference.calendar import TimeLimit, WorkingCalendar

START = datetime(2025, 12, 20, tzinfo=UTC)
SPAN_S = 500 * 86_400


def _per_call(label: str, calls: int, run: Callable[[], None]) -> None:
    began = time.perf_counter()
    run()
    elapsed = time.perf_counter() - began
    print(f"{label:<44} {elapsed / calls * 1e6:8.2f} µs/call  ({calls} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    moments = [START + timedelta(seconds=rng.uniform(0, SPAN_S)) for _ in range(args.n)]
    later = [m + timedelta(seconds=rng.uniform(0, 2 * 365 * 86_400)) for m in moments]
    limit = TimeLimit.parse("3 work_days")

    began = time.perf_counter()
    calendar = WorkingCalendar.from_mapping({"holidays": ["2026-05-06"]})
    calendar.due_at(datetime(2026, 1, 5, tzinfo=UTC), limit)
    calendar.due_at(datetime(2027, 1, 5, tzinfo=UTC), limit)
    calendar.working_seconds_between(START, START + timedelta(days=800))
    print(
        f"{'(d) parse + first look at 2025–2028':<44} {(time.perf_counter() - began) * 1e3:8.2f} ms"
    )

    _per_call(
        "(a) due_at, 3 work days", args.n, lambda: [calendar.due_at(m, limit) for m in moments]
    )
    _per_call(
        "(b) fraction_used, 3 work days",
        args.n,
        lambda: [calendar.fraction_used(m, m + timedelta(days=2), limit) for m in moments],
    )
    _per_call(
        "(c) working_seconds_between, up to 2 years",
        args.n,
        lambda: [
            calendar.working_seconds_between(a, b) for a, b in zip(moments, later, strict=True)
        ],
    )


if __name__ == "__main__":
    main()
