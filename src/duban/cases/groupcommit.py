"""Group commit of reports on a server process's event loop.

A report costs little CPU but needs a commit: on SQLite a turn of the database's one
write lock (its WAL append costs more than the rows), on PostgreSQL round trips and a
flush of the WAL to disk. When reports arrive together — a busy hotline hour, a partner
system's batch, the benchmark's eight clients — those that reach the event loop
together are checked each on its own and the good ones written in one transaction
(:mod:`duban.cases.reportbatch`); a report that fails its checks fails alone, and a
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
import contextlib
import functools
import inspect
import logging
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from duban.cases.intake import PreparedReport, WrittenReport
from duban.cases.reportbatch import (
    Outcome,
    ReferenceDataMoved,
    ReportRequest,
    is_duplicate_key,
    load_refs,
    prepare_batch,
    report_batch,
    report_batch_async,
    write_batch,
)
from duban.kernel.context import Clock
from duban.kernel.db.session import WriteLockBusy, write_gate
from duban.kernel.errors import DubanError

#: At most this many reports in one transaction (the loop is busy for its length).
MAX_BATCH: Final = 32
#: How long the event loop waits for the write lock before handing the batch to a thread.
LOCK_WAIT_SECONDS: Final = 0.1
#: PostgreSQL: at most this many batches are written at once, each on its own connection
#: (bench/intake.py, 2 workers: 1 writer 398-432 cases/s, 2 writers 425-493, 3 389-396,
#: 4 336-414: more writers make smaller batches that queue for the day's counter row).
PG_WRITERS: Final = 2
#: How soon a waiting flush looks at SQLite's write gate again. uvloop runs a timer this
#: short on the loop's next turn, after it has polled its sockets: the loop serves the
#: requests that came in (they join the waiting batch) and looks again (measured: a
#: 1 ms timer, which lets the gate sit free for up to a millisecond, was no better).
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
    #: PostgreSQL: how many batches are being written (at most PG_WRITERS at once).
    writers: int = 0
    #: PostgreSQL: this loop's connections for reports not in use, and the tasks that
    #: close them when the loop ends.
    idle: list[Any] = field(default_factory=list)
    keepers: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    #: SQLite: this loop's connection (a pool's, returned when the loop ends).
    sqlite: Any = None


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
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues.setdefault(loop, _Queue())
        prepared = None
        if self._gate is not None:  # SQLite: checked now, written with the next batch
            checked = None
            for load in (False, True):
                try:
                    with self._sqlite(loop, queue) as connection:
                        checked = prepare_batch(
                            self.engine,
                            self.clock,
                            [request],
                            dbapi_connection=connection,
                            load=load,
                        )
                    break
                except ReferenceDataMoved:
                    await self._load_refs(loop)
            assert checked is not None
            if not checked.ready:
                return checked.outcomes[0]
            prepared = checked.ready[0][1]
        future: asyncio.Future[Outcome] = loop.create_future()
        queue.items.append(_Item(request, future, prepared))
        if not queue.flush_scheduled:
            queue.flush_scheduled = True
            loop.call_soon(self._flush, loop, queue)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        queue.flush_scheduled = False
        if self._gate is None:  # PostgreSQL: one writer task per loop, batch after batch
            if queue.writers < PG_WRITERS:
                queue.writers += 1
                loop.create_task(self._write_pg(loop, queue))
            return
        if not self._gate.acquire(0, strict=True):
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
            self._gate.release()
            return
        try:
            outcomes = self._write_prepared(loop, queue, batch)
        except Exception as err:
            self._write_failed(loop, batch, err)
            return
        self._deliver(batch, outcomes)

    async def _write_pg(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        """Write the queue's reports batch by batch until it is empty. A few writers run
        at once, each on a connection of its own: on a busy loop each batch waits its
        turn to resume after every round trip, and one writer alone would make every
        batch wait for the one before."""
        try:
            while queue.items:
                batch = self._pop_batch(queue)
                if not batch:
                    continue
                connection = None
                try:
                    connection = await self._connection(loop, queue)
                    try:
                        outcomes = await report_batch_async(
                            connection,
                            self.engine,
                            self.clock,
                            [i.request for i in batch],
                            load=False,
                        )
                    except ReferenceDataMoved:
                        await self._load_refs(loop)
                        outcomes = await report_batch_async(
                            connection, self.engine, self.clock, [i.request for i in batch]
                        )
                except Exception as err:
                    self._write_failed(loop, batch, err)
                    continue
                finally:
                    if connection is not None:
                        await self._release(queue, connection)
                if outcomes is None:  # refused by a unique key: each report alone
                    loop.create_task(self._write_in_thread(loop, batch))
                    continue
                self._deliver(batch, outcomes)
        finally:
            queue.writers -= 1

    async def _load_refs(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload the reference data an admin changed, in a worker thread (rebuilding a
        city's map takes a second or so; the loop goes on meanwhile)."""
        await loop.run_in_executor(None, load_refs, self.engine)

    async def _connection(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> Any:
        """An idle asyncio connection of this loop to PostgreSQL, or a new one (in
        autocommit, each statement its own transaction; with ``lock_wait`` as its lock
        timeout). A task holds each and closes it when the loop shuts down."""
        while queue.idle:
            connection = queue.idle.pop()
            if not connection.closed and not connection.broken:
                return connection
            await self._close(queue, connection)
        import psycopg  # deferred: only PostgreSQL needs it

        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        connection = await psycopg.AsyncConnection.connect(*args, **kwargs, autocommit=True)
        # These connections write reports only: the loop waits for a lock this long.
        await connection.execute(f"SET lock_timeout = '{max(1, round(self.lock_wait * 1000))}ms'")
        queue.keepers[id(connection)] = loop.create_task(_close_at_shutdown(connection))
        return connection

    async def _release(self, queue: _Queue, connection: Any) -> None:
        """Back to the idle ones, unless it is broken or not idle (then closed)."""
        import psycopg

        idle = psycopg.pq.TransactionStatus.IDLE
        if connection.closed or connection.broken or connection.info.transaction_status != idle:
            await self._close(queue, connection)
        else:
            queue.idle.append(connection)

    async def _close(self, queue: _Queue, connection: Any) -> None:
        keeper = queue.keepers.pop(id(connection), None)
        if keeper is not None:
            keeper.cancel()
        if not connection.closed:
            with contextlib.suppress(Exception):
                await connection.close()

    async def aclose(self) -> None:
        """Close this loop's connections (the app's shutdown; the loop's end does it too)."""
        queue = self._queues.get(asyncio.get_running_loop())
        while queue is not None and queue.idle:
            await self._close(queue, queue.idle.pop())

    def _pop_batch(self, queue: _Queue) -> list[_Item]:
        """Up to ``max_batch`` reports off the front of the queue, but those whose
        requests have gone (a client that hung up)."""
        batch = [i for i in queue.items[: self.max_batch] if not i.future.done()]
        del queue.items[: self.max_batch]
        return batch

    def _take(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> list[_Item]:
        """The next batch off the queue (a flush is scheduled for the rest)."""
        batch = self._pop_batch(queue)
        if queue.items and not queue.flush_scheduled:
            queue.flush_scheduled = True
            loop.call_soon(self._flush, loop, queue)
        return batch

    @contextlib.contextmanager
    def _sqlite(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> Iterator[Any]:
        """This loop's SQLite connection (one for all its reads and writes: no trip to
        the pool per report), held until the loop ends; dropped after an error."""
        if queue.sqlite is None:
            queue.sqlite = self.engine.raw_connection()
            queue.keepers[id(queue.sqlite)] = loop.create_task(_close_at_shutdown(queue.sqlite))
        raw = queue.sqlite
        try:
            yield raw.driver_connection
        except DubanError:
            raise
        except BaseException:
            queue.sqlite = None
            keeper = queue.keepers.pop(id(raw), None)
            if keeper is not None:
                keeper.cancel()  # and so closes it
            raise

    def _write_prepared(
        self, loop: asyncio.AbstractEventLoop, queue: _Queue, batch: list[_Item]
    ) -> list[Outcome]:
        """SQLite, gate held: write the reports checked on arrival (the write ends the
        turn). A write refused by a unique key is redone report by report."""
        reports = [i.prepared for i in batch if i.prepared is not None]
        assert len(reports) == len(batch), "on SQLite every report is checked on arrival"
        try:
            with self._sqlite(loop, queue) as connection:
                written = write_batch(
                    self.engine, reports, lock_held=True, dbapi_connection=connection
                )
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

    def _write_failed(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Item], err: Exception
    ) -> None:
        """A batch written on the loop did not commit: past a busy write lock it goes to a
        thread that waits for the lock; any other failure is every report's answer (never
        lost, never left waiting)."""
        if isinstance(err, WriteLockBusy):
            self.deferred += 1
            loop.create_task(self._write_in_thread(loop, batch))
            return
        _log.debug("a batch of %d reports failed", len(batch), exc_info=True)
        _fail(batch, err)

    def _deliver(self, batch: list[_Item], outcomes: list[Outcome]) -> None:
        written = sum(isinstance(o, WrittenReport) for o in outcomes)
        if written:
            self.batches += 1
            self.reports += written
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.done():
                item.future.set_result(outcome)


async def _close_at_shutdown(connection: Any) -> None:
    """Wait until the loop shuts down (it cancels every task) or the connection is
    dropped (its keeper cancelled), then close ``connection`` (asyncio's or the pool's)."""
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            closed = connection.close()
            if inspect.isawaitable(closed):
                await closed


def _fail(batch: list[_Item], err: Exception) -> None:
    for item in batch:
        if not item.future.done():
            item.future.set_exception(err)
