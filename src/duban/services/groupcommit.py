"""Group commit of reports on a server process's event loop.

A report costs little CPU but needs a commit: on SQLite a turn of the database's one
write lock (its WAL append costs more than the rows), on PostgreSQL round trips and a
flush of the WAL to disk. When reports arrive together — a busy hotline hour, a partner
system's batch, the benchmark's eight clients — those that reach the event loop
together are checked each on its own and the good ones written in one transaction
(:mod:`duban.services.newcases`); a report that fails its checks fails alone, and a
write refused by a unique key is redone report by report.

Nobody waits for a batch to fill: a flush is scheduled on the loop right behind the
requests already running and takes whatever is queued by then, so a report that
arrives alone is written at once.

The work runs on the event loop itself, not in a thread: it is a millisecond or two of
CPU, and a worker thread beside a busy event loop spends longer waiting for Python's
interpreter lock after every database call than the calls take (``bench/intake.py``;
the database's write lock was then held across those waits). How the two stores wait:

* SQLite: a report is checked as it arrives (the reads are in-process and cheap), and
  the flush takes the database's write gate only if it is free. While another process
  holds it, the loop goes on taking requests, which join the batch that is waiting, so
  the busier the database the larger the batches.
* PostgreSQL: the flush checks the batch and writes it in two round trips.

So that the loop never sits behind a long transaction (an import, a migration), the
write lock is waited for only briefly there (``lock_wait``); past that, the batch is
written in a worker thread, which waits as long as it must, while the loop goes on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from duban.services.context import Clock
from duban.services.newcases import (
    Outcome,
    PreparedReport,
    ReportRequest,
    WrittenReport,
    is_duplicate_key,
    prepare_batch,
    report_batch,
    write_batch,
)
from duban.store.session import WriteLockBusy, write_gate

#: At most this many reports in one transaction (the loop is busy for its length).
MAX_BATCH: Final = 32
#: How long the event loop waits for the write lock before handing the batch to a thread.
LOCK_WAIT_SECONDS: Final = 0.1
#: How often a waiting flush looks at SQLite's write gate again (the loop serves requests
#: in between; event loops time in whole milliseconds).
GATE_POLL_SECONDS: Final = 0.0005

_log = logging.getLogger(__name__)


@dataclass
class _Item:
    request: ReportRequest
    future: asyncio.Future[Outcome]
    #: SQLite: the report as checked on arrival.
    prepared: PreparedReport | None = None


@dataclass
class _Queue:
    """The reports waiting on one event loop."""

    items: list[_Item] = field(default_factory=list)
    flush_scheduled: bool = False
    #: When the flush first found SQLite's write gate busy (monotonic seconds).
    waiting_since: float | None = None


class ReportBatcher:
    """Writes the reports of one server process, batched on its event loop."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        max_batch: int = MAX_BATCH,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.max_batch = max_batch
        self.lock_wait = lock_wait
        self._gate = write_gate(engine)
        # One queue per event loop (an app normally runs on one; tests start several).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = (
            weakref.WeakKeyDictionary()
        )
        #: How many reports were written, in how many transactions (tests read it).
        self.batches = 0
        self.reports = 0
        #: How many batches found the write lock busy for long and went to a thread.
        self.deferred = 0

    async def report(self, request: ReportRequest) -> Outcome:
        """Queue a report and wait for its outcome (raises what stopped its batch)."""
        prepared = None
        if self._gate is not None:  # SQLite: checked now, written with the next batch
            checked = prepare_batch(self.engine, self.clock, [request])
            if not checked.ready:
                return checked.outcomes[0]
            prepared = checked.ready[0][1]
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues.setdefault(loop, _Queue())
        future: asyncio.Future[Outcome] = loop.create_future()
        queue.items.append(_Item(request, future, prepared))
        if not queue.flush_scheduled:
            queue.flush_scheduled = True
            loop.call_soon(self._flush, loop, queue)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        queue.flush_scheduled = False
        if self._gate is not None and not self._gate.acquire(0, strict=True):
            # Another process is writing: look again shortly, serving requests meanwhile
            # (they join this batch); past lock_wait the batch goes to a thread.
            now = time.monotonic()
            if queue.waiting_since is None:
                queue.waiting_since = now
            if now - queue.waiting_since < self.lock_wait:
                queue.flush_scheduled = True
                loop.call_later(GATE_POLL_SECONDS, self._flush, loop, queue)
                return
            queue.waiting_since = None
            batch = self._take(loop, queue)
            self.deferred += 1
            loop.create_task(self._write_in_thread(loop, batch))
            return
        queue.waiting_since = None
        batch = self._take(loop, queue)
        if not batch:
            if self._gate is not None:
                self._gate.release()
            return
        try:
            if self._gate is not None:
                outcomes = self._write_prepared(batch)
            else:
                outcomes = report_batch(
                    self.engine, self.clock, [i.request for i in batch], lock_wait=self.lock_wait
                )
        except WriteLockBusy:
            self.deferred += 1
            loop.create_task(self._write_in_thread(loop, batch))
            return
        except Exception as err:  # the batch's answer, whatever it is: never lost
            _log.debug("a batch of %d reports failed", len(batch), exc_info=True)
            _fail(batch, err)
            return
        self._deliver(batch, outcomes)

    def _take(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> list[_Item]:
        """The next batch off the queue (a flush is scheduled for the rest)."""
        batch = [i for i in queue.items[: self.max_batch] if not i.future.done()]
        del queue.items[: self.max_batch]
        if queue.items and not queue.flush_scheduled:
            queue.flush_scheduled = True
            loop.call_soon(self._flush, loop, queue)
        return batch

    def _write_prepared(self, batch: list[_Item]) -> list[Outcome]:
        """SQLite, gate held: write the reports checked on arrival (the write ends the
        turn). A write refused by a unique key is redone report by report."""
        reports = [i.prepared for i in batch if i.prepared is not None]
        assert len(reports) == len(batch), "on SQLite every report is checked on arrival"
        try:
            written = write_batch(self.engine, reports, lock_held=True)
        except DBAPIError as err:
            if not is_duplicate_key(err, self.engine):
                raise
            if len(batch) == 1:
                return [None]  # a retried key: report_case replays the first case
            return [
                report_batch(self.engine, self.clock, [i.request], lock_wait=self.lock_wait)[0]
                for i in batch
            ]
        return list(written)

    async def _write_in_thread(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        """The batch again, in a worker thread that waits for the write lock."""
        try:
            outcomes = await loop.run_in_executor(
                None,
                functools.partial(
                    report_batch, self.engine, self.clock, [i.request for i in batch]
                ),
            )
        except Exception as err:
            _fail(batch, err)
            return
        self._deliver(batch, outcomes)

    def _deliver(self, batch: list[_Item], outcomes: list[Outcome]) -> None:
        written = sum(isinstance(o, WrittenReport) for o in outcomes)
        if written:
            self.batches += 1
            self.reports += written
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.done():
                item.future.set_result(outcome)


def _fail(batch: list[_Item], err: Exception) -> None:
    for item in batch:
        if not item.future.done():
            item.future.set_exception(err)
