"""BatchWriter: durability futures, batching by count and age, order, close-flush, failures, backpressure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from jt808.storage import (
    EventRow,
    LocationRow,
    RowsRejected,
    Storage,
    StorageClosed,
    StorageInDoubt,
    StorageOverloaded,
    StorageUnavailable,
)
from jt808.storage.batch import BatchWriter
from jt808.storage.memory import MemoryStorage

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def rows(phone: str, first: int, n: int) -> list[LocationRow]:
    return [LocationRow(phone=phone, time=T0 + timedelta(seconds=first + i), received_at=T0, alarm=0, status=0,
                        latitude=1.0, longitude=2.0, altitude=0, speed=0.0, direction=0, msg_sn=first + i)
            for i in range(n)]


class Recording(MemoryStorage):
    """Memory storage that records batch sizes and can be told to fail or stall."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, int]] = []
        self.fail_next = 0
        self.gate: asyncio.Event | None = None

    async def add_batch(self, locations: list[LocationRow], events: list[EventRow]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise StorageUnavailable("disk full")
        self.batches.append((len(locations), len(events)))
        await super().add_batch(locations, events)


@pytest.fixture
async def mem() -> Recording:
    st = Recording()
    await st.open()
    return st


async def test_future_resolves_only_after_commit(mem: Recording) -> None:
    mem.gate = asyncio.Event()
    w = BatchWriter(mem, max_rows=10, max_delay=0)
    fut = w.submit_locations(rows("A", 0, 3))
    await asyncio.sleep(0.02)
    assert not fut.done()
    assert await mem.query_locations("A") == []
    mem.gate.set()
    await asyncio.wait_for(fut, 1)
    assert len(await mem.query_locations("A")) == 3
    await w.close()


async def test_batches_by_count(mem: Recording) -> None:
    w = BatchWriter(mem, max_rows=100, max_delay=10.0)  # age never triggers within the test
    futs = [w.submit_locations(rows("A", i * 10, 10)) for i in range(25)]
    await asyncio.wait_for(asyncio.gather(*futs[:20]), 2)
    assert mem.batches == [(100, 0), (100, 0)]
    assert not futs[-1].done()  # 50 rows left wait for more rows or for their age
    await w.close()
    assert mem.batches == [(100, 0), (100, 0), (50, 0)]
    assert w.rows_written == 250 and w.batches_written == 3


async def test_batches_by_age(mem: Recording) -> None:
    w = BatchWriter(mem, max_rows=1000, max_delay=0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    fut = w.submit_locations(rows("A", 0, 1))
    w.submit_locations(rows("A", 1, 1))
    await asyncio.wait_for(fut, 10)  # (a bound for a hung writer, not a measurement)
    # written because the oldest row reached its age: never before max_delay (however slow the machine)
    assert loop.time() - start >= 0.05 - 0.005  # (the loop clock's resolution)
    assert mem.batches == [(2, 0)]
    await w.close()


async def test_order_is_kept_across_batches(mem: Recording) -> None:
    w = BatchWriter(mem, max_rows=7, max_delay=0)
    futs = [w.submit_locations(rows("A", i * 3, 3)) for i in range(20)]
    futs.append(w.submit_events([EventRow("A", 0x0301, T0, {"i": i}, i) for i in range(4)]))
    await asyncio.gather(*futs)
    got = await mem.query_locations("A", limit=1000)
    assert [r.msg_sn for r in got] == list(range(60))
    # every batch holds whole submissions, in submission order
    assert all(n <= 9 for n, _ in mem.batches)
    assert sum(n for n, _ in mem.batches) == 60
    assert [e.msg_sn for e in await mem.query_events("A")] == [0, 1, 2, 3]
    await w.close()


async def test_locations_and_events_commit_together(mem: Recording) -> None:
    w = BatchWriter(mem, max_rows=100, max_delay=0.01)
    a = w.submit_locations(rows("A", 0, 2))
    b = w.submit_events([EventRow("A", 0x0002, T0, {})])
    await asyncio.gather(a, b)
    assert mem.batches == [(2, 1)]
    await w.close()


async def test_close_flushes_every_accepted_row(mem: Recording) -> None:
    w = BatchWriter(mem, max_rows=50, max_delay=60.0)
    futs = [w.submit_locations(rows("A", i * 10, 10)) for i in range(33)]
    await w.close()
    assert all(f.done() and f.exception() is None for f in futs)
    assert len(await mem.query_locations("A", limit=10_000)) == 330
    late = w.submit_locations(rows("A", 999, 1))
    with pytest.raises(StorageClosed):
        await late
    await w.close()  # idempotent


async def test_flush_waits_for_earlier_rows(mem: Recording) -> None:
    w = BatchWriter(mem, max_rows=1000, max_delay=60.0)
    futs = [w.submit_locations(rows("A", i, 1)) for i in range(5)]
    await asyncio.wait_for(w.flush(), 1)
    assert all(f.done() for f in futs)
    assert len(await mem.query_locations("A")) == 5
    await w.flush()  # nothing pending
    await w.close()


async def test_outage_fails_the_batch_and_refuses_until_a_retry_succeeds(mem: Recording) -> None:
    mem.health.retry_min = 0.05
    mem.fail_next = 1
    w = BatchWriter(mem, max_rows=4, max_delay=0)
    mem.gate = asyncio.Event()
    f1 = w.submit_locations(rows("A", 0, 4))  # first batch: the store is unavailable
    f2 = w.submit_locations(rows("A", 4, 4))  # queued before the outage was known: refused, not tried
    mem.gate.set()
    with pytest.raises(StorageUnavailable, match="disk full"):
        await f1
    with pytest.raises(StorageUnavailable, match="disk full"):
        await f2
    assert not mem.health.ok and mem.health.snapshot()["reason"].endswith("disk full")
    with pytest.raises(StorageUnavailable):  # within the backoff: refused at once
        await w.submit_locations(rows("A", 8, 1))
    assert w.rows_failed == 4 and w.rows_unavailable == 5 and mem.batches == []
    await asyncio.wait_for(mem.health.wait_state("ok"), 2)  # the writer pings after the backoff
    assert mem.health.outages == 1 and mem.health.snapshot()["failed_attempts"] == 0
    await w.submit_locations(rows("A", 9, 1))
    assert [r.msg_sn for r in await mem.query_locations("A")] == [9]
    await w.close()


async def test_idle_writer_probes_the_store_while_failing(mem: Recording) -> None:
    mem.health.retry_min = 0.01
    pings = []

    async def ping() -> None:
        pings.append(1)
        if len(pings) < 3:
            raise StorageUnavailable("still down")

    mem.ping = ping
    mem.fail_next = 1
    w = BatchWriter(mem, max_rows=4, max_delay=0)
    with pytest.raises(StorageUnavailable):
        await w.submit_locations(rows("A", 0, 1))
    await asyncio.wait_for(mem.health.wait_state("ok"), 2)  # probes after 10, 20, 40 ms
    assert len(pings) == 3
    await w.close()


async def test_backpressure_refuses_past_max_pending(mem: Recording) -> None:
    mem.gate = asyncio.Event()
    w = BatchWriter(mem, max_rows=10, max_delay=0, max_pending=40)
    accepted = [w.submit_locations(rows("A", i * 10, 10)) for i in range(4)]
    assert not w.writable and w.pending_rows == 40
    refused = w.submit_locations(rows("A", 100, 1))
    with pytest.raises(StorageOverloaded):
        await refused
    assert w.rows_refused == 1
    waiter = asyncio.ensure_future(w.wait_writable())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    mem.gate.set()
    await asyncio.wait_for(waiter, 1)
    await asyncio.gather(*accepted)
    assert w.writable
    await w.close()
    assert len(await mem.query_locations("A", limit=1000)) == 40


async def test_empty_submission_resolves_at_once(mem: Recording) -> None:
    w = BatchWriter(mem)
    fut = w.submit_locations([])
    assert fut.done() and fut.result() is None
    await w.close()


async def test_batch_writer_on_real_backends(storage: Storage) -> None:
    w = BatchWriter(storage, max_rows=500, max_delay=0.01)
    futs = [w.submit_locations(rows(f"P{i % 7}", i, 3)) for i in range(300)]
    futs += [w.submit_events([EventRow("P0", 0x0301, T0, {"k": i}, i)]) for i in range(20)]
    await asyncio.gather(*futs)
    await w.close()
    total = sum([len(await storage.query_locations(f"P{i}", limit=10_000)) for i in range(7)])
    assert total == 900
    assert [e.msg_sn for e in await storage.query_events("P0")] == list(range(20))


async def test_failed_write_on_sqlite_sets_exception(tmp_path) -> None:
    from jt808.storage.sqlite import SQLiteStorage

    st = SQLiteStorage(tmp_path / "db.sqlite")
    await st.open()
    w = BatchWriter(st, max_rows=10, max_delay=0)
    bad = rows("A", 0, 1)
    bad[0].latitude = None  # violates NOT NULL
    good_before = w.submit_locations(rows("B", 0, 1))
    await good_before
    fut = w.submit_locations(bad)
    with pytest.raises(RowsRejected) as err:
        await fut
    assert list(err.value.failed) == [0] and err.value.results() == {(0x0200, 0): 2}
    await w.submit_locations(rows("B", 1, 1))
    await w.close()
    assert len(await st.query_locations("B")) == 2
    assert await st.query_locations("A") == []  # the failed transaction was rolled back
    [q] = await st.query_quarantine()
    assert q.phone == "A" and "NOT NULL" in q.error and q.row["latitude"] is None and st.health.ok
    await st.close()


async def test_flush_waits_for_the_batch_in_flight(mem: Recording) -> None:
    mem.gate = asyncio.Event()
    w = BatchWriter(mem, max_rows=2, max_delay=0)
    first = w.submit_locations(rows("A", 0, 2))
    await asyncio.sleep(0.01)  # the first batch is being written (stalled at the gate)
    second = w.submit_locations(rows("A", 2, 2))
    flushing = asyncio.ensure_future(w.flush())
    await asyncio.sleep(0.01)
    assert not flushing.done()
    mem.gate.set()
    await asyncio.wait_for(flushing, 1)
    assert first.done() and second.done()
    await w.close()


async def test_cancelled_writer_fails_every_waiting_future(mem: Recording) -> None:
    mem.gate = asyncio.Event()
    w = BatchWriter(mem, max_rows=2, max_delay=0)
    in_flight = w.submit_locations(rows("A", 0, 2))
    await asyncio.sleep(0.01)
    queued = w.submit_locations(rows("A", 2, 2))
    assert w._task is not None
    w._task.cancel()
    for fut in (in_flight, queued):
        with pytest.raises(StorageClosed):
            await asyncio.wait_for(fut, 1)
    assert w.pending_rows == 0


class InDoubt(Recording):
    """Stores the first batch, then answers as if the connection had died during its COMMIT."""

    def __init__(self, committed: bool) -> None:
        super().__init__()
        self.committed = committed
        self.doubt_once = True
        self.asked: list[str] = []

    async def add_batch(self, locations: list[LocationRow], events: list[EventRow]) -> None:
        if self.doubt_once:
            self.doubt_once = False
            if self.committed:
                await super().add_batch(locations, events)
            raise StorageInDoubt("connection lost during COMMIT", "tx-1")
        await super().add_batch(locations, events)

    async def commit_status(self, token: object) -> bool | None:
        self.asked.append(str(token))
        return self.committed


@pytest.mark.parametrize("committed", [True, False])
async def test_a_write_in_doubt_is_answered_once_the_store_tells(committed: bool) -> None:
    st = InDoubt(committed)
    await st.open()
    st.health.retry_min = 0.01
    w = BatchWriter(st, max_rows=10, max_delay=0)
    first = w.submit_locations(rows("A", 0, 3))
    await asyncio.wait_for(st.health.wait_state("failing"), 1)
    assert not first.done()  # not answered while nobody knows
    # the terminal had no answer: it sends the same reports again, refused while the store is failing
    with pytest.raises(StorageUnavailable):
        await w.submit_locations(rows("A", 0, 3))
    await asyncio.wait_for(st.health.wait_state("ok"), 2)
    assert st.asked == ["tx-1"]
    if committed:
        await first
    else:
        with pytest.raises(StorageUnavailable, match="not stored"):
            await first
    # and sends them again once more, with one new report: stored once in any case
    await w.submit_locations(rows("A", 0, 4))
    await w.close()
    assert [r.msg_sn for r in await st.query_locations("A")] == [0, 1, 2, 3]
    assert w.rows_deduplicated == (3 if committed else 0)
