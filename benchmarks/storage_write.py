"""Batched location inserts per second into SQLite and PostgreSQL.

    python3 benchmarks/storage_write.py [--rows 200000] [--batch 1000] [--pg postgresql://postgres@127.0.0.1/test]
    python3 benchmarks/storage_write.py --commit      # latency of one small durable write per backend
    python3 benchmarks/storage_write.py --cpu         # this process's CPU per stored row (the gateway's share)

For each backend it reports two figures:
- ``add_batch``: rows/s of back-to-back ``Storage.add_batch`` calls of ``--batch`` rows each;
- ``BatchWriter``: rows/s through :class:`jt808.storage.batch.BatchWriter` (the gateway's path) when
  submissions of 8 rows arrive as fast as the loop can make them, every future awaited.
Rows carry a typical extras map (mileage, fuel, rssi, satellites). PostgreSQL runs in a throw-away
schema that is dropped afterwards; SQLite in a temporary directory (WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from jt808.storage import LocationRow, Storage
from jt808.storage.batch import BatchWriter
from jt808.storage.postgres import PostgresStorage
from jt808.storage.sqlite import _INSERT_LOCATION, SQLiteStorage, _location_params_many

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def make_rows(n: int, phones: int = 1000) -> list[LocationRow]:
    return [LocationRow(phone=f"0139{i % phones:08d}", time=T0 + timedelta(seconds=i // phones), received_at=T0,
                        alarm=0, status=0x000C0003, latitude=31.2304, longitude=121.4737, altitude=12, speed=61.5,
                        direction=270, msg_sn=i & 0xFFFF,
                        extras={"mileage": 12345 + i, "fuel_meter": 500, "rssi": 25, "gnss_sat_num": 12})
            for i in range(n)]


async def bench_add_batch(st: Storage, rows: list[LocationRow], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        await st.add_batch(rows[i:i + batch], [])
    return len(rows) / (time.perf_counter() - start)


async def bench_writer(st: Storage, rows: list[LocationRow], batch: int) -> float:
    w = BatchWriter(st, max_rows=batch, max_delay=0.01, max_pending=len(rows) + 1)
    start = time.perf_counter()
    futs = []
    for i in range(0, len(rows), 8):
        futs.append(w.submit_locations(rows[i:i + 8]))
        if len(futs) % 256 == 0:
            await asyncio.sleep(0)  # let the writer run, as a gateway's loop would between reads
    await asyncio.gather(*futs)
    elapsed = time.perf_counter() - start
    await w.close()
    return len(rows) / elapsed


async def cpu_per_row(pg: str, batches: int = 200, batch: int = 800, phones: int = 200) -> None:
    """CPU seconds of this process (the writer threads included) per row of ``add_batch``, batches shaped as
    the gateway's under load (800 rows of 200 terminals, JSON text rendered by the producer): the part of a durable
    report's CPU that is the store's, without decoding or acks. PostgreSQL's own CPU is not counted."""
    rows = make_rows(batches * batch, phones)
    for r in rows:  # the gateway's rows carry their JSON text (rendered from the item layout)
        r.extras_json = json.dumps(r.extras, separators=(",", ":"), ensure_ascii=False)

    async def each(st: Storage) -> float:
        await st.add_batch(rows[:batch], [])  # warm: statements prepared, pages cached
        c = time.process_time()
        for i in range(batch, len(rows), batch):
            await st.add_batch(rows[i:i + batch], [])
        return 1e6 * (time.process_time() - c) / (len(rows) - batch)

    with tempfile.TemporaryDirectory() as tmp:
        st = SQLiteStorage(Path(tmp) / "cpu.db")
        await st.open()
        print(f"{'sqlite (synchronous=NORMAL)':32} {await each(st):.2f} µs CPU per row (parameters, insert, commit)")
        await st.close()
    for index in (True, False):
        print(f"{'sqlite3 alone, ' + ('' if index else 'no ') + 'index':32} {sqlite_alone(rows, batch, index):.2f} µs "
              "CPU per row (executemany of ready parameters + commit; the (phone, t) index)")
    async with private_schema(pg) as st:
        print(f"{'postgresql (COPY)':32} {await each(st):.2f} µs CPU per row (records and COPY, client side)")


