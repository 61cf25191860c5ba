"""Batched writes with a durability future per submission (group commit).

The gateway hands over the rows of one frame (or one read) and gets an :class:`asyncio.Future`
that resolves once the transaction holding them has committed, or carries the exception if it
failed; the 0x8001 acknowledgement is sent from that future's callback::

    writer = BatchWriter(storage, max_rows=1000, max_delay=0.05)
    fut = writer.submit_locations(rows)         # plain call, never blocks
    fut.add_done_callback(send_ack)             # fut.exception() -> answer result 1 instead
    ...
    await writer.close()                        # flushes every accepted row, then stops

One task writes. A batch is written when it holds ``max_rows`` rows or its oldest row is
``max_delay`` seconds old, whichever comes first; while a batch is being committed the next one
fills up, and when its oldest row arrived during that commit it is written as soon as the commit is
done (its rows have waited already), so under load batches grow by themselves and one commit follows
the other without a pause. ``max_delay=0`` writes whatever is queued as
soon as the writer is free (lowest latency, still batched under load). Submissions are never split
and keep their order; locations and events of one batch commit in one transaction
(:meth:`Storage.add_batch`).

Backpressure: at most ``max_pending`` rows wait. Past that a submission is not accepted: its future
fails at once with :class:`StorageOverloaded` (the platform answers "failure" and the terminal
resends later). Callers that can wait use ``await writer.wait_writable()``, which returns when the
queue has drained below half of ``max_pending``; ``writer.writable`` tells the same without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from jt808.storage.base import EventRow, LocationRow, Storage, StorageClosed, StorageOverloaded

__all__ = ["BatchWriter"]

log = logging.getLogger("jt808.storage")

_LOC, _EVT = 0, 1


class BatchWriter:
    """Collects location and event rows into batches and writes them with one task."""

    def __init__(self, storage: Storage, max_rows: int = 1000, max_delay: float = 0.05, *,
                 max_pending: int | None = None) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        if max_delay < 0:
            raise ValueError("max_delay must not be negative")
        self.storage = storage
        self.max_rows = max_rows
        self.max_delay = max_delay
        self.max_pending = max_pending if max_pending is not None else max(100 * max_rows, 10_000)
        # (kind, rows, future, enqueued_at)
        self._queue: deque[tuple[int, list[Any], asyncio.Future[None], float]] = deque()
        self._pending_rows = 0
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None  # set while pending rows < max_pending / 2
        self._in_flight: list[asyncio.Future[None]] = []
        # counters (exposed as metrics by the gateway)
        self.rows_written = 0
        self.batches_written = 0
        self.rows_failed = 0
        self.rows_refused = 0

    # -- submitting ------------------------------------------------------------------------------
    @property
    def pending_rows(self) -> int:
        """Rows accepted and not yet committed (queued plus the batch being written)."""
        return self._pending_rows

    @property
    def writable(self) -> bool:
        return not self._closed and self._pending_rows < self.max_pending

    def submit_locations(self, rows: list[LocationRow]) -> asyncio.Future[None]:
        """Queue ``rows`` (the list is the writer's from now on); the future resolves once they are durable."""
        return self._submit(_LOC, rows)

    def submit_events(self, rows: list[EventRow]) -> asyncio.Future[None]:
        return self._submit(_EVT, rows)

    def _submit(self, kind: int, rows: list[Any]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if self._closed:
            fut.set_exception(StorageClosed("the batch writer is closed"))
            return fut
        if not rows:
            fut.set_result(None)
            return fut
        if self._pending_rows >= self.max_pending:
            self.rows_refused += len(rows)
            fut.set_exception(StorageOverloaded(
                f"{self._pending_rows} rows are waiting for the database (limit {self.max_pending})"))
            return fut
        self._start(loop)
        queue = self._queue
        queue.append((kind, rows, fut, loop.time()))
        self._pending_rows += len(rows)
        if self._drained is not None and self._pending_rows >= self.max_pending // 2:
            self._drained.clear()
        # The writer needs waking only for the first row of a batch (it then waits for max_delay) or
        # once the batch is full: waking it for every submission cost a wake-up and a new timeout each.
        if len(queue) == 1 or self._pending_rows >= self.max_rows:
            self._wakeup.set()  # type: ignore[union-attr]
        return fut

    async def wait_writable(self) -> None:
        """Return once fewer than half of ``max_pending`` rows wait (at once if already so)."""
        if self._pending_rows < self.max_pending // 2 or self._closed:
            return
        if self._drained is None:
            self._drained = asyncio.Event()
        await self._drained.wait()

    # -- flushing and closing --------------------------------------------------------------------
    async def flush(self) -> None:
        """Wait until every row submitted before this call is committed (or has failed)."""
        waiting = [item[2] for item in self._queue] + list(self._in_flight)
        if not waiting:
            return
        if self._wakeup is not None:
            self._flush_now = True
            self._wakeup.set()
        await asyncio.wait(waiting)

    async def close(self) -> None:
        """Stop accepting rows, write everything accepted, stop the writer task."""
        self._closed = True
        if self._task is None:
            return
        if self._wakeup is not None:
            self._wakeup.set()
        try:
            await asyncio.shield(self._task)
        finally:
            if self._drained is not None:
                self._drained.set()

    async def __aenter__(self) -> BatchWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the writer task -------------------------------------------------------------------------
    _flush_now = False

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run(), name="jt808-batch-writer")

    async def _run(self) -> None:
        try:
            await self._loop()
        finally:  # cancelled (loop shutting down without close()): nobody may wait forever
            err = StorageClosed("the batch writer stopped before these rows were written")
            while self._queue:
                _, rows, fut, _ = self._queue.popleft()
                self._pending_rows -= len(rows)
                if not fut.done():
                    fut.set_exception(err)
            if self._drained is not None:
                self._drained.set()

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        wakeup = self._wakeup
        carried = False  # rows queued while the previous batch was committing
        while True:
            if not self._queue:
                if self._closed:
                    return
                wakeup.clear()
                await wakeup.wait()
                continue
            # wait for a full batch or for the oldest row to reach max_delay; rows that queued up during
            # the previous commit have waited already: they go now (pipelining, group commit)
            if self.max_delay > 0 and not self._closed and not self._flush_now and not carried:
                deadline = self._queue[0][3] + self.max_delay
                # nothing is in flight here, so the pending rows are the queued ones
                while (self._pending_rows < self.max_rows and not self._closed and not self._flush_now
                       and (remaining := deadline - loop.time()) > 0):
                    wakeup.clear()
                    try:
                        await asyncio.wait_for(wakeup.wait(), remaining)
                    except TimeoutError:
                        break
            self._flush_now = False
            started = loop.time()
            await self._write_one_batch()
            carried = bool(self._queue) and self._queue[0][3] >= started

    async def _write_one_batch(self) -> None:
        locations: list[LocationRow] = []
        events: list[EventRow] = []
        futures: list[asyncio.Future[None]] = []
        count = 0
        queue = self._queue
        while queue and count < self.max_rows:
            kind, rows, fut, _ = queue.popleft()
            (locations if kind == _LOC else events).extend(rows)
            futures.append(fut)
            count += len(rows)
        self._in_flight = futures
        error: BaseException | None = None
        try:
            await self.storage.add_batch(locations, events)
        except asyncio.CancelledError:
            error = StorageClosed("the batch writer was cancelled before the write committed")
            raise
        except Exception as e:
            error = e
            self.rows_failed += count
            log.error("storage: batch of %d rows failed: %s", count, e)
        else:
            self.rows_written += count
            self.batches_written += 1
        finally:
            self._in_flight = []
            self._pending_rows -= count
            if self._drained is not None and self._pending_rows < self.max_pending // 2:
                self._drained.set()
            for fut in futures:
                if not fut.done():
                    if error is None:
                        fut.set_result(None)
                    else:
                        fut.set_exception(error)
