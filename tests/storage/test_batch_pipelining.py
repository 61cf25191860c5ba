"""BatchWriter pipelining: rows that arrive while a batch commits are written right after it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from jt808.storage import EventRow, LocationRow
from jt808.storage.batch import BatchWriter
from jt808.storage.memory import MemoryStorage

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def rows(n: int, first: int = 0) -> list[LocationRow]:
    return [LocationRow(phone="A", time=T0, received_at=T0, alarm=0, status=0, latitude=1.0, longitude=2.0,
                        altitude=0, speed=0.0, direction=0, msg_sn=first + i) for i in range(n)]


class Gated(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.batches: list[int] = []

    async def add_batch(self, locations: list[LocationRow], events: list[EventRow]) -> None:
        await self.gate.wait()
        self.batches.append(len(locations))
        await super().add_batch(locations, events)


async def test_rows_queued_during_a_commit_follow_it_without_waiting_their_age() -> None:
    st = Gated()
    await st.open()
    w = BatchWriter(st, max_rows=1000, max_delay=5.0)
    first = w.submit_locations(rows(3))
    await asyncio.sleep(0)
    w._flush_now = True  # the first batch goes now (as if its age had come) and stalls in add_batch
    w._wakeup.set()
    await asyncio.sleep(0.01)
    assert st.batches == []
    later = [w.submit_locations(rows(2, 10 + 2 * i)) for i in range(4)]  # arrive during the commit
    st.gate.set()
    await asyncio.wait_for(first, 1)
    await asyncio.wait_for(asyncio.gather(*later), 1)  # far sooner than their max_delay of 5 s
    assert st.batches == [3, 8]
    assert [r.msg_sn for r in await st.query_locations("A", limit=100)] == [0, 1, 2, *range(10, 18)]
    await w.close()


async def test_rows_left_over_by_a_full_batch_still_wait_for_count_or_age() -> None:
    st = Gated()
    st.gate.set()
    await st.open()
    w = BatchWriter(st, max_rows=10, max_delay=5.0)
    futs = [w.submit_locations(rows(4, 4 * i)) for i in range(4)]  # 16 rows before any write
    await asyncio.wait_for(asyncio.gather(*futs[:3]), 1)
    await asyncio.sleep(0.05)
    assert st.batches == [12]  # whole submissions up to max_rows; the last 4 rows wait (few and young)
    assert not futs[3].done()
    await w.close()
    assert st.batches == [12, 4]