def sqlite_alone(rows: list[LocationRow], batch: int, index: bool) -> float:
    """SQLite's own share of a stored row: the store's schema and settings, its insert statement, parameters
    built beforehand, one transaction per batch on this thread (CPU of this process per row). With the
    ``(phone, t)`` index, as the store has it, this is the floor of any gateway that keeps rows in SQLite."""
    params = _location_params_many(rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStorage(Path(tmp) / "alone.db")  # not opened: its connection settings and schema only
        db = store._connect()
        store._setup_writer(db)
        if not index:
            db.execute("DROP INDEX locations_phone_t")
        db.execute("BEGIN")
        db.executemany(_INSERT_LOCATION, params[:batch])  # warm
        db.execute("COMMIT")
        c = time.process_time()
        for i in range(batch, len(params), batch):
            db.execute("BEGIN")
            db.executemany(_INSERT_LOCATION, params[i:i + batch])
            db.execute("COMMIT")
        spent = time.process_time() - c
        db.close()
    return 1e6 * spent / (len(params) - batch)


@contextlib.asynccontextmanager
async def private_schema(pg: str) -> AsyncIterator[PostgresStorage]:
    """An open PostgresStorage in a schema of its own, dropped afterwards."""
    schema = f"jt808_bench_{uuid.uuid4().hex[:8]}"
    st = PostgresStorage(pg, schema=schema)
    await st.open()
    try:
        yield st
    finally:
        await st.close()
        con = await asyncpg.connect(pg)
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await con.close()


async def commit_latency(pg: str, n: int = 300) -> None:
    """What a durable ack waits for at least, below saturation: one ``add_batch`` of one row at a time (a
    transaction and its commit: PostgreSQL's WAL flush, SQLite's WAL write), and a PostgreSQL ``SELECT 1``
    round trip beside it."""
    rows = make_rows(n)

    async def each(st: Storage) -> str:
        lat = []
        for r in rows:
            t = time.perf_counter()
            await st.add_batch([r], [])
            lat.append(time.perf_counter() - t)
        lat.sort()
        return f"p50 {1e3 * lat[n // 2]:.2f} ms  p90 {1e3 * lat[n * 9 // 10]:.2f} ms"

    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("NORMAL", "FULL"):
            st = SQLiteStorage(Path(tmp) / f"commit-{sync}.db", synchronous=sync)
            await st.open()
            print(f"{'sqlite (synchronous=' + sync + ')':32} one-row write {await each(st)}")
            await st.close()
    async with private_schema(pg) as st:
        con = await asyncpg.connect(pg)
        settings = [await con.fetchval(f"SHOW {k}") for k in ("fsync", "synchronous_commit", "wal_sync_method")]
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            await con.fetchval("SELECT 1")
            lat.append(time.perf_counter() - t)
        lat.sort()
        print(f"{'postgresql':32} one-row write {await each(st)}  (SELECT 1: p50 {1e3 * lat[n // 2]:.2f} ms; "
              f"fsync={settings[0]}, synchronous_commit={settings[1]}, wal_sync_method={settings[2]})")
        await con.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--commit", action="store_true", help="only the latency of one small durable write")
    ap.add_argument("--cpu", action="store_true", help="only this process's CPU per row of add_batch")
    args = ap.parse_args()
    if args.commit or args.cpu:
        print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
        await (commit_latency(args.pg) if args.commit else cpu_per_row(args.pg))
        return
    rows = make_rows(args.rows)
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {args.rows} rows, batch {args.batch}, "
          f"load average {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        for name, sync in (("sqlite (synchronous=NORMAL)", "NORMAL"), ("sqlite (synchronous=FULL)", "FULL")):
            st = SQLiteStorage(Path(tmp) / f"bench-{sync}.db", synchronous=sync)
            await st.open()
            a = await bench_add_batch(st, rows, args.batch)
            b = await bench_writer(st, rows, args.batch)
            await st.close()
            print(f"{name:32} add_batch {a:10,.0f} rows/s   BatchWriter {b:10,.0f} rows/s")

    schema = f"jt808_bench_{uuid.uuid4().hex[:8]}"
    st = PostgresStorage(args.pg, schema=schema)
    await st.open()
    try:
        a = await bench_add_batch(st, rows, args.batch)
        b = await bench_writer(st, rows, args.batch)
        print(f"{'postgresql (COPY)':32} add_batch {a:10,.0f} rows/s   BatchWriter {b:10,.0f} rows/s")
    finally:
        await st.close()
        con = await asyncpg.connect(args.pg)
        await con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await con.close()


if __name__ == "__main__":
    asyncio.run(main())
