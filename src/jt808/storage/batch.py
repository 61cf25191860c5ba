"""Batched writes with a durability future per submission (group commit).

The gateway hands over the rows of one frame (or one read) and gets an :class:`asyncio.Future`
that resolves once the transaction holding them has committed, or carries the exception if it
failed; the 0x8001 acknowledgement is sent from that future's callback::

    writer = BatchWriter(storage, max_rows=1000, max_delay=0.05)
    fut = writer.submit_locations(rows)         # plain call, never blocks
    fut.add_done_callback(send_ack)             # fut.exception() -> answer result 1 instead
    # (more submissions while the gateway runs)
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

Fault isolation: a batch that fails because of its content (a value the store does not accept) is
split in halves, and the halves again, until every row that can be stored is committed and only the
offending rows are left; each of those is kept in the quarantine (:meth:`Storage.add_quarantine`, with
the frame it came from when the submitter passed a ``context`` and the writer a ``frame_of``) and its
submission's future fails with :class:`RowsRejected` naming them (the gateway answers those messages
result 2 and the others result 0).

Outages: a write that fails with :class:`StorageUnavailable` turns the store's
:class:`~jt808.storage.health.StorageHealth` to failing (one log line); until the store answers again,
every row (queued or new) is refused at once with :class:`StorageUnavailable` (result 1: the terminal
sends it again) and the writer probes with :meth:`Storage.ping` on a backoff; one line is logged when it
answers. A write whose COMMIT lost its connection (:class:`StorageInDoubt`) is not answered until the
store tells whether it committed (:meth:`Storage.commit_status`, before anything else is written); if it
did, the same reports sent again by their terminals meanwhile are acknowledged without being stored a
second time (recognised by phone, message id, serial number and device time for ``DEDUP_SECONDS``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from jt808.storage.base import (
    EventRow,
    LocationRow,
    QuarantineRow,
    RowsRejected,
    Storage,
    StorageClosed,
    StorageInDoubt,
    StorageOverloaded,
    StorageUnavailable,
)
from jt808.storage.sanitize import error_text, row_json

__all__ = ["BatchWriter"]

log = logging.getLogger("jt808.storage")

_LOC, _EVT = 0, 1
DEDUP_SECONDS = 600.0  # how long reports of a write settled as committed are recognised when sent again


class BatchWriter:
    """Collects location and event rows into batches and writes them with one task."""

    def __init__(self, storage: Storage, max_rows: int = 1000, max_delay: float = 0.05, *,
                 max_pending: int | None = None,
                 frame_of: Callable[[Any, Any], bytes | None] | None = None) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        if max_delay < 0:
            raise ValueError("max_delay must not be negative")
        self.storage = storage
        self.max_rows = max_rows
        self.max_delay = max_delay
        self.max_pending = max_pending if max_pending is not None else max(100 * max_rows, 10_000)
        #: ``frame_of(context, row)``: the frame a rejected row came from (``context`` as submitted)
        self.frame_of = frame_of
        self.health = storage.health
        # (kind, rows, future, enqueued_at, context)
        self._queue: deque[tuple[int, list[Any], asyncio.Future[None], float, Any]] = deque()
        self._pending_rows = 0
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None  # set while pending rows < max_pending / 2
        self._in_flight: set[asyncio.Future[None]] = set()
        #: batches written at once: the store's ``write_concurrency`` (PostgreSQL: commits of several
        #: connections share the WAL flush; SQLite and memory: 1)
        self.concurrency = max(1, int(getattr(storage, "write_concurrency", 1)))
        self._writing: set[asyncio.Task[None]] = set()
        # counters (exposed as metrics by the gateway)
        self.rows_written = 0
        self.batches_written = 0
        self.rows_failed = 0  # rows whose write failed because the store was unavailable
        self.rows_refused = 0  # rows refused because the queue was full
        self.rows_unavailable = 0  # rows refused at once because the store is failing
        self.rows_rejected = 0  # rows refused because of their content (quarantined, or not if that failed)
        self.rows_quarantined = 0
        self.isolations = 0  # batches split to find the rows that made them fail
        self.rows_deduplicated = 0  # rows sent again after a write in doubt that had committed
        # writes whose COMMIT got no answer (connection lost): (token, submissions, rows), settled by _probe
        self._doubts: list[tuple[Any, list[Any], int]] = []
        self._sent_again: dict[tuple[Any, ...], float] = {}  # location keys of settled writes -> expiry

    # -- submitting ------------------------------------------------------------------------------
    @property
    def pending_rows(self) -> int:
        """Rows accepted and not yet committed (queued plus the batch being written)."""
        return self._pending_rows

    @property
    def writable(self) -> bool:
        return not self._closed and self._pending_rows < self.max_pending

    def submit_locations(self, rows: list[LocationRow], context: Any = None) -> asyncio.Future[None]:
        """Queue ``rows`` (the list is the writer's from now on); the future resolves once they are durable.

        ``context`` is handed to ``frame_of`` only if a row is rejected (the gateway passes the headers and body
        bytes of the read's stored messages)."""
        return self._submit(_LOC, rows, context)

    def submit_events(self, rows: list[EventRow], context: Any = None) -> asyncio.Future[None]:
        return self._submit(_EVT, rows, context)

    def _submit(self, kind: int, rows: list[Any], context: Any) -> asyncio.Future[None]:
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
        health = self.health
        if health.state != "ok":
            n = len(rows)
            self.rows_unavailable += n
            health.refused(n)
            fut.set_exception(StorageUnavailable(f"storage unavailable since {health.snapshot()['since']}: "
                                                 f"{health.reason}"))
            return fut
        self._start(loop)
        queue = self._queue
        queue.append((kind, rows, fut, loop.time(), context))
        self._pending_rows += len(rows)
        if self._drained is not None and self._pending_rows >= self.max_pending // 2:
            self._drained.clear()
        # The writer needs waking only for the first row of a batch (it then waits for max_delay) or
        # once the batch is full: waking it for every submission cost a wake-up and a new timeout each.
        if len(queue) == 1 or self._pending_rows >= self.max_rows:
            self._wakeup.set()  # type: ignore[union-attr]  # set while the writer runs
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
            for task in list(self._writing):
                task.cancel()
            err = StorageClosed("the batch writer stopped before these rows were written")
            for _, subs, _ in self._doubts:
                for sub in subs:
                    if not sub[2].done():
                        sub[2].set_exception(StorageClosed("the writer stopped before a write in doubt was settled"))
            self._doubts.clear()
            while self._queue:
                _, rows, fut, _, _ = self._queue.popleft()
                self._pending_rows -= len(rows)
                if not fut.done():
                    fut.set_exception(err)
            if self._drained is not None:
                self._drained.set()

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        wakeup = self._wakeup
        health = self.health
        carried = False  # rows queued while the previous batch was committing
        while True:
            if health.state != "ok":
                # failing: nothing is written; the store is probed (ping, then the writes in doubt) with a backoff
                self._refuse_queued()
                if self._closed:
                    return
                wakeup.clear()
                try:
                    await asyncio.wait_for(wakeup.wait(), health.retry_in())
                except TimeoutError:
                    await self._probe()
                continue
            if not self._queue:
                if self._closed:
                    if self._writing:
                        await asyncio.wait(list(self._writing))
                    return
                wakeup.clear()
                await wakeup.wait()
                continue
            if len(self._writing) >= self.concurrency:
                wakeup.clear()
                await wakeup.wait()  # set when a write finishes (or rows arrive)
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
            if self.concurrency == 1:
                await self._write_one_batch()
            else:  # the next batch may start while this one commits
                task = loop.create_task(self._write_one_batch())
                self._writing.add(task)
                task.add_done_callback(self._written)
                await asyncio.sleep(0)  # let it take its rows before deciding on the next batch
            carried = bool(self._queue) and self._queue[0][3] >= started

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("storage: batch writer failed: %r", task.exception())
        if self._wakeup is not None:
            self._wakeup.set()

    def _refuse_queued(self) -> None:
        health = self.health
        err = StorageUnavailable(f"storage unavailable since {health.snapshot()['since']}: {health.reason}")
        queue = self._queue
        while queue:
            _, rows, fut, _, _ = queue.popleft()
            n = len(rows)
            self._pending_rows -= n
            self.rows_unavailable += n
            health.refused(n)
            if not fut.done():
                fut.set_exception(err)
        if self._drained is not None:
            self._drained.set()

    async def _probe(self) -> None:
        """Ping the store; once it answers, settle the writes in doubt; only then is it ok again."""
        try:
            await self.storage.ping()
            while self._doubts:
                token, subs, count = self._doubts[0]
                committed = await self.storage.commit_status(token)
                if committed is None:  # the server still runs that transaction: ask again later
                    raise StorageUnavailable("a write of the outage is still in progress on the server")
                self._doubts.pop(0)
                self._settle(subs, count, committed)
        except StorageUnavailable as e:
            self.health.failed(str(e))
        except Exception as e:  # a store that cannot even answer a ping is not available
            self.health.failed(f"{type(e).__name__}: {e}")
        else:
            self.health.recovered()

    def _settle(self, subs: list[tuple[int, list[Any], asyncio.Future[None], float, Any]], count: int,
                committed: bool) -> None:
        """Answer a write whose commit was in doubt. Committed: its rows are durable, and the same reports sent
        again meanwhile (the terminals had no answer) are not stored twice (:attr:`_sent_again`)."""
        if committed:
            self.rows_written += count
            self.batches_written += 1
            until = asyncio.get_running_loop().time() + DEDUP_SECONDS
            for sub in subs:
                if sub[0] == _LOC:
                    for r in sub[1]:
                        self._sent_again[(r.phone, r.msg_id, r.msg_sn, r.time)] = until
        else:
            self.rows_failed += count
        err = StorageUnavailable("the database restarted before this write was confirmed; it was not stored")
        for sub in subs:
            fut = sub[2]
            if not fut.done():
                if committed:
                    fut.set_result(None)
                else:
                    fut.set_exception(err)

    def _drop_sent_again(self, subs: list[tuple[int, list[Any], asyncio.Future[None], float, Any]]) -> int:
        """Remove location rows stored already by a write that was in doubt; returns how many."""
        now = asyncio.get_running_loop().time()
        seen = self._sent_again
        for key in [k for k, until in seen.items() if until < now]:
            del seen[key]
        dropped = 0
        for sub in subs:
            if sub[0] == _LOC:
                rows = sub[1]
                keep = [r for r in rows if (r.phone, r.msg_id, r.msg_sn, r.time) not in seen]
                if len(keep) != len(rows):
                    dropped += len(rows) - len(keep)
                    rows[:] = keep
        self.rows_deduplicated += dropped
        return dropped

    async def _write_one_batch(self) -> None:
        locations: list[LocationRow] = []
        events: list[EventRow] = []
        subs: list[tuple[int, list[Any], asyncio.Future[None], float, Any]] = []
        count = 0
        queue = self._queue
        while queue and count < self.max_rows:
            sub = queue.popleft()
            (locations if sub[0] == _LOC else events).extend(sub[1])
            subs.append(sub)
            count += len(sub[1])
        if self._sent_again and self._drop_sent_again(subs):
            locations = [r for sub in subs if sub[0] == _LOC for r in sub[1]]
        mine = [sub[2] for sub in subs]
        self._in_flight.update(mine)
        outcome: dict[int, dict[int, tuple[str, bool]]] | None = None  # per submission: rows not stored
        error: BaseException | None = None
        health = self.health
        try:
            await self.storage.add_batch(locations, events)
        except asyncio.CancelledError:
            error = StorageClosed("the batch writer was cancelled before the write committed")
            raise
        except StorageInDoubt as e:  # the connection died during COMMIT: answered once the server tells
            self._doubts.append((e.token, subs, count))
            health.failed(str(e))
        except StorageUnavailable as e:
            error = e
            self.rows_failed += count
            health.failed(str(e))
        except Exception as e:  # the content (or an error we cannot tell): find the rows
            outcome = await self._isolate(subs, e)
        else:
            self.rows_written += count
            self.batches_written += 1
            if health.state != "ok" and not self._doubts:  # (a write in doubt is settled by _probe first)
                health.recovered()
        finally:
            self._in_flight.difference_update(mine)
            self._pending_rows -= count
            if self._drained is not None and self._pending_rows < self.max_pending // 2:
                self._drained.set()
            for i, sub in enumerate(subs):
                fut = sub[2]
                if fut.done() or (self._doubts and self._doubts[-1][1] is subs):
                    continue
                if outcome is not None:
                    failed = outcome.get(i)
                    if not failed:
                        fut.set_result(None)
                    else:
                        fut.set_exception(RowsRejected(failed, sub[1]))
                elif error is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(error)

    async def _isolate(self, subs: list[tuple[int, list[Any], asyncio.Future[None], float, Any]],
                       first: Exception) -> dict[int, dict[int, tuple[str, bool]]]:
        """Commit every row of a failed batch that can be stored: halves, then halves of the failing halves
        (each a transaction of its own), down to single rows. Returns the failed rows per submission as
        ``{index: (error, retry)}``: ``retry`` when the terminal should send the row again (the store became
        unavailable before it was tried, or the quarantine could not keep it)."""
        self.isolations += 1
        items = [(k, i, row) for k, sub in enumerate(subs) if sub[0] == _LOC for i, row in enumerate(sub[1])]
        items += [(k, i, row) for k, sub in enumerate(subs) if sub[0] == _EVT for i, row in enumerate(sub[1])]
        kinds = [sub[0] for sub in subs]
        failed: dict[int, dict[int, tuple[str, bool]]] = {}
        rejected: list[tuple[int, int, Exception]] = []
        stack = [items]
        err: Exception | None = first
        while stack:
            seg = stack.pop()
            if err is None:
                try:
                    await self.storage.add_batch([r for k, _, r in seg if kinds[k] == _LOC],
                                                 [r for k, _, r in seg if kinds[k] == _EVT])
                except StorageUnavailable as e:
                    self.health.failed(str(e))
                    untried = [*seg, *(item for s in stack for item in s)]
                    self.rows_failed += len(untried)
                    for k, i, _ in untried:
                        failed.setdefault(k, {})[i] = (error_text(e), True)
                    break
                except Exception as e:
                    err = e
                else:
                    self.rows_written += len(seg)
                    self.batches_written += 1
                    continue
            if len(seg) == 1:
                k, i, _ = seg[0]
                rejected.append((k, i, err))
            else:
                half = len(seg) // 2
                stack.append(seg[half:])
                stack.append(seg[:half])
            err = None
        if rejected:
            kept = await self._quarantine([(subs[k], i, exc) for k, i, exc in rejected])
            for k, i, exc in rejected:
                failed.setdefault(k, {})[i] = (error_text(exc), not kept)
        return failed

    async def _quarantine(self, rejected: list[tuple[Any, int, Exception]]) -> bool:
        """Keep rejected rows in the quarantine; False if that failed too."""
        self.rows_rejected += len(rejected)
        qrows = []
        for sub, i, e in rejected:
            row = sub[1][i]
            frame = None
            if self.frame_of is not None and sub[4] is not None:
                try:
                    frame = self.frame_of(sub[4], row)
                except Exception:  # the frame is a courtesy: the row and its error are kept regardless
                    frame = None
            qrows.append(QuarantineRow(row.phone, "location" if sub[0] == _LOC else "event", row.msg_id,
                                       row.msg_sn, row.received_at, error_text(e), row_json(row), frame))
        try:
            await self.storage.add_quarantine(qrows)
        except Exception as e:
            log.error("storage: %d rejected row(s) could not be quarantined either (%s): answered result 1",
                      len(qrows), error_text(e))
            return False
        self.rows_quarantined += len(qrows)
        first = qrows[0]
        log.warning("storage: %d row(s) rejected for their content and quarantined (first: phone=%s 0x%04X "
                    "sn=%d: %s)", len(qrows), first.phone, first.msg_id, first.msg_sn, first.error)
        return True
