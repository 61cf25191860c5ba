"""SQLite's write path: rows inserted on the loop's thread, the commit on the writer's thread."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jt808.storage import LocationRow, StorageError
from jt808.storage.sqlite import SQLiteStorage

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)


def row(phone: str, i: int, **kw) -> LocationRow:
    return LocationRow(phone=phone, time=T0 + timedelta(seconds=i), received_at=T0, alarm=0, status=3,
                       latitude=31.5 + i / 1e6, longitude=121.25, altitude=1, speed=60.5, direction=9, msg_sn=i, **kw)


def raw_extras(path: Path) -> list[str | None]:
    with sqlite3.connect(path) as db:
        return [v for (v,) in db.execute("SELECT extras FROM locations ORDER BY id")]


async def test_rendered_json_is_stored_as_given(tmp_path: Path) -> None:
    st = SQLiteStorage(tmp_path / "a.db")
    await st.open()
    try:
        await st.add_locations([row("p", 1, extras={"mileage": 5}, extras_json='{"mileage":5}'),
                                row("p", 2, extras={"rssi": 3}), row("p", 3)])
    finally:
        await st.close()
    assert raw_extras(tmp_path / "a.db") == ['{"mileage":5}', '{"rssi":3}', None]


async def test_failed_batch_rolls_back_and_the_next_one_commits(tmp_path: Path) -> None:
    st = SQLiteStorage(tmp_path / "b.db")
    await st.open()
    try:
        bad = row("p", 2)
        bad.phone = None  # type: ignore[assignment]  # NOT NULL
        with pytest.raises(StorageError):
            await st.add_locations([row("p", 1), bad])
        assert await st.query_locations("p") == []
        await st.add_locations([row("p", 3)])
        assert [r.msg_sn for r in await st.query_locations("p")] == [3]
    finally:
        await st.close()


async def test_cancelled_during_commit_leaves_storage_usable(tmp_path: Path) -> None:
    st = SQLiteStorage(tmp_path / "c.db")
    await st.open()
    try:
        for k in range(5):
            task = asyncio.ensure_future(st.add_locations([row("p", 100 * k + i) for i in range(2000)]))
            await asyncio.sleep(0.001 * k)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await st.add_locations([row("q", k)])  # the connection is idle again, no transaction left open
        n = len(await st.query_locations("p", limit=100_000))
        assert n % 2000 == 0  # whole batches or nothing
        assert [r.msg_sn for r in await st.query_locations("q")] == [0, 1, 2, 3, 4]
    finally:
        await st.close()


async def test_reads_do_not_see_a_batch_before_its_commit(tmp_path: Path) -> None:
    st = SQLiteStorage(tmp_path / "d.db")
    await st.open()
    try:
        _, *seen = await asyncio.gather(st.add_locations([row("p", i) for i in range(3000)]),
                                        *(st.query_locations("p", limit=10_000) for _ in range(5)))
        assert {len(rows) for rows in seen} <= {0, 3000}
        counts = {len(rows) for rows in await asyncio.gather(*(st.query_locations("p", limit=10_000)
                                                               for _ in range(3)))}
        assert counts == {3000}
    finally:
        await st.close()


async def test_waiting_for_another_process_lock_does_not_block_the_loop(tmp_path: Path) -> None:
    st = SQLiteStorage(tmp_path / "e.db")
    await st.open()
    other = sqlite3.connect(tmp_path / "e.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        write = asyncio.ensure_future(st.add_locations([row("p", 1)]))
        await asyncio.sleep(0.3)
        assert not write.done() and ticks >= 10  # the write waits, the loop goes on
        other.execute("COMMIT")
        await asyncio.wait_for(write, 5)
        t.cancel()
        assert [r.msg_sn for r in await st.query_locations("p")] == [1]
    finally:
        other.close()
        await st.close()
