"""Rate limits, pure and in-process: token buckets and a growing delay after failures.

Each server process keeps its own counters (nothing is written per request). With
several processes or nodes behind a balancer, each applies the limits on its own, so a
client spread over N of them gets up to N times the rate: size the numbers for that, or
pin clients to a node (by IP) at the balancer. A limit shared across nodes would need a
shared counter (a table in the database, or a cache); Duban does not keep one, on purpose
— a database that is slow or down must not make every request slower or fail.

The memory is bounded: each limiter keeps at most ``max_keys`` keys and forgets the
oldest first (an attacker rotating addresses can only make it forget, not grow).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

_UNITS: Final = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE_RE: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``seconds`` (a burst of ``count``, refilled evenly)."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"30/hour"``, ``"5/10 minutes"``, ``"100/day"``; ValueError otherwise."""
        found = _RATE_RE.match(str(text))
        if found is None:
            raise ValueError(f"a rate is written like '30/hour' or '5/10 minutes', not {text!r}")
        count, many, unit = int(found[1]), int(found[2] or 1), found[3]
        if count < 1 or many < 1:
            raise ValueError(f"a rate needs a positive count and period, not {text!r}")
        return cls(count, float(many * _UNITS[unit]))


class TokenBuckets:
    """One token bucket per key: ``take`` spends a token or says how long to wait."""

    def __init__(
        self,
        rate: Rate,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str) -> float:
        """Spend one token of ``key``: 0.0 if allowed, else the seconds until one is back."""
        now = self._clock()
        per_second = self.rate.count / self.rate.seconds
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.rate.count), now))
            tokens = min(float(self.rate.count), tokens + (now - at) * per_second)
            if tokens >= 1.0:
                wait = 0.0
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return wait


@dataclass(frozen=True)
class Backoff:
    """After ``free`` failures, each further try waits ``base`` seconds, doubled per
    failure, at most ``cap``; forgotten after ``forget`` seconds without a failure."""

    free: int = 5
    base: float = 1.0
    cap: float = 900.0
    forget: float = 3600.0


class FailureDelays:
    """A growing delay per key after failed attempts (passwords): a success clears it."""

    def __init__(
        self,
        backoff: Backoff,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, last

    def _delay(self, count: int) -> float:
        over = count - self.backoff.free
        if over < 0:
            return 0.0
        return float(min(self.backoff.cap, self.backoff.base * 2.0 ** min(over, 60)))

    def wait(self, key: str) -> float:
        """Seconds ``key`` must still wait before it may try again (0.0: now)."""
        now = self._clock()
        with self._lock:
            found = self._failures.get(key)
            if found is None:
                return 0.0
            count, last = found
            if now - last > self.backoff.forget:
                del self._failures[key]
                return 0.0
            return max(0.0, last + self._delay(count) - now)

    def failed(self, key: str) -> None:
        """Record a failure of ``key``."""
        now = self._clock()
        with self._lock:
            count, last = self._failures.pop(key, (0, now))
            if now - last > self.backoff.forget:
                count = 0
            self._failures[key] = (count + 1, now)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._lock:
            self._failures.pop(key, None)


def retry_after(seconds: float) -> int:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))
